"""CEL guards and scores, compiled once at load time and evaluated with only the names they read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import cel

from .source import line_column

# Functions this CEL runtime provides; anything else fails at run time, so the loader rejects it up front.
KNOWN_FUNCTIONS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string",
        "bytes", "timestamp", "duration", "type", "dyn", "getFullYear", "getMonth", "getDate",
        "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getHours", "getMinutes", "getSeconds",
        "getMilliseconds",
    }
)  # fmt: skip
# A condition is a line or two. The CEL library's own stack gives out on an expression of some 50,000 characters
# (a chain of 12,000 additions), taking the process with it; 16,000 of every shape tried compile and run, the
# bound for one stored before this one was set.
MAX_CHARACTERS, STORED_CHARACTERS = 4000, 16_000
_ERROR = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")
_MACROS = ("map", "filter", "all", "exists", "exists_one")  # the list macros: each binds a name of its own
_BOUND = re.compile(rf"\.\s*(?:{'|'.join(_MACROS)})\s*\(\s*([A-Za-z_]\w*)\s*,")


class Bindings(Protocol):
    """Where an expression looks up the names it reads."""

    def __getitem__(self, name: str, /) -> Any: ...


class ExpressionSyntaxError(ValueError):
    """An expression that does not compile, with the position inside the expression (1-based)."""

    def __init__(self, line: int, column: int, message: str) -> None:
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{line}:{column}: {message}")


@dataclass(frozen=True, eq=False)
class Expression:
    source: str
    program: Any  # cel.Program
    names: tuple[str, ...]  # the top-level names it reads (facts, scores, `now`, `states`)
    functions: tuple[str, ...]  # named functions it calls, operators left out

    @classmethod
    def compile(cls, source: str, stored: bool = False) -> Expression:
        """`stored`: of a definition the registry holds (loader.load_definition), held to the bounds that keep
        the process up, not to those tightened since."""
        most = STORED_CHARACTERS if stored else MAX_CHARACTERS
        if len(source) > most:
            raise ExpressionSyntaxError(1, 1, f"the expression has {len(source):,} characters; one may have at most "
                                        f"{most:,} (split it: a score can hold a part)")  # fmt: skip
        try:
            program = cel.compile(source)
        except ValueError as error:
            raise _syntax_error(str(error)) from None
        costly = None if stored else _costly(source)
        if costly is not None:
            raise costly
        bound = set(_BOUND.findall(source))
        names = tuple(name for name in program.variables() if name not in bound)
        functions = tuple(f for f in program.functions() if f[0].isalpha())
        return cls(source, program, names, functions)

    def evaluate(self, bindings: Bindings) -> Any:
        """Run with the given names; the caller makes sure every name in `names` is bound."""
        return self.program.execute({name: bindings[name] for name in self.names})


def _costly(source: str) -> ExpressionSyntaxError | None:
    """A list macro, or a list written out, inside a list macro's arguments: it runs once for every element of
    the outer list, and a few levels of it keep the process busy for minutes (the CEL library does not let go
    of the interpreter while it runs, so every other call waits). Strings are skipped."""
    open_macros: list[bool] = []  # per open bracket: is it a macro's argument list?
    at = 0
    while at < len(source):
        char = source[at]
        if char in "'\"":
            at = _string_end(source, at)
            continue
        if char in "([{":
            macro = char == "(" and _called(source, at) in _MACROS
            if any(open_macros) and (macro or char == "["):
                line, column = line_column(source, at)
                what = "a list macro" if macro else "a list written out"
                return ExpressionSyntaxError(line, column, f"{what} inside {', '.join(_MACROS)} runs once for every "
                                             "element of the outer list: write the steps one after the other, or "
                                             "compare with == and ||")  # fmt: skip
            open_macros.append(macro)
        elif char in ")]}" and open_macros:
            open_macros.pop()
        at += 1
    return None


def _called(source: str, bracket: int) -> str:
    """The name of the method whose argument list opens at `bracket` (`.map(`), or ''."""
    end = bracket
    while end and source[end - 1].isspace():
        end -= 1
    start = end
    while start and (source[start - 1].isalnum() or source[start - 1] == "_"):
        start -= 1
    dot = start
    while dot and source[dot - 1].isspace():
        dot -= 1
    return source[start:end] if dot and source[dot - 1] == "." else ""


def _string_end(source: str, start: int) -> int:
    """Just past the string literal that opens at `start` (quoted, or triple-quoted; raw when prefixed r)."""
    quote = source[start] * (3 if source.startswith(source[start] * 3, start) else 1)
    raw = start > 0 and source[start - 1] in "rR"
    at = start + len(quote)
    while at < len(source):
        if source[at] == "\\" and not raw:
            at += 2
        elif source.startswith(quote, at):
            return at + len(quote)
        else:
            at += 1
    return len(source)


def _syntax_error(text: str) -> ExpressionSyntaxError:
    match = _ERROR.search(text)
    if not match:
        return ExpressionSyntaxError(1, 1, text)
    line, column, detail = int(match[1]), int(match[2]), match[3]
    return ExpressionSyntaxError(line, column, _plain(detail))


def _plain(detail: str) -> str:
    """Turn the parser's wording into something a consultant can act on."""
    detail = detail.removeprefix("Syntax error: ")
    if detail.startswith("mismatched input '<EOF>'"):
        return "syntax error: the expression ends too early"
    if match := re.match(r"(?:extraneous|mismatched) input '(.*?)'", detail):
        return f"syntax error: unexpected {match[1]!r} here"
    if match := re.match(r"token recognition error at: '(.*)'", detail):
        return f"syntax error: cannot read {match[1]!r} (an unclosed quote?)"
    if match := re.search(r'msg: "([^"]*)"', detail):  # the parser's own record of the error: its words only
        detail = match[1]
    if detail.startswith("Recursion limit"):
        return "syntax error: the expression nests too deeply (brackets inside brackets); split it up"
    return f"syntax error: {detail}"
