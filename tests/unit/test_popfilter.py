"""The population filter language: random expressions against an evaluator written here, malformed input.

The expected value of every generated expression is computed by ``_expected`` below, over the test's own
tree of tuples, then the tree is written out as text for the code under test to parse: nothing expected
comes from cleanroom.popfilter.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanroom.errors import FilterError
from cleanroom.popfilter import Population

HEADER = ["Type", "Billing Region", "Employees", "Annual Revenue"]
STRING_COLUMNS = ["Type", "Billing Region"]
NUMBER_COLUMNS = ["Employees", "Annual Revenue"]
WORDS = ["Customer", "Prospect", "EMEA", "north america", "Don't", 'say "hi"', "apac", ""]
DQ = '"'
KEYWORDS = ("and", "or", "not", "in", "contains")


def _number(text: str) -> int | None:
    return int(text.replace(",", "")) if text.strip() else None


def _expected(node: tuple[Any, ...], row: dict[str, str]) -> bool:
    kind = node[0]
    if kind == "and":
        return _expected(node[1], row) and _expected(node[2], row)
    if kind == "or":
        return _expected(node[1], row) or _expected(node[2], row)
    if kind == "not":
        return not _expected(node[1], row)
    _, column, op, value = node
    cell = row[column]
    if op == "contains":
        return value.strip().lower() in cell.lower()
    if op in ("in", "not in"):
        hit = any(_equal(cell, v) for v in value)
        return hit if op == "in" else not hit
    if op in ("=", "!="):
        return _equal(cell, value) == (op == "=")
    n = _number(cell)
    if n is None:
        return False
    return {"<": n < value, "<=": n <= value, ">": n > value, ">=": n >= value}[op]


def _equal(cell: str, value: str | int) -> bool:
    if isinstance(value, int):
        return _number(cell) == value
    return cell.strip().lower() == value.strip().lower()


def _quote(value: str, quote: str) -> str:
    return quote + value.replace(quote, quote * 2) + quote


def _column_text(column: str, draw: Any) -> str:
    shown = draw(st.sampled_from([column, column.upper(), column.lower(), f" {column} "]))
    return f"[{shown}]" if " " in column or draw(st.booleans()) else shown


def _value_text(value: str | int, draw: Any) -> str:
    if isinstance(value, int):
        return str(value)
    bare = value.isidentifier() and value.lower() not in KEYWORDS
    if bare and draw(st.booleans()):
        return value
    return _quote(value, draw(st.sampled_from(['"', "'"])))


@st.composite
def _leaf(draw: Any) -> tuple[tuple[Any, ...], str]:
    if draw(st.booleans()):
        column = draw(st.sampled_from(NUMBER_COLUMNS))
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        value: Any = draw(st.integers(-5, 3000))
        spelled = "<>" if op == "!=" and draw(st.booleans()) else op
        return ("cmp", column, op, value), f"{_column_text(column, draw)} {spelled} {value}"
    column = draw(st.sampled_from(STRING_COLUMNS))
    op = draw(st.sampled_from(["=", "!=", "in", "not in", "contains"]))
    if op in ("in", "not in"):
        values = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
        listed = ", ".join(_value_text(v, draw) for v in values)
        keyword = draw(st.sampled_from([op, op.upper()]))
        return ("cmp", column, op, tuple(values)), f"{_column_text(column, draw)} {keyword} ({listed})"
    value = draw(st.sampled_from([w for w in WORDS if w] if op == "contains" else WORDS))
    if op == "contains":
        return ("cmp", column, op, value), f"{_column_text(column, draw)} contains {_quote(value, DQ)}"
    return ("cmp", column, op, value), f"{_column_text(column, draw)} {op} {_value_text(value, draw)}"


@st.composite
def _expression(draw: Any, depth: int = 0) -> tuple[tuple[Any, ...], str]:
    kind = draw(st.sampled_from(["leaf", "leaf", "and", "or", "not"])) if depth < 4 else "leaf"
    if kind == "leaf":
        return draw(_leaf())
    if kind == "not":
        inner, text = draw(_expression(depth + 1))
        return ("not", inner), f"{draw(st.sampled_from(['not', 'NOT']))} ({text})"
    (left, ltext), (right, rtext) = draw(_expression(depth + 1)), draw(_expression(depth + 1))
    # Parenthesised operands: the tree's grouping, whatever the precedence of and over or.
    return (kind, left, right), f"({ltext}) {draw(st.sampled_from([kind, kind.upper()]))} ({rtext})"


@st.composite
def _row(draw: Any) -> dict[str, str]:
    row = {c: draw(st.sampled_from([*WORDS, "  Customer ", "EMEA Central"])) for c in STRING_COLUMNS}
    for c in NUMBER_COLUMNS:
        n = draw(st.integers(-10, 5000))
        row[c] = draw(st.sampled_from(["", str(n), f"{n:,}", f" {n} "]))
    return row


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_expression(), st.lists(_row(), min_size=1, max_size=8))
def test_random_expressions_evaluate_as_an_independent_evaluator(expression: tuple[Any, str], rows: list[dict[str, str]]) -> None:
    tree, text = expression
    predicate = Population.parse("random", text).bind(HEADER)
    for number, row in enumerate(rows, start=1):
        assert predicate([row[c] for c in HEADER], number) == _expected(tree, row), (text, row)


def test_and_binds_tighter_than_or() -> None:
    predicate = Population.parse("p", "Type = a or Type = b and Employees > 5").bind(HEADER)
    # a or (b and >5): an "a" row with 1 employee is in; (a or b) and >5 would leave it out.
    assert predicate(["a", "", "1", ""], 1) is True
    assert predicate(["b", "", "1", ""], 2) is False


FRAGMENTS = [
    "Type",
    "[Billing Region]",
    "Employees",
    "=",
    "!=",
    "<",
    ">=",
    "in",
    "not",
    "and",
    "or",
    "contains",
    "(",
    ")",
    ",",
    '"EMEA"',
    "'x'",
    "1000",
    "-2.5",
    '"',
    "[",
    "]",
    "1e",
    "@",
    "é",
    " ",
]


@settings(max_examples=600)
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(FRAGMENTS), max_size=14).map(" ".join)))
def test_malformed_input_raises_only_our_error(text: str) -> None:
    try:
        Population.parse("p", text).bind(HEADER)(["Customer", "EMEA", "12", "x"], 1)
    except FilterError as exc:
        assert "population 'p'" in str(exc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('Employees >= "abc"', "population 'p': position 11: column 'Employees': >= compares numbers, but 'abc' is not a number"),
        ("Type in (Customer", "position 18: expected ',' or ')' to close the list, found the end of the filter"),
        ("(Type = a", "position 10: expected ')' to close the '(' at position 1"),
        ("Type == a", "position 7: expected a value"),
        ("Region = 'open", "position 10: the string opened here is not closed"),
        ("Type = a Region = b", "position 10: expected 'and', 'or' or the end of the filter, found 'Region'"),
        ("Type ~ a", "position 6: unexpected character '~'"),
        ("not" * 1 + " (" * 60 + "Type = a" + ")" * 60, "nested more than 50 levels deep"),
        ("x" * 2001, "over the limit of 2,000"),
    ],
)
def test_parse_errors_name_the_population_and_the_position(text: str, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        Population.parse("p", text)
    assert message in str(caught.value)


def test_a_missing_column_is_named_before_any_row() -> None:
    with pytest.raises(FilterError, match=r"population 'icp': position 14: column 'Headcount' is not in the file"):
        Population.parse("icp", "Type = a and Headcount > 5").bind(HEADER)


def test_a_number_column_holding_text_names_column_and_row() -> None:
    predicate = Population.parse("big", "Employees >= 1000").bind(HEADER)
    assert predicate(["", "", "1,500", ""], 1) is True
    with pytest.raises(
        FilterError, match=r"population 'big': column 'Employees' is compared with a number, but row 2 holds 'many'"
    ):
        predicate(["", "", "many", ""], 2)


def test_columns_are_case_insensitive_and_bracketed_names_keep_spaces() -> None:
    predicate = Population.parse("p", "[billing region] = emea and TYPE not in (prospect)").bind(HEADER)
    assert predicate(["Customer", "EMEA", "", ""], 1) is True
    assert predicate(["Prospect", "EMEA", "", ""], 2) is False


def test_a_type_mismatch_does_not_depend_on_another_clause_of_the_row() -> None:
    # Another party's filter runs on our rows, and a type mismatch stops our map (the run then waits for us).
    # If `and` / `or` skipped their right side, `Website = "target.com" and [Account Name] > 0` would stop it
    # only when we have target.com: the stall would tell the filter's author. Both sides are evaluated.
    header = ["Website", "Account Name"]
    for text in ('Website = "target.com" and [Account Name] > 0', 'Website != "target.com" or [Account Name] > 0'):
        predicate = Population.parse("icp", text).bind(header)
        with pytest.raises(FilterError, match="column 'Account Name' is compared with a number, but row 1"):
            predicate(["other.com", "Globex"], 1)  # a row that is not the target's fails as the target's would
