# ruff: noqa: E501  (the corpus quotes whole messages, one per line, as a consultant reads them)
"""The mistakes consultants make, one per row: each gets its plain message, at the line and column of the
mistake itself, with the fix, in Chinese and in English. Then generated broken documents — from the JSON
Schema and by mutating the shipped files — only ever get diagnostics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmstatus.engine import InvalidDefinition, load_definition
from crmstatus.engine.schema import definition_schema
from crmstatus.server.cli import main

BASE = """\
name: mini
industry: retail
version: 1
owner: me@crm.example
roles:
  sales: {}
  manager: {sees_locked: true}
facts:
  contacts: {type: int, default: 0}
  vip: {type: bool, default: false}
dimensions:
  lifecycle:
    states:
      潜在: {initial: true}
      意向:
        timers:
          - {after: P90D, event: recycle}
      签约: {final: true}
    transitions:
      - event: qualify
        from: 潜在
        to: 意向
        auto: true
        when: contacts > 3
      - event: sign
        from: [意向]
        to: 签约
        roles: [sales, manager]
      - event: recycle
        from: 意向
        to: 潜在
        roles: [system]
"""


@dataclass(frozen=True)
class Mistake:
    name: str
    correct: str  # a part of BASE ...
    wrong: str  # ... and what the consultant typed instead
    line: int
    column: int
    message: str
    hint: str
    zh: str
    hint_zh: str


MISTAKES = [
    Mistake('tab_indent', '  sales: {}', '\tsales: {}',
            6, 1, 'a tab indents this line: YAML indents with spaces only', 'use spaces instead of the tab (two per level)',
            '这一行用了制表符（Tab）缩进：YAML 只能用空格缩进', '把 Tab 换成空格（每一级两个空格）'),
    Mistake('fullwidth_colon_key', '  sales: {}', '  sales： {}',
            6, 8, "full-width '：' here: YAML only understands the ASCII ':'", "use the ASCII ':' (switch the input method to English punctuation)",
            '这里是全角符号「：」：YAML 只认半角的「:」', '改成半角的「:」（把输入法切换到英文标点）'),
    Mistake('fullwidth_colon_item', '      - event: sign', '      - event： sign',
            25, 14, "full-width '：' here: YAML only understands the ASCII ':'", "use the ASCII ':' (switch the input method to English punctuation)",
            '这里是全角符号「：」：YAML 只认半角的「:」', '改成半角的「:」（把输入法切换到英文标点）'),
    Mistake('fullwidth_colon_flow', 'contacts: {type: int, default: 0}', 'contacts: {type： int, default: 0}',
            9, 18, "full-width '：' here: YAML only understands the ASCII ':'", "use the ASCII ':' (switch the input method to English punctuation)",
            '这里是全角符号「：」：YAML 只认半角的「:」', '改成半角的「:」（把输入法切换到英文标点）'),
    Mistake('fullwidth_comma', 'from: [意向]', 'from: [意向，潜在]',
            26, 18, "full-width '，' here: YAML only understands the ASCII ','", "use the ASCII ',' (switch the input method to English punctuation)",
            '这里是全角符号「，」：YAML 只认半角的「,」', '改成半角的「,」（把输入法切换到英文标点）'),
    Mistake('fullwidth_bracket', 'from: [意向]', 'from: 【意向】',
            26, 15, "full-width '【' here: YAML only understands the ASCII '['", "use the ASCII '[' (switch the input method to English punctuation)",
            '这里是全角符号「【」：YAML 只认半角的「[」', '改成半角的「[」（把输入法切换到英文标点）'),
    Mistake('fullwidth_quote', 'when: contacts > 3', 'when: “contacts > 3”',
            24, 15, 'full-width \'“\' here: YAML only understands the ASCII \'"\'', 'use the ASCII \'"\' (switch the input method to English punctuation)',
            '这里是全角符号「“」：YAML 只认半角的「"」', '改成半角的「"」（把输入法切换到英文标点）'),
    Mistake('unclosed_double_quote', 'owner: me@crm.example', 'owner: "me@crm.example',
            4, 8, 'the quote " that starts here is never closed', 'add the closing " at the end of the value',
            '这里开始的引号 " 没有结束', '在值的末尾补上 "'),
    Mistake('unclosed_single_quote', 'when: contacts > 3', "when: 'contacts > 3",
            24, 15, "the quote ' that starts here is never closed", "add the closing ' at the end of the value",
            "这里开始的引号 ' 没有结束", "在值的末尾补上 '"),
    Mistake('unclosed_bracket', 'from: [意向]', 'from: [意向',
            26, 15, 'the bracket [ that starts here is not closed', 'close it with ] on the same line (and separate the items with ASCII commas)',
            '这里开始的括号 [ 没有闭合', '在同一行用 ] 闭合（各项之间用半角逗号分隔）'),
    Mistake('unclosed_brace', '  sales: {}', '  sales: {',
            6, 10, 'the bracket { that starts here is not closed', 'close it with } on the same line (and separate the items with ASCII commas)',
            '这里开始的括号 { 没有闭合', '在同一行用 } 闭合（各项之间用半角逗号分隔）'),
    Mistake('indented_too_deep', '  manager: {sees_locked: true}', '   manager: {sees_locked: true}',
            7, 4, 'this line is indented 3 spaces, which matches no line it could belong to', 'indent it 2 spaces, like the lines it belongs with',
            '这一行缩进了 3 个空格，和它所属的上级对不齐', '改成缩进 2 个空格，和同级的行对齐'),
    Mistake('dedented_to_no_level', '        roles: [sales, manager]', '       roles: [sales, manager]',
            28, 8, 'this line is indented 7 spaces, which matches no line it could belong to', 'indent it 6 spaces, like the lines it belongs with',
            '这一行缩进了 7 个空格，和它所属的上级对不齐', '改成缩进 6 个空格，和同级的行对齐'),
    Mistake('duration_in_words_timer', '{after: P90D, event: recycle}', '{after: 90 days, event: recycle}',
            17, 21, "'90 days' is a duration in words: durations are written in ISO 8601", 'write P90D',
            '「90 days」是文字写的时长：时长要用 ISO 8601 格式', '写成 P90D'),
    Mistake('duration_in_words_chinese', '{after: P90D, event: recycle}', '{after: 3个月, event: recycle}',
            17, 21, "'3个月' is a duration in words: durations are written in ISO 8601", 'write P90D (months and years vary in length, so this counts days)',
            '「3个月」是文字写的时长：时长要用 ISO 8601 格式', '写成 P90D'),
    Mistake('duplicate_transition', '        roles: [system]', '        roles: [system]\n      - {event: recycle, from: 意向, to: 潜在, roles: [system]}',
            33, 9, "transition 'recycle' from '意向' is written twice (first on line 29)", 'delete one of the two',
            "转换 'recycle'（从 '意向' 出发）写了两遍（第一次在第 29 行）", '删掉其中一个'),
    Mistake('conflicting_transition', '        roles: [system]', '        roles: [system]\n      - {event: sign, from: 意向, to: 潜在, roles: [sales]}',
            33, 9, "event 'sign' from '意向' goes to '签约' (line 25) and to '潜在': only the first would ever happen", 'keep one target, or give each a different `when` condition',
            "事件 'sign' 从 '意向' 出发，既去 '签约'（第 25 行）又去 '潜在'：只有第一个会生效", '只保留一个目标状态，或者给两个转换写不同的 `when` 条件'),
    Mistake('overlapping_automatic', '        when: contacts > 3', '        when: contacts > 3\n      - {event: vip_qualify, from: 潜在, to: 意向, auto: true, when: vip || contacts > 5}',
            25, 9, "automatic transitions 'qualify' (line 20) and 'vip_qualify' can both be true in '潜在' (for example when contacts = 4, vip = true), and only one fires", 'make the conditions exclude each other, or add `priority: 1` to the one that goes first (higher goes first)',
            "自动转换 'qualify'（第 20 行）和 'vip_qualify' 在 '潜在' 可能同时成立（例如 contacts = 4, vip = true），但只会触发一个", '让两个条件互斥，或者给先触发的那个加上 `priority: 1`（数字大的先触发）'),
    Mistake('no_roles', '        roles: [sales, manager]\n', '',
            25, 9, "transition 'sign' does not say who may fire it, so anyone could", 'add `roles: [sales, manager]` (the roles that may fire it), or `roles: any` if anyone may',
            "转换 'sign' 没有写谁可以触发它，这样任何人都能触发", '加上 `roles: [sales, manager]`（可以触发的角色），如果任何人都可以，就写 `roles: any`'),
    Mistake('automatic_with_roles_any', '        auto: true', '        auto: true\n        roles: any',
            24, 16, 'an automatic transition with `roles: any`: the system fires it, so `any` says nothing', 'drop `roles`, or list the roles that may also fire it by hand',
            '自动转换写了 `roles: any`：它由系统触发，`any` 没有意义', '删掉 `roles`，或者列出也可以手动触发它的角色'),
    Mistake('control_character', 'owner: me@crm.example', 'owner: me@crm\x07.example',
            4, 14, 'invisible control character U+0007 here', 'delete it (such characters often come with text copied from another program)',
            '这里有看不见的控制字符 U+0007', '删掉它（这种字符常随从别的程序复制的文字一起带进来）'),
    Mistake('line_separator', 'owner: me@crm.example', 'owner: me@crm.example  # from the wiki\u2028page',
            4, 39, 'invisible line separator U+2028 here', 'delete it (such characters often come with text copied from another program)',
            '这里有看不见的行分隔符 U+2028', '删掉它（这种字符常随从别的程序复制的文字一起带进来）'),
    Mistake('deep_nesting', 'vip: {type: bool, default: false}', 'vip: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
            10, 38, 'nested more than 32 levels deep: no definition, scenario or mapping needs that', 'write it flatter (a definition nests about six levels) or close the brackets',
            '嵌套超过 32 层：定义、场景和映射文件都用不到这么深', '写得扁平一些（定义一般只有六层左右），或者把括号闭合'),
    Mistake('alias', '  manager: {sees_locked: true}', '  manager: &m {sees_locked: true}\n  boss: *m',
            8, 9, 'anchors and aliases (&name, *name) are not supported', 'write the value out in full',
            '不支持锚点和别名（&name、*name）', '请把值完整写出来'),
    Mistake('duplicate_key', '      签约: {final: true}', '      签约: {final: true}\n      潜在: {}',
            19, 7, "duplicate key '潜在' (first defined on line 14)", 'keep one of the two',
            "重复的键 '潜在'（第一次在第 14 行）", '只保留其中一个'),
    Mistake('unknown_state_typo', '        to: 签约', '        to: 签玥',
            27, 13, "unknown state '签玥' in dimension 'lifecycle' (did you mean '签约'?)", "write '签约'",
            "维度 'lifecycle' 里没有状态 '签玥'（是不是 '签约'？）", "改成 '签约'"),
    Mistake('unknown_field', '        to: 签约', '        too: 签约',
            27, 9, "unknown field 'too' (did you mean 'to'?); allowed: event, label, description, from, to, roles, when, checklist, auto, internal, reasons, priority, effects", "write 'to'",
            "未知字段 'too'（是不是 'to'？）；可用：event、label、description、from、to、roles、when、checklist、auto、internal、reasons、priority、effects", "改成 'to'"),
    Mistake('missing_field', '        to: 签约\n', '',
            25, 9, "missing required field 'to'", 'add `to: …`',
            "缺少必填字段 'to'", '加上 `to: …`'),
    Mistake('unknown_role', 'roles: [sales, manager]', 'roles: [sale, manager]',
            28, 17, "unknown role 'sale' (did you mean 'sales'?)", "write 'sales'",
            "未知角色 'sale'（是不是 'sales'？）", "改成 'sales'"),
]  # fmt: skip


def test_the_base_definition_of_the_corpus_is_valid():
    assert load_definition(BASE, "m.yaml").name == "mini"


def test_the_corpus_has_at_least_twenty_mistakes():
    assert len({m.name for m in MISTAKES}) == len(MISTAKES) >= 20


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_a_consultant_mistake_gets_plain_words_at_its_place_in_both_languages(mistake):
    assert mistake.correct in BASE
    with pytest.raises(InvalidDefinition) as error:
        load_definition(BASE.replace(mistake.correct, mistake.wrong, 1), "m.yaml")
    found = {(d.line, d.column): d for d in error.value.diagnostics}
    diagnostic = found.get((mistake.line, mistake.column))
    assert diagnostic is not None, [str(d) for d in error.value.diagnostics]
    assert diagnostic.text("en") == (mistake.message, mistake.hint)
    assert diagnostic.text("zh") == (mistake.zh, mistake.hint_zh)


def test_validate_prints_json_for_editors_in_the_language_asked_for(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(BASE.replace("  sales: {}", "  sales： {}"), "utf-8")
    assert main(["validate", "--format", "json", "--lang", "zh", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "valid": [],
        "diagnostics": [
            {"file": str(path), "line": 6, "column": 8, "path": "", "severity": "error",
             "message": "这里是全角符号「：」：YAML 只认半角的「:」", "hint": "改成半角的「:」（把输入法切换到英文标点）"}
        ],
    }  # fmt: skip


def test_validate_speaks_the_locale_language(tmp_path, capsys, monkeypatch):
    path = tmp_path / "m.yaml"
    path.write_text(BASE.replace("  sales: {}", "\tsales: {}"), "utf-8")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert main(["validate", str(path)]) == 1
    assert f"{path}:6:1: 这一行用了制表符（Tab）缩进" in capsys.readouterr().err
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert main(["validate", str(path)]) == 1
    assert "a tab indents this line: YAML indents with spaces only — use spaces" in capsys.readouterr().err


# -- documents generated from the JSON Schema ---------------------------------------------------------------

# Names the generated documents draw from, so that references sometimes resolve and sometimes do not.
WORDS = ["潜在", "意向", "签约", "a", "sales", "manager", "system", "lifecycle", "contacts", "P90D", "P2W", "90 days",
         "any", "contacts > 3", "now - x > duration('1h')", "x ==", "", " ", "：", "UTC", "Asia/Shanghai"]  # fmt: skip


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = {**definition_schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items()
                                                                                    if k != "$ref"}}  # fmt: skip
    return node


def from_schema(node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by the schema, often slightly wrong: a required field may go missing, a value may take
    another type, names come from WORDS."""
    node = _resolve(node)
    if depth > 7:
        return st.none()
    wrong = st.sampled_from([None, 0, True, "x", [], {}])
    if "const" in node:
        return st.just(node["const"]) | wrong
    if "enum" in node:
        return st.sampled_from(node["enum"]) | wrong
    if "oneOf" in node:
        return st.one_of([from_schema(option, depth + 1) for option in node["oneOf"]])
    kinds = node.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return st.one_of([_of_type(kind, node, depth) for kind in kinds]) | wrong


def _of_type(kind: str, node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if kind == "object":
        properties = node.get("properties", {})
        if properties:
            return st.fixed_dictionaries(
                {}, optional={name: from_schema(spec, depth + 1) for name, spec in properties.items()}
            )
        values = node.get("additionalProperties")
        values = values if isinstance(values, dict) else {}
        return st.dictionaries(st.sampled_from(WORDS), from_schema(values, depth + 1), max_size=3)
    if kind == "array":
        return st.lists(from_schema(node.get("items", {}), depth + 1), max_size=3)
    if kind == "string":
        return st.sampled_from(WORDS)
    if kind == "integer":
        return st.integers(-1, 3)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "boolean":
        return st.booleans()
    return st.none()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(from_schema(definition_schema()))
def test_a_document_generated_from_the_schema_gets_diagnostics_never_an_exception(document):
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    try:
        load_definition(text, "generated.yaml")
    except InvalidDefinition as error:
        assert error.diagnostics
        for diagnostic in error.diagnostics:
            assert diagnostic.line >= 1 and diagnostic.column >= 1
            assert diagnostic.render("zh") and diagnostic.render("en")
