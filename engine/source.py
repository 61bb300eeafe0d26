"""Safe YAML loading that remembers where every value came from, so diagnostics can name line and column."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import mistakes
from .errors import Diagnostic, InvalidDefinition, Words

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """`('dimensions', 'lifecycle', 'transitions', 2, 'to')` → `dimensions.lifecycle.transitions[2].to`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass
class SourceDocument:
    """A parsed YAML document plus the node behind every path in it."""

    file: str
    text: str
    data: Any
    values: dict[Path, yaml.Node] = field(default_factory=dict)
    keys: dict[Path, yaml.Node] = field(default_factory=dict)
    typing: list[Diagnostic] = field(default_factory=list)  # typing mistakes that still parsed (mistakes.scan)

    def diagnostic(self, path: Path, message: str | Words, *, at_key: bool = False) -> Diagnostic:
        node = self._node_at(path, at_key)
        line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        if isinstance(message, Words):
            return message.at(self.file, line, column, format_path(path))
        return Diagnostic(self.file, line, column, format_path(path), message)

    def explained(self, problems: list[Diagnostic]) -> list[Diagnostic]:
        """`problems` with the typing mistakes found in the text first: a problem on a line with such a
        mistake is most likely its consequence, and is left out."""
        if not problems:
            return problems
        lines = {d.line for d in self.typing}
        return self.typing + [d for d in problems if d.line not in lines]

    def expression_diagnostic(self, path: Path, line: int, column: int, message: str) -> Diagnostic:
        """A diagnostic inside the expression at `path`, given a 1-based line/column within the expression."""
        node = self.values.get(path)
        if not isinstance(node, yaml.ScalarNode):
            return self.diagnostic(path, message)
        wanted = str(node.value).splitlines()[line - 1 : line] or [""]
        file_lines = self.text.splitlines()
        for number in range(node.start_mark.line, min(node.end_mark.line + 1, len(file_lines))):
            found = file_lines[number].find(wanted[0]) if wanted[0] else -1
            if found >= 0:
                return Diagnostic(self.file, number + 1, found + column, format_path(path), message)
        return self.diagnostic(path, message)

    def _node_at(self, path: Path, at_key: bool) -> yaml.Node | None:
        if at_key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get(())


# A definition is a page of rules, not a data dump: ten times the largest shipped one (b2b, 26,000). The parser
# is pure Python: a text at the bound takes it about two seconds, on a thread that shares the interpreter.
MAX_CHARACTERS = 250_000
STORED_CHARACTERS = 1_000_000  # the bound before: a text stored under it stays usable
MAX_DEPTH = 32  # the language nests about six levels; deeper is a mistake (or an attack on the parser)
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
_CONTROL, _INVISIBLE = re.compile(f"[{_CONTROLS}]"), re.compile(f"[{_CONTROLS}\u2028\u2029]")
# Line and paragraph separators end a line for the YAML parser but not in an editor: every line reported after
# one would be off by one.
_SEPARATORS = {"\u2028": ("line separator", "行分隔符"), "\u2029": ("paragraph separator", "段落分隔符")}


def line_column(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of `index` in `text`, counted as an editor counts them (by newlines)."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def refuse_hostile(text: str, file: str, stored: bool = False) -> list[Diagnostic]:
    """What no definition may contain, found before the YAML parser sees it: too much text, invisible
    control characters, nesting deeper than the language needs, anchors and aliases (`&a` / `*a`). A `stored`
    text (see load_definition) may have up to the bound before, and line separators."""
    bound = STORED_CHARACTERS if stored else MAX_CHARACTERS
    if len(text) > bound:
        words = Words(f"the file has {len(text):,} characters; a definition, scenario or mapping may have at most "
                      f"{bound:,}", f"文件有 {len(text):,} 个字符；定义、场景或映射文件最多 {bound:,} 个")  # fmt: skip
        return [words.at(file, 1, 1)]
    found = []
    invisible = (_CONTROL if stored else _INVISIBLE).finditer(text)
    for match in itertools.islice(invisible, 10):
        line, column = line_column(text, match.start())
        code = f"U+{ord(match[0]):04X}"
        en, zh = _SEPARATORS.get(match[0], ("control character", "控制字符"))
        words = Words(f"invisible {en} {code} here", f"这里有看不见的{zh} {code}", _DELETE_IT,
                      "删掉它（这种字符常随从别的程序复制的文字一起带进来）")  # fmt: skip
        found.append(words.at(file, line, column))
    return found or _structure(text, file)


_DELETE_IT = "delete it (such characters often come with text copied from another program)"
_ALIASES = Words("anchors and aliases (&name, *name) are not supported", "不支持锚点和别名（&name、*name）",
                 "write the value out in full", "请把值完整写出来")  # fmt: skip


def _structure(text: str, file: str) -> list[Diagnostic]:
    """Nesting and aliases, from the parser's event stream (it keeps its own stack, unlike the composer)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            mark = event.start_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            if isinstance(event, yaml.AliasEvent):
                return [_ALIASES.at(file, line, column)]
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    words = Words(f"nested more than {MAX_DEPTH} levels deep: no definition, scenario or mapping "
                                  "needs that", f"嵌套超过 {MAX_DEPTH} 层：定义、场景和映射文件都用不到这么深",
                                  "write it flatter (a definition nests about six levels) or close the brackets",
                                  "写得扁平一些（定义一般只有六层左右），或者把括号闭合")  # fmt: skip
                    return [words.at(file, line, column)]
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return []  # a syntax error: the parse proper reports it, with its position
    return []


MAX_INTEGER = 40  # characters of an integer (with its sign, underscores and base): counts and versions need a few


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing an integer too long to be a count, a version or an amount: Python turns none of
    more than 4,300 digits into text, and a huge one would fail where it is shown, not where it is written."""


class _LongInteger(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def _integer(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    if len(node.value) > MAX_INTEGER:
        raise _LongInteger(node)
    return loader.construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _integer)


def load_yaml(text: str, file: str, stored: bool = False) -> SourceDocument:
    """Parse one YAML document with the safe loader. Syntax errors and duplicate keys raise InvalidDefinition."""
    hostile = refuse_hostile(text, file, stored)
    if hostile:
        raise InvalidDefinition(hostile)
    typing = mistakes.scan(text, file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InvalidDefinition([_EMPTY.at(file, 1, 1)])
        duplicates = list(_duplicate_keys(node, (), file))
        data = loader.construct_document(node)
    except _LongInteger as error:
        mark, length = error.node.start_mark, len(error.node.value)
        words = Words(f"a number of {length:,} characters: no count, version or amount needs more than {MAX_INTEGER}",
                      f"这个数字有 {length:,} 个字符：任何数量、版本号或金额都用不了超过 {MAX_INTEGER} 个",
                      "write the number you mean, or quote it if it is text",
                      "写成你想要的数字；如果它是文字，就加上引号")  # fmt: skip
        found = (node and _path_to(node, error.node, ())) or ()  # a key that long stands for itself, cut short
        path = format_path(tuple(f"{k[:12]}…" if isinstance(k, str) and len(k) > MAX_INTEGER else k for k in found))
        raise InvalidDefinition([words.at(file, mark.line + 1, mark.column + 1, path)]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        before = [d for d in typing if mark is None or d.line <= mark.line + 1]
        raise InvalidDefinition(before or [_syntax(text, file, error)]) from None
    except yaml.YAMLError as error:  # e.g. a reader error without a position of its own
        raise InvalidDefinition([Diagnostic(file, 1, 1, "", f"YAML cannot be read: {error}")]) from None
    finally:
        loader.dispose()
    if duplicates:
        raise InvalidDefinition(duplicates)
    document = SourceDocument(file, text, data, typing=typing)
    _index(document, node, ())
    return document


_EMPTY = Words("the file is empty", "文件是空的")


def _syntax(text: str, file: str, error: yaml.MarkedYAMLError) -> Diagnostic:
    """The parser's error in plain words, at the mistake rather than where the parser gave up."""
    return mistakes.explain(text, file, error)


def _scalar_key(node: yaml.Node) -> Any:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _duplicate_keys(node: yaml.Node, path: Path, file: str) -> list[Diagnostic]:
    """PyYAML silently keeps the last of two equal keys; a consultant needs to hear about both."""
    found: list[Diagnostic] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = _scalar_key(key_node)
            if key == "<<":
                continue
            if key in seen:
                first = seen[key].start_mark.line + 1
                mark = key_node.start_mark
                words = Words(f"duplicate key {key!r} (first defined on line {first})",
                              f"重复的键 {key!r}（第一次在第 {first} 行）", "keep one of the two",
                              "只保留其中一个")  # fmt: skip
                found.append(words.at(file, mark.line + 1, mark.column + 1, format_path((*path, key))))
            seen[key] = key_node
            found += _duplicate_keys(value_node, (*path, key), file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, (*path, index), file)
    return found


def _path_to(node: yaml.Node, target: yaml.Node, path: Path) -> Path | None:
    """Where `target` sits below `node` (a key stands for its place), by the keys as written."""
    if node is target:
        return path
    children = enumerate(node.value) if isinstance(node, yaml.SequenceNode) else ()
    if isinstance(node, yaml.MappingNode):
        children = ((_scalar_key(k), c) for k, v in node.value for c in (k, v))  # type: ignore[assignment]
    for key, child in children:
        found = _path_to(child, target, (*path, key))
        if found is not None:
            return found
    return None


def _index(document: SourceDocument, node: yaml.Node, path: Path) -> None:
    document.values[path] = node
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, _constructed_key(key_node))
            document.keys[child] = key_node
            _index(document, value_node, child)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(document, item, (*path, index))


def _constructed_key(node: yaml.Node) -> Any:
    """The key as the safe loader constructs it (`1` is an int, `yes` a bool), so paths match the data."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    loader = _Loader("")
    try:
        return loader.construct_object(node)
    finally:
        loader.dispose()
