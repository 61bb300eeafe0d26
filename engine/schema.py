"""The definition JSON Schema (package data) and its errors as file:line:col diagnostics."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from . import mistakes
from .errors import Diagnostic, Words, did_you_mean
from .source import Path, SourceDocument

_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "text", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "nothing"}  # fmt: skip


@cache
def definition_schema() -> dict[str, Any]:
    text = resources.files("crmstatus.engine").joinpath("schema/definition.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(definition_schema())


def schema_diagnostics(document: SourceDocument) -> list[Diagnostic]:
    """Every schema error of the document, in file order."""
    found = [_diagnostic(document, error) for error in _validator().iter_errors(document.data)]
    return sorted(set(found), key=lambda d: (d.line, d.column, d.message))


def _diagnostic(document: SourceDocument, error: jsonschema.ValidationError) -> Diagnostic:
    path: Path = tuple(error.absolute_path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extra = [key for key in error.instance if key not in allowed]
        if extra:
            key = extra[0]
            hint = did_you_mean(str(key), allowed)
            message = f"unknown field {key!r}{hint}"
            if allowed:
                message += f"; allowed: {', '.join(allowed)}"
            close = hint.removeprefix(" (did you mean ").removesuffix("?)")
            zh = f"未知字段 {key!r}" + (f"（是不是 {close}？）" if close else "") + f"；可用：{'、'.join(allowed)}"
            words = Words(message, zh, f"write {close}" if close else "use one of the allowed fields",
                          f"改成 {close}" if close else "改用可用的字段之一")  # fmt: skip
            return document.diagnostic((*path, key), words, at_key=True)
    if "propertyNames" in error.absolute_schema_path:
        message = f"{error.instance!r} is not a valid name: {_custom_message(schema) or error.message}"
        return document.diagnostic((*path, str(error.instance)), message, at_key=True)
    if keyword == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else str(error.message)
        words = Words(f"missing required field {missing!r}", f"缺少必填字段 {missing!r}", f"add `{missing}: …`",
                      f"加上 `{missing}: …`")  # fmt: skip
        return document.diagnostic(path, words, at_key=True)
    if keyword == "oneOf" and error.context:
        return _diagnostic(document, max(error.context, key=lambda e: len(e.absolute_path)))
    if keyword == "pattern" and schema.get("$ref") == "#/$defs/duration" and isinstance(error.instance, str):
        iso = mistakes.iso_duration(error.instance)
        if iso is not None:
            return document.diagnostic(path, mistakes.duration_words(error.instance, iso))
    return document.diagnostic(path, _message(error, schema))


def _message(error: jsonschema.ValidationError, schema: dict[str, Any]) -> str:
    keyword = error.validator
    if keyword == "type":
        expected = schema.get("type")
        kinds: list[str] = expected if isinstance(expected, list) else [str(expected)]
        names = [_TYPE_NAMES.get(kind, kind) for kind in kinds]
        return f"expected {' or '.join(names)}, got {_describe(error.instance)}"
    if keyword == "enum":
        options = ", ".join(str(v) for v in schema.get("enum", []))
        hint = did_you_mean(str(error.instance), [str(v) for v in schema.get("enum", [])])
        return f"{error.instance!r} is not one of: {options}{hint}"
    if keyword == "pattern":
        return f"{error.instance!r}: {_custom_message(schema) or error.message}"
    if keyword in ("minProperties", "minItems"):
        return "must not be empty"
    if keyword == "maxProperties":
        return f"only one of these may be given here, found: {', '.join(map(str, _keys(error.instance)))}"
    return str(error.message)


def _keys(instance: Any) -> list[Any]:
    return list(instance) if isinstance(instance, dict) else []


def _custom_message(schema: dict[str, Any]) -> str | None:
    if "x-error" in schema:
        return str(schema["x-error"])
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        target = definition_schema()["$defs"].get(name, {})
        return str(target["x-error"]) if "x-error" in target else None
    return None


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
