"""JSON Schema of the study spec and the text of ``mmrwe explain KEY``, from the key table.

Both are generated from :mod:`mmrwe.spec.keys`, the table the loader checks keys against,
so they cannot drift from what the loader accepts. The schema is also shipped as
``mmrwe/spec/study.schema.json`` (a test keeps the file equal to :func:`json_schema`), for
editors: VS Code's Even Better TOML extension (taplo) reads a first-line comment
``#:schema <path or URL>`` and then completes and checks keys while one types.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from mmrwe.spec import keys as K

SCHEMA_FILE = Path(__file__).with_name("study.schema.json")
DRAFT = "http://json-schema.org/draft-07/schema#"


def _def_name(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", path.replace(".*", "_item")).strip("_") or "root"


def _ref(path: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{_def_name(path)}"}


def _child_path(parent: str, key: K.Key) -> str:
    if parent and K.table(parent).kind == "map":
        return f"{parent}.*"
    return f"{parent}.{key.name}" if parent else key.name


def _key_schema(parent: str, key: K.Key) -> dict[str, Any]:
    s: dict[str, Any]
    if key.type == "string":
        s = {"type": "string"}
        if key.choices:
            s["enum"] = list(key.choices)
    elif key.type in ("number", "integer"):
        s = {"type": key.type}
        if key.minimum is not None:
            s["minimum"] = key.minimum
        if key.maximum is not None:
            s["maximum"] = key.maximum
    elif key.type == "boolean":
        s = {"type": "boolean"}
    elif key.type == "strings":
        # The loader also takes a single string as a one-item list, and numbers as text.
        s = {
            "anyOf": [
                {"type": "array", "items": {"type": ["string", "number"]}},
                {"type": "string"},
            ]
        }
    elif key.type == "numbers":
        item: dict[str, Any] = {"type": "number"}
        if key.minimum is not None:
            item["minimum"] = key.minimum
        s = {"type": "array", "items": item}
    elif key.type == "scalar":
        s = {"type": ["string", "number", "boolean"]}
    elif key.type == "string_or_false":
        s = {
            "anyOf": [
                {"type": "string", "enum": list(key.choices or ())},
                {"type": "boolean", "enum": [False]},
            ]
        }
    elif key.type == "array":
        s = {"type": "array", "items": _ref(_child_path(parent, key))}
    else:  # table, map
        s = _ref(_child_path(parent, key))
    s["description"] = _describe(key)
    if key.default is not K.NO_DEFAULT and key.type not in ("table", "array", "map"):
        s["default"] = key.default
    if key.example is not None:
        s["examples"] = [key.example]
    return s


def _describe(key: K.Key) -> str:
    text = key.doc
    if key.default_doc:
        text += f" Default: {key.default_doc}."
    if key.required_doc:
        text += f" Required {key.required_doc}."
    elif key.required:
        text += " Required."
    return text


def _table_schema(t: K.Table) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "object", "description": t.doc}
    if t.kind == "map":
        if t.suggested:
            s["properties"] = {k.name: _key_schema(t.path, k) for k in t.suggested}
        assert t.value is not None
        s["additionalProperties"] = _key_schema(t.path, t.value)
        return s
    s["properties"] = {k.name: _key_schema(t.path, k) for k in t.keys}
    s["additionalProperties"] = False
    required = [k.name for k in t.keys if k.required and not k.required_doc]
    if required:
        s["required"] = required
    return s


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07) of a study spec, as a dict ready for ``json.dumps``."""
    root = _table_schema(K.table(""))
    defs = {_def_name(t.path): _table_schema(t) for t in K.TABLES if t.path}
    return {
        "$schema": DRAFT,
        "title": "mmrwe study spec",
        "description": "Study spec of mmrwe (study.toml). `mmrwe explain KEY` prints the documentation of a key.",
        **{k: v for k, v in root.items() if k != "description"},
        # [data] is required, and patients (or redcap) in it, unless [[sites]] are given (mmrwe pool).
        "anyOf": [
            {"required": ["sites"]},
            {"required": ["data"], "properties": {"data": {"required": ["patients"]}}},
            {"required": ["data"], "properties": {"data": {"required": ["redcap"]}}},
        ],
        "definitions": defs,
    }


def schema_text() -> str:
    """The schema as the JSON text shipped in ``study.schema.json``."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _toml_value(value: Any) -> str:
    from mmrwe.spec.loader import toml_value

    return toml_value(value)


def _header(path: str, kind: str) -> str:
    shown = path.replace(".*", ".NAME")
    return f"[[{shown}]]" if kind == "array" else f"[{shown}]"


def explain(query: str) -> str:
    """Documentation of one key or table, as plain text (``mmrwe explain KEY``).

    Raises ``KeyError`` (with the closest names as its argument) when nothing matches.
    """
    table: K.Table | None
    key: K.Key | None
    if not query.strip():
        path, table, key = "", K.table(""), None
    else:
        try:
            path, table, key = K.resolve(query)
        except KeyError:
            raise KeyError(K.closest(query)) from None
    lines: list[str] = []
    wrap = textwrap.TextWrapper(width=88, subsequent_indent="  ")
    if key is None:
        assert table is not None
        title = _header(table.path, table.kind) if table.path else "study.toml (top level)"
        lines.append(f"{title}  ({_kind_words(table.kind)})")
        lines += wrap.wrap(table.doc)
        if table.kind == "map":
            assert table.value is not None
            lines.append(f"keys: names you choose; each value is {_type_words(table.value)}")
            for k in table.suggested:
                lines.append(f"  {k.name}: {k.doc}")
        else:
            lines.append("keys:")
            item = textwrap.TextWrapper(width=88, initial_indent="  ", subsequent_indent="      ")
            for k in table.keys:
                facts = [_type_words(k)]
                if k.required:
                    facts.append("required" + (f" {k.required_doc}" if k.required_doc else ""))
                elif k.default_doc or (
                    k.default is not K.NO_DEFAULT and k.type not in ("table", "array", "map")
                ):
                    facts.append(f"default {k.default_doc or _toml_value(k.default)}")
                lines += item.wrap(f"{k.name} ({', '.join(facts)}): {k.doc}")
        if table.example:
            lines += ["example:", *("  " + x for x in table.example.splitlines())]
        return "\n".join(lines)
    shown = K.user_path(query, path)
    parent = table.path if table is not None else ""
    parent_shown = shown.rsplit(".", 1)[0] if "." in shown else parent
    where = (
        f"in {_header(parent_shown, table.kind)}" if table is not None and parent else "top level"
    )
    if table is not None and "." in parent:
        outer, inner = parent.rsplit(".", 1)
        if K.table(outer).kind == "array":
            where = f"in [[{outer}]] -> {inner}"
    lines.append(f"{shown}  ({where}; {'contract key' if key.contract else 'mmrwe addition'})")
    lines += wrap.wrap(key.doc)
    lines.append(f"type: {_type_words(key)}")
    if key.choices:
        lines.append("allowed: " + " | ".join(_toml_value(c) for c in _allowed(key)))
    if key.minimum is not None or key.maximum is not None:
        lo = "-inf" if key.minimum is None else f"{key.minimum:g}"
        hi = "inf" if key.maximum is None else f"{key.maximum:g}"
        lines.append(f"range: {lo} to {hi}")
    if key.default_doc:
        lines.append(f"default: {key.default_doc}")
    elif key.default is not K.NO_DEFAULT:
        lines.append(f"default: {_toml_value(key.default)}")
    elif key.required:
        lines.append(
            "default: none (required" + (f" {key.required_doc})" if key.required_doc else ")")
        )
    else:
        lines.append("default: none (absent = not used)")
    if key.type in ("table", "array", "map"):
        lines.append(f"see: mmrwe explain {shown}")
    if (
        table is not None
        and table.kind == "map"
        and parent
        and "." in parent
        and K.table(parent.rsplit(".", 1)[0]).kind == "array"
    ):
        # A map inside an array entry (reference = { sex = "F" }) is written inline.
        outer, inner = parent.rsplit(".", 1)
        last = shown.rsplit(".", 1)[-1]
        inline = table.example or f"{inner} = {{ {last} = {_toml_value(key.example)} }}"
        lines += ["example:", f"  {_header(outer, 'array')}", f"  {inline}"]
    elif key.example is not None:
        lines.append("example:")
        if table is not None and parent:
            lines.append(f"  {_header(parent_shown, table.kind)}")
        lines.append(f"  {shown.rsplit('.', 1)[-1]} = {_toml_value(key.example)}")
    return "\n".join(lines)


def _allowed(key: K.Key) -> list[Any]:
    """The values a key with choices accepts (``false`` too for a string-or-false key)."""
    out: list[Any] = list(key.choices or ())
    return [*out, False] if key.type == "string_or_false" else out


def _kind_words(kind: str) -> str:
    return {
        "table": "table",
        "array": "array of tables: may repeat",
        "map": "table of names you choose",
    }[kind]


def _type_words(key: K.Key) -> str:
    return {
        "string": "string",
        "number": "number",
        "integer": "integer",
        "boolean": "true or false",
        "strings": "list of strings",
        "numbers": "list of numbers",
        "scalar": "string, number or true/false",
        "string_or_false": "string, or false",
        "table": "table",
        "array": "array of tables",
        "map": "table of names you choose",
    }[key.type]


MARKDOWN_BEGIN = "<!-- BEGIN KEY REFERENCE: generated by `mmrwe schema --markdown`; do not edit -->"
MARKDOWN_END = "<!-- END KEY REFERENCE -->"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_reference() -> str:
    """Every table and key of the spec as Markdown tables (the key reference of docs/spec.md)."""
    out = [MARKDOWN_BEGIN, ""]
    for t in K.TABLES:
        if not t.path:
            continue
        title = _header(t.path, t.kind)
        out += [f"### `{title}`", "", t.doc, ""]
        if t.kind == "map":
            assert t.value is not None
            out.append(f"Keys are names you choose; each value is {_type_words(t.value)}.")
            if t.suggested:
                out += ["", "| key | meaning |", "| --- | --- |"]
                out += [f"| `{k.name}` | {_md(k.doc)} |" for k in t.suggested]
        else:
            out += [
                "| key | type | default | allowed | meaning |",
                "| --- | --- | --- | --- | --- |",
            ]
            for k in t.keys:
                if k.required:
                    default = "required" + (f" {k.required_doc}" if k.required_doc else "")
                elif k.default_doc:
                    default = k.default_doc
                elif k.default is not K.NO_DEFAULT and k.type not in ("table", "array", "map"):
                    default = f"`{_toml_value(k.default)}`"
                else:
                    default = "-"
                if k.choices:
                    allowed = ", ".join(f"`{_toml_value(c)}`" for c in _allowed(k))
                elif k.minimum is not None or k.maximum is not None:
                    lo = "" if k.minimum is None else f"{k.minimum:g}"
                    hi = "" if k.maximum is None else f"{k.maximum:g}"
                    allowed = (
                        f"{lo} to {hi}".strip() if lo and hi else (f">= {lo}" if lo else f"<= {hi}")
                    )
                else:
                    allowed = "-"
                mark = "" if k.contract else " *(addition)*"
                out.append(
                    f"| `{k.name}` | {_type_words(k)} | {_md(default)} | {_md(allowed)} | {_md(k.doc)}{mark} |"
                )
        if t.example:
            out += ["", "```toml", t.example, "```"]
        out.append("")
    out.append(MARKDOWN_END)
    return "\n".join(out) + "\n"
