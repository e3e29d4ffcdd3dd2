"""Recursive-descent parser of the population filter language (grammar in the README, "Custom populations").

    filter     := or_expr end
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | condition
    condition  := column op value | column ["not"] "in" "(" value ("," value)* ")" | column ["not"] "contains" value
    column     := word | [bracketed name] | quoted string
    value      := string | number | word

A bare word on the right of a comparison is a string (``Type in (Customer)``, ``Region = EMEA``).
"""

from __future__ import annotations

from cleanroom.errors import FilterError
from cleanroom.popfilter.lexer import Token, tokenize
from cleanroom.popfilter.nodes import And, Compare, In, Node, Not, Or, Value

MAX_DEPTH = 50  # nested parentheses and "not"s: deep enough for people, short of Python's recursion limit


class _Parser:
    def __init__(self, tokens: list[Token], where: str) -> None:
        self._tokens = tokens
        self._i = 0
        self._where = where
        self._depth = 0

    def _peek(self) -> Token:
        return self._tokens[self._i]

    def _next(self) -> Token:
        token = self._tokens[self._i]
        if token.kind != "end":
            self._i += 1
        return token

    def fail(self, token: Token, what: str) -> FilterError:
        found = (
            "the end of the filter" if token.kind == "end" else repr(token.text if token.kind != "string" else f'"{token.text}"')
        )
        return FilterError(f"{self._where}: position {token.at}: expected {what}, found {found}")

    def parse(self) -> Node:
        node = self._or()
        if self._peek().kind != "end":
            raise self.fail(self._peek(), "'and', 'or' or the end of the filter")
        return node

    def _or(self) -> Node:
        node = self._and()
        while self._peek().keyword() == "or":
            self._next()
            node = Or(node, self._and())
        return node

    def _and(self) -> Node:
        node = self._not()
        while self._peek().keyword() == "and":
            self._next()
            node = And(node, self._not())
        return node

    def _not(self) -> Node:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FilterError(f"{self._where}: position {self._peek().at}: nested more than {MAX_DEPTH} levels deep")
        try:
            token = self._peek()
            if token.keyword() == "not":
                self._next()
                return Not(self._not())
            if token.kind == "(":
                self._next()
                node = self._or()
                if self._peek().kind != ")":
                    raise self.fail(self._peek(), "')' to close the '(' at position " + str(token.at))
                self._next()
                return node
            return self._condition()
        finally:
            self._depth -= 1

    def _condition(self) -> Node:
        token = self._next()
        if token.kind not in ("word", "column", "string") or token.keyword() is not None:
            raise self.fail(token, "a column name (in [brackets] when it has spaces)")
        column, at = token.text, token.at
        negated = False
        if self._peek().keyword() == "not":
            negated = True
            self._next()
        op = self._next()
        if op.keyword() == "in":
            return In(column, self._list(), negated, at)
        if op.keyword() == "contains":
            node: Node = Compare(column, "contains", self._string(), at)
            return Not(node) if negated else node
        if negated or op.kind != "op":
            raise self.fail(op, "'in', 'contains'" + ("" if negated else " or a comparison (= != < <= > >=)"))
        value = self._value()
        if op.text in ("<", "<=", ">", ">=") and not isinstance(value, float):
            raise FilterError(
                f"{self._where}: position {op.at}: column {column!r}: {op.text} compares numbers, but {value!r} is not a number"
            )
        return Compare(column, op.text, value, at)

    def _value(self) -> Value:
        token = self._next()
        if token.kind == "number":
            return float(token.text)
        if token.kind == "string" or (token.kind == "word" and token.keyword() is None):
            return token.text
        raise self.fail(token, "a value (a number, or a string in quotes)")

    def _string(self) -> str:
        token = self._next()
        if token.kind in ("string", "number") or (token.kind == "word" and token.keyword() is None):
            return token.text
        raise self.fail(token, "the text to look for (in quotes)")

    def _list(self) -> tuple[Value, ...]:
        opening = self._next()
        if opening.kind != "(":
            raise self.fail(opening, "'(' and a list of values")
        values = [self._value()]
        while self._peek().kind == ",":
            self._next()
            values.append(self._value())
        if self._peek().kind != ")":
            raise self.fail(self._peek(), "',' or ')' to close the list")
        self._next()
        return tuple(values)


def parse_filter(text: str, where: str) -> Node:
    """The syntax tree of ``text``; FilterError naming ``where`` (e.g. "population 'emea'") and the position."""
    node = _Parser(tokenize(text, where), where).parse()
    return node
