"""The typing mistakes consultants make most, found in the raw text at the exact character: tabs, full-width
punctuation from a Chinese keyboard, quotes and brackets left open, lines indented wrongly, and durations
written in words. Each comes in plain words, Chinese and English, with the fix."""

from __future__ import annotations

import re
from collections.abc import Iterator

import yaml

from .errors import Diagnostic, Words

# Full-width punctuation a Chinese input method types, and the ASCII character YAML needs instead.
FULL_WIDTH = {"：": ":", "，": ",", "、": ",", "“": '"', "”": '"', "‘": "'", "’": "'", "【": "[", "】": "]",
              "［": "[", "］": "]", "｛": "{", "｝": "}", "（": "(", "）": ")"}  # fmt: skip
_OPENERS = "【［｛“‘"
_TEXT_KEYS = {"zh", "en", "description"}  # free text: a label may well start with 【 or “
_BARE_KEY = re.compile(r"^[^\s:\"'\[\]{},#]+$")


def full_width(char: str) -> Words:
    ascii_char = FULL_WIDTH[char]
    return Words(
        f"full-width {char!r} here: YAML only understands the ASCII {ascii_char!r}",
        f"这里是全角符号「{char}」：YAML 只认半角的「{ascii_char}」",
        f"use the ASCII {ascii_char!r} (switch the input method to English punctuation)",
        f"改成半角的「{ascii_char}」（把输入法切换到英文标点）",
    )


def scan(text: str, file: str) -> list[Diagnostic]:
    """Tabs that indent, and full-width punctuation where YAML expects its own, each at its character."""
    found: list[Diagnostic] = []
    block_indent: int | None = None  # inside a `|` or `>` block of text, which may hold anything
    for number, line in enumerate(text.splitlines(), 1):
        indent = len(line) - len(line.lstrip(" "))
        if block_indent is not None:
            if not line.strip() or indent > block_indent:
                continue
            block_indent = None
        leading = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in leading:
            found.append(_TAB.at(file, number, leading.index("\t") + 1))
            continue
        for column, char in _punctuation(line):
            found.append(full_width(char).at(file, number, column))
        if re.search(r":\s+[|>][-+0-9]*\s*(#.*)?$", line):
            block_indent = indent
    return found


_TAB = Words(
    "a tab indents this line: YAML indents with spaces only",
    "这一行用了制表符（Tab）缩进：YAML 只能用空格缩进",
    "use spaces instead of the tab (two per level)",
    "把 Tab 换成空格（每一级两个空格）",
)


def _punctuation(line: str) -> Iterator[tuple[int, str]]:
    """Full-width characters in YAML's own places on one line: a colon after a key, a comma in a `[...]`
    list, a bracket or quote that starts a value. Text inside quotes and comments is left alone."""
    quote = ""
    flow: list[str] = []  # open ASCII brackets
    segment = ""  # what was written since the key began (line start, `- `, `{`, `[` or `,`)
    in_value = False  # past the key's `: ` in this segment
    key = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
            continue
        if char in "\"'" and not segment.strip():
            quote = char
            continue
        if char == "#" and (index == 0 or line[index - 1] in " \t"):
            return
        if char in "[{":
            flow.append(char)
            segment, in_value = "", False
            continue
        if char in "]}":
            flow = flow[:-1]
            continue
        if char == "," and flow:
            segment, in_value = "", False
            continue
        if char == "-" and not segment.strip() and line[index + 1 : index + 2] in (" ", ""):
            segment = ""
            continue
        if char == ":" and line[index + 1 : index + 2] in (" ", "") and not in_value:
            key, segment, in_value = segment.strip(), "", True
            continue
        after_key = char == "：" and not in_value and bool(_BARE_KEY.match(segment.strip() or " "))
        in_list = char in "，、" and bool(flow) and flow[-1] == "["
        opens_value = char in _OPENERS and in_value and not segment.strip() and key not in _TEXT_KEYS
        if after_key or in_list or opens_value:
            yield index + 1, char
        segment += char


def explain(text: str, file: str, error: yaml.MarkedYAMLError) -> Diagnostic:
    """The parser's complaint in plain words, at the place the consultant must edit."""
    context, problem = error.context or "", error.problem or ""
    opened = error.context_mark
    if context.startswith("while scanning a quoted scalar") and opened is not None:
        quote = text[opened.index] if opened.index < len(text) else '"'
        return unclosed_quote(quote).at(file, opened.line + 1, opened.column + 1)
    if context.startswith(("while parsing a flow sequence", "while parsing a flow mapping")) and opened:
        bracket = "[" if "sequence" in context else "{"
        closing = "]" if bracket == "[" else "}"
        words = Words(
            f"the bracket {bracket} that starts here is not closed",
            f"这里开始的括号 {bracket} 没有闭合",
            f"close it with {closing} on the same line (and separate the items with ASCII commas)",
            f"在同一行用 {closing} 闭合（各项之间用半角逗号分隔）",
        )
        return words.at(file, opened.line + 1, opened.column + 1)
    mark = error.problem_mark or opened
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    culprit = _misindented(text, line)
    if culprit is not None:
        return culprit_words(*culprit[1:]).at(file, culprit[0], culprit[1] + 1)
    unclosed = _unclosed_quote(text, line)
    if unclosed is not None:
        return unclosed_quote(unclosed[2]).at(file, unclosed[0], unclosed[1])
    words = Words(
        f"YAML cannot read the text here ({problem or context or 'syntax error'})",
        f"YAML 读不懂这里（{problem or context or '语法错误'}）",
        "check the indentation and the punctuation on this line and the one before it",
        "检查这一行和上一行的缩进与标点",
    )
    return words.at(file, line, column)


def culprit_words(indent: int, expected: int) -> Words:
    return Words(
        f"this line is indented {indent} spaces, which matches no line it could belong to",
        f"这一行缩进了 {indent} 个空格，和它所属的上级对不齐",
        f"indent it {expected} spaces, like the lines it belongs with",
        f"改成缩进 {expected} 个空格，和同级的行对齐",
    )


def _misindented(text: str, up_to: int) -> tuple[int, int, int] | None:
    """The first line (at or before `up_to`) whose indentation fits no open level: (line, indent, expected)."""
    levels = [0]
    opens = False  # the previous line ends with `key:` and so may be followed by deeper lines
    depth = 0  # open brackets of a flow collection that spans lines
    for number, raw in enumerate(text.splitlines()[:up_to], 1):
        stripped = raw.split(" #")[0].rstrip()
        if not stripped.strip() or stripped.lstrip().startswith("#") or "\t" in raw[: len(raw) - len(raw.lstrip())]:
            continue
        indent = len(stripped) - len(stripped.lstrip(" "))
        if depth == 0:
            if indent > levels[-1]:
                if not opens:
                    return number, indent, levels[-1]
                levels.append(indent)
            elif indent < levels[-1]:
                while levels[-1] > indent:
                    levels.pop()
                if levels[-1] != indent:
                    return number, indent, levels[-1]
        body = stripped.lstrip(" ")
        if body.startswith("- "):  # a list item: its other keys line up with its first
            levels.append(indent + 2)
        depth += stripped.count("[") + stripped.count("{") - stripped.count("]") - stripped.count("}")
        depth = max(depth, 0)
        opens = stripped.endswith(":") or body == "-"
    return None


_UNITS = {"day": "D", "days": "D", "d": "D", "天": "D", "日": "D", "week": "W", "weeks": "W", "w": "W", "周": "W",
          "星期": "W", "hour": "H", "hours": "H", "h": "H", "小时": "H", "个小时": "H", "minute": "M",
          "minutes": "M", "min": "M", "分钟": "M", "month": "MO", "months": "MO", "个月": "MO", "月": "MO",
          "year": "Y", "years": "Y", "年": "Y"}  # fmt: skip
_IN_WORDS = re.compile(r"^\s*(\d+)\s*([a-zA-Z\u4e00-\u9fff]+)\s*$")


def iso_duration(text: str) -> str | None:
    """The ISO 8601 form of a duration written in words (`90 days` → `P90D`, `3 个月` → `P90D`), or None."""
    match = _IN_WORDS.match(text)
    unit = _UNITS.get(match[2].lower()) if match else None
    if match is None or unit is None:
        return None
    amount = int(match[1])
    if unit == "MO":
        return f"P{amount * 30}D"
    if unit == "Y":
        return f"P{amount * 365}D"
    return f"PT{amount}{unit}" if unit in "HM" else f"P{amount}{unit}"


def duration_words(text: str, iso: str) -> Words:
    return Words(
        f"{text!r} is a duration in words: durations are written in ISO 8601",
        f"「{text}」是文字写的时长：时长要用 ISO 8601 格式",
        f"write {iso}" + (" (months and years vary in length, so this counts days)" if "month" in text or "year"
                          in text or "月" in text or "年" in text else ""),
        f"写成 {iso}",
    )  # fmt: skip


def unclosed_quote(quote: str) -> Words:
    return Words(
        f"the quote {quote} that starts here is never closed",
        f"这里开始的引号 {quote} 没有结束",
        f"add the closing {quote} at the end of the value",
        f"在值的末尾补上 {quote}",
    )


def _unclosed_quote(text: str, up_to: int) -> tuple[int, int, str] | None:
    """The first value (at or before line `up_to`) that opens a quote its line does not close. YAML lets a
    quoted text run on over lines, so the parser only stumbles far below; definitions never need that."""
    for number, line in enumerate(text.splitlines()[:up_to], 1):
        for match in re.finditer(r"(?:^\s*-\s+|:\s+|[\[{,]\s*)([\"'])", line):
            quote, start = match[1], match.end()
            rest = line[start:].replace(quote * 2, "") if quote == "'" else re.sub(r"\\.", "", line[start:])
            if quote not in rest:
                return number, start, quote
    return None
