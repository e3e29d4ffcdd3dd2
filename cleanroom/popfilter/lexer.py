"""Tokens of the population filter language, read by hand (no eval, no regex over the whole text).

Tokens: ``(`` ``)`` ``,``; operators ``= != <> < <= > >=``; strings in double or single quotes (a quote
doubled inside stands for itself); numbers (``1000``, ``-2.5``, ``1e6``); bare words (letters, digits,
``_`` and ``.``: column names, keywords and unquoted values); column names with spaces in brackets
(``[Annual Revenue]``). Positions are 1-based characters, for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from cleanroom.errors import FilterError

MAX_FILTER_LENGTH = 2000  # a filter is a line a person writes; travels in terms when it defines a partner's population
KEYWORDS = ("and", "or", "not", "in", "contains")
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")


@dataclass(frozen=True)
class Token:
    kind: str  # "(" ")" "," "op" "string" "number" "word" "column" "end"
    text: str  # the operator, the string's value, the number's text, the word, the bracketed name
    at: int  # 1-based position of its first character

    def keyword(self) -> str | None:
        """The keyword this bare word is (case-insensitive), if it is one."""
        lowered = self.text.casefold()
        return lowered if self.kind == "word" and lowered in KEYWORDS else None


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_."


def _number_end(text: str, i: int) -> int | None:
    """Where a number starting at ``i`` ends, or None when none starts there: [-]digits[.digits][e[+-]digits]."""
    j = i + 1 if text[i] == "-" else i
    start = j
    while j < len(text) and text[j].isascii() and text[j].isdigit():
        j += 1
    if j < len(text) and text[j] == "." and j + 1 < len(text) and text[j + 1].isascii() and text[j + 1].isdigit():
        j += 1
        while j < len(text) and text[j].isascii() and text[j].isdigit():
            j += 1
    if j == start:
        return None
    if j < len(text) and text[j] in "eE":
        k = j + 1 + (1 if j + 1 < len(text) and text[j + 1] in "+-" else 0)
        if k < len(text) and text[k].isascii() and text[k].isdigit():
            j = k
            while j < len(text) and text[j].isascii() and text[j].isdigit():
                j += 1
    if j < len(text) and _word_char(text[j]):  # "1000abc" is not a number followed by a word
        return None
    return j


def _quoted(text: str, i: int, where: str) -> tuple[str, int]:
    """The string starting with the quote at ``i`` and the index after its closing quote."""
    quote, j, out = text[i], i + 1, []
    while j < len(text):
        if text[j] == quote:
            if j + 1 < len(text) and text[j + 1] == quote:  # a doubled quote stands for itself
                out.append(quote)
                j += 2
                continue
            return "".join(out), j + 1
        out.append(text[j])
        j += 1
    raise FilterError(f"{where}: position {i + 1}: the string opened here is not closed (add a closing {quote})")


def tokenize(text: str, where: str) -> list[Token]:
    """The tokens of ``text``, ending with an "end" token; FilterError naming ``where`` and the position."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"{where}: the filter is {len(text):,} characters, over the limit of {MAX_FILTER_LENGTH:,}")
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(Token(ch, ch, i + 1))
            i += 1
        elif ch in "\"'":
            value, end = _quoted(text, i, where)
            tokens.append(Token("string", value, i + 1))
            i = end
        elif ch == "[":
            close = text.find("]", i + 1)
            if close < 0:
                raise FilterError(f"{where}: position {i + 1}: the column name opened with [ is not closed (add ])")
            name = text[i + 1 : close].strip()
            if not name:
                raise FilterError(f"{where}: position {i + 1}: empty column name in brackets")
            tokens.append(Token("column", name, i + 1))
            i = close + 1
        elif (op := next((o for o in _OPERATORS if text.startswith(o, i)), None)) is not None:
            tokens.append(Token("op", "!=" if op == "<>" else op, i + 1))
            i += len(op)
        elif (stop := _number_end(text, i) if ch == "-" or (ch.isascii() and ch.isdigit()) else None) is not None:
            tokens.append(Token("number", text[i:stop], i + 1))
            i = stop
        elif _word_char(ch):
            j = i
            while j < len(text) and _word_char(text[j]):
                j += 1
            tokens.append(Token("word", text[i:j], i + 1))
            i = j
        else:
            raise FilterError(f"{where}: position {i + 1}: unexpected character {ch!r}")
    tokens.append(Token("end", "", len(text) + 1))
    return tokens
