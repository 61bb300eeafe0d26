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
# The list macros, each binding a name of its own (the runtime also takes existsOne for exists_one).
_MACROS = ("map", "filter", "all", "exists", "exists_one", "existsOne")
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
        code = _code(source)
        costly = None if stored else _costly(source, code, lists)
        if costly is not None:
            raise costly
        bound = set(_BOUND.findall(code))
        names = tuple(name for name in program.variables() if name not in bound)
        functions = tuple(f for f in program.functions() if f[0].isalpha())
        return cls(source, program, names, functions)

    def evaluate(self, bindings: Bindings) -> Any:
        """Run with the given names; the caller makes sure every name in `names` is bound."""
        return self.program.execute({name: bindings[name] for name in self.names})


# What one condition may ask of the CEL library, which holds the interpreter while it runs (every other call
# waits) and copies what it builds: over a customer's longest facts (1,000 texts of 4,096 characters), one map
# or filter takes some 220 ms, one `in` inside a macro 60 ms, one regular expression up to 100 ms to compile.
MAX_MACROS, MAX_LOOKUPS_IN_MACROS, MAX_MATCHES, MAX_PLUS = 2, 2, 2, 100
_TOKEN = re.compile(r"[A-Za-z_]\w*|0[xX]\w+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\w*|\S")  # names, numbers (1e+3), signs


@dataclass(frozen=True)
class _Token:
    text: str
    at: int


def _costly(source: str, code: str, lists: frozenset[str]) -> ExpressionSyntaxError | None:
    """What keeps the process busy for seconds or more, or makes it run out of memory, on a customer with long
    facts (`lists`: the names of list facts), or while the loader tries the expression on sample values:
    - inside a list macro's arguments, which run once for every element of its list: another macro or a list
      written out (five levels over 16 numbers: 50 s), `+` (strings doubling per level: out of memory),
      `matches` (compiled again each time: 65 s), or a list fact other than as `x in list` or `size(list)`
      (`tags.map(t, tags)`: 67 s), and more than MAX_LOOKUPS_IN_MACROS lookups (280 of them: 15 s);
    - a list fact other than looked up, counted, indexed, compared or gone through by a macro: joined with `+`
      (100 times, through brackets: 19 s), it is copied;
    - `matches` with a pattern other than written out: a customer's text grown with `+` took 5 s and 3 GB
      to compile before the regular expression library refused it;
    - more than MAX_MACROS macros, MAX_MATCHES `matches` or MAX_PLUS `+`.
    It reads `code` (_code: comments and the insides of strings blanked), so neither hides anything."""
    tokens = [_Token(m[0], m.start()) for m in _TOKEN.finditer(code)]
    open_macros: list[tuple[str, str]] = []  # per open bracket: the macro it holds the arguments of, and the
    counts = {"macros": 0, "lookups": 0, "matches": 0, "+": 0}  # name that binds; or two empty strings

    def refuse(token: _Token, message: str) -> ExpressionSyntaxError:
        line, column = line_column(source, token.at)
        return ExpressionSyntaxError(line, column, message)

    for n, token in enumerate(tokens):
        text, before, after = token.text, _text(tokens, n - 1), _text(tokens, n + 1)
        macro, bound = next((m for m in reversed(open_macros) if m[0]), ("", ""))  # the innermost around here
        function = before if text == "(" and before[:1].isalpha() else ""  # a call: `size(` or `.map(`
        method = function if _text(tokens, n - 2) == "." else ""
        written_out = text == "[" and (before in ("", "in") or not (before[-1:].isalnum() or before in ")]_"))
        inside = _INSIDE_MACRO.get("[" if written_out else "+" if text == "+" else "macro" if method in _MACROS
                                   else function)  # fmt: skip
        if macro and inside:
            return refuse(token, f"{inside[0]} inside {', '.join(_MACROS)}: {inside[1]}")
        if text in "([{":
            counts["macros"] += method in _MACROS
            counts["matches"] += function == "matches"
            open_macros.append((method, after) if method in _MACROS else ("", ""))
        elif text in ")]}" and open_macros:
            open_macros.pop()
        elif text == "+":
            counts["+"] += 1
        elif text in lists and text != bound and before != ".":
            use = _list_use(tokens, n)
            if macro:
                counts["lookups"] += use == "in"
                if use not in ("in", "size"):
                    return refuse(token, f"the list {text!r} inside {macro} is gone through once for every element "
                                  f"of the outer list: use it there only as x in {text} or size({text})")  # fmt: skip
                if counts["lookups"] > MAX_LOOKUPS_IN_MACROS:
                    return refuse(token, f"list facts may be looked up inside {', '.join(_MACROS)} at most "
                                  f"{MAX_LOOKUPS_IN_MACROS} times: each goes through its list once for every "
                                  "element")  # fmt: skip
            elif use is None:
                return refuse(
                    token,
                    f"a list fact is looked up (x in {text}), counted (size({text})), indexed "
                    f"({text}[0]), compared ({text} == …) or gone through ({text}.exists(t, …)): other "
                    "uses, such as joining with +, copy it, and long lists keep the service busy",
                )
        if function == "matches" and not (method and _pattern_written_out(tokens, n + 1)):
            return refuse(
                token,
                "matches takes its pattern written out, as text.matches('^1[3-9]') (a pattern "
                "from a customer's facts would be compiled on every command, and could be anything)",
            )
        for what, most, words in _MOST:
            if counts[what] > most:  # at the name of the call that went past it
                return refuse(tokens[n - 1] if function else token, f"an expression may use {words} at most {most} "
                              "times: split it (a score can hold a part)")  # fmt: skip
    return None


_INSIDE_MACRO = {  # what may not stand in a list macro's arguments, and why
    "macro": ("a list macro", "it runs once for every element of the outer list; write the steps one after the "
              "other, or compare with == and ||"),
    "[": ("a list written out", "it is built again for every element; compare with == and ||"),
    "+": ("+", "it builds a new text or list for every element, and doubles them at every level"),
    "matches": ("matches", "its pattern is compiled again for every element"),
}  # fmt: skip


_MOST = (("macros", MAX_MACROS, ", ".join(_MACROS)), ("matches", MAX_MATCHES, "matches"), ("+", MAX_PLUS, "+"))


def _text(tokens: list[_Token], n: int) -> str:
    return tokens[n].text if 0 <= n < len(tokens) else ""


def _texts(tokens: list[_Token], n: int, count: int) -> list[str]:
    return [_text(tokens, k) for k in range(n, n + count)]


def _list_use(tokens: list[_Token], n: int) -> str | None:
    """How the list fact at `n` is used, when it is a use that costs at most one pass over it: a lookup
    (`x in tags`), a count (`size(tags)`, `tags.size()`), an index (`tags[0]`), a comparison (`tags == …`,
    `… != tags`), the list of a macro (`tags.exists(`); None for any other use (`+`, brackets, `dyn`)."""
    before, after = _text(tokens, n - 1), _text(tokens, n + 1)
    if before == "in":
        return "in"
    if (before == "(" and _text(tokens, n - 2) == "size" and _text(tokens, n - 3) != "." and after == ")") or (
        _texts(tokens, n + 1, 4) == [".", "size", "(", ")"]
    ):
        return "size"
    if after == "[" or (after == "." and _text(tokens, n + 2) in _MACROS and _text(tokens, n + 3) == "("):
        return after
    if (after in "=!" and _text(tokens, n + 2) == "=") or (before == "=" and _text(tokens, n - 2) in "=!"):
        return "=="
    return None


def _pattern_written_out(tokens: list[_Token], n: int) -> bool:
    """Whether the argument list that starts after `n` holds one string literal (its contents blanked: only
    quotes, after an optional r) and nothing else."""
    k = n + (_text(tokens, n) in ("r", "R"))
    quotes = 0
    while _text(tokens, k + quotes) in ("'", '"'):
        quotes += 1
    return quotes >= 2 and _text(tokens, k + quotes) == ")"


def _code(source: str) -> str:
    """The expression with its comments and the insides of its strings blanked out, the same length: what is
    left is code, at the same places."""
    out, at = [], 0
    while at < len(source):
        char = source[at]
        if char in "'\"":
            end = _string_end(source, at)
            out.append(char + re.sub(r"[^\n]", " ", source[at + 1 : end - 1]) + source[end - 1 : end])
            at = end
        elif source.startswith("//", at):
            end = source.find("\n", at)
            end = len(source) if end < 0 else end
            out.append(" " * (end - at))
            at = end
        else:
            out.append(char)
            at += 1
    return "".join(out)


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
