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
    def compile(cls, source: str, stored: bool = False, lists: frozenset[str] = frozenset()) -> Expression:
        """`stored`: of a definition the registry holds (loader.load_definition), held to the bounds that keep
        the process up, not to those tightened since. `lists`: the names that hold lists (string_list facts)."""
        most = STORED_CHARACTERS if stored else MAX_CHARACTERS
        if len(source) > most:
            raise ExpressionSyntaxError(1, 1, f"the expression has {len(source):,} characters; one may have at most "
                                        f"{most:,} (split it: a score can hold a part)")  # fmt: skip
        try:
            program = cel.compile(source)
        except ValueError as error:
            raise _syntax_error(str(error)) from None
        costly = None if stored else _costly(source, lists)
        if costly is not None:
            raise costly
        bound = set(_BOUND.findall(source))
        names = tuple(name for name in program.variables() if name not in bound)
        functions = tuple(f for f in program.functions() if f[0].isalpha())
        return cls(source, program, names, functions)

    def evaluate(self, bindings: Bindings) -> Any:
        """Run with the given names; the caller makes sure every name in `names` is bound."""
        return self.program.execute({name: bindings[name] for name in self.names})


MAX_MACROS = 4  # a map or filter over 1,000 items takes the CEL library some 60 ms: it copies what it has built


def _costly(source: str, lists: frozenset[str]) -> ExpressionSyntaxError | None:
    """What keeps the process busy for seconds or minutes on a customer with long lists (the CEL library does
    not let go of the interpreter while it runs, so every other call waits):
    - inside a list macro's arguments, which run once for every element: another list macro or a list written
      out (a few levels of them over 16 numbers took 50 s), or a list fact used other than as `x in list` or
      `size(list)` (`tags.map(t, tags)` over 1,000 tags took 67 s);
    - a list fact joined with `+`, which copies it (400 times `tags +` over 1,000 tags took 5 s);
    - more than MAX_MACROS list macros.
    Strings are skipped."""
    open_macros: list[tuple[str, str]] = []  # per open bracket: the macro whose arguments it holds and the name
    at, macros = 0, 0  # it binds, or two empty strings
    while at < len(source):
        char = source[at]
        if char in "'\"":
            at = _string_end(source, at)
            continue
        macro, bound = next((m for m in reversed(open_macros) if m[0]), ("", ""))  # the innermost around here
        if char in "([{":
            called = _called(source, at) if char == "(" else ""
            if macro and (called in _MACROS or char == "["):
                what = "a list macro" if called in _MACROS else "a list written out"
                return _costly_error(source, at, f"{what} inside {', '.join(_MACROS)} runs once for every element "
                                     "of the outer list: write the steps one after the other, or compare with == "
                                     "and ||")  # fmt: skip
            macros += called in _MACROS
            if macros > MAX_MACROS:
                return _costly_error(source, at, f"an expression may go through lists with {', '.join(_MACROS)} "
                                     f"at most {MAX_MACROS} times: split it (a score can hold a part)")  # fmt: skip
            binds = _FIRST_NAME.match(source, at + 1)
            open_macros.append((called, binds[1] if binds else "") if called in _MACROS else ("", ""))
        elif char in ")]}" and open_macros:
            open_macros.pop()
        elif (name := _NAME.match(source, at)) and not _follows_name_or_dot(source, at):
            if name[0] in lists and name[0] != bound:
                problem = _list_problem(source, at, name[0], macro)
                if problem:
                    return _costly_error(source, at, problem)
            at = name.end()
            continue
        at += 1
    return None


def _list_problem(source: str, at: int, name: str, macro: str) -> str | None:
    before, after = source[:at].rstrip(), source[at + len(name) :].lstrip()
    if before.endswith("+") or after.startswith("+"):
        return (f"joining the list {name!r} with + copies it, and long lists keep the service busy: count with "
                f"size({name}) + size(…), or look up with x in {name} || x in …")  # fmt: skip
    cheap = (re.search(r"(?<![\w.])in$", before) or (re.search(r"(?<![\w.])size\s*\($", before) and after[:1] == ")")
             or re.match(r"\.\s*size\s*\(\s*\)", after))  # fmt: skip
    if macro and not cheap:
        return (f"the list {name!r} inside {macro} is gone through once for every element of the outer list: use "
                f"it there only as x in {name} or size({name})")  # fmt: skip
    return None


_NAME, _FIRST_NAME = re.compile(r"[A-Za-z_]\w*"), re.compile(r"\s*([A-Za-z_]\w*)")


def _costly_error(source: str, at: int, message: str) -> ExpressionSyntaxError:
    line, column = line_column(source, at)
    return ExpressionSyntaxError(line, column, message)


def _follows_name_or_dot(source: str, at: int) -> bool:
    """Whether `at` is inside a name or number, or after a dot: not a name of its own."""
    before = source[:at].rstrip()
    return (at > 0 and (source[at - 1].isalnum() or source[at - 1] == "_")) or before.endswith(".")


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
