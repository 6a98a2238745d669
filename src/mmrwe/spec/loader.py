"""Strict TOML loader for the study spec.

Every problem of a spec is reported in one run: the loader reads the whole document,
records an :class:`~mmrwe.core.errors.Issue` (codes MMS001-MMS010, see
:mod:`mmrwe.spec.errors`) for each unknown key, wrong type, value outside its allowed set,
missing required key and broken reference, and raises one
:class:`~mmrwe.spec.errors.InvalidSpecError` carrying all of them at the end. Keys are named
in the user's terms: ``km.conf_type`` for a table, ``[[cox]] 2 -> reference.sex`` for the
second ``[[cox]]`` entry (1-based, as in results.json's ``spec_key``), with the line of the
TOML file when it can be found.

The allowed keys, their types, defaults and allowed values are declared once in
:mod:`mmrwe.spec.keys`; the JSON Schema and ``mmrwe explain`` are built from the same table.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mmrwe.core.errors import InputError, Issue, Location, SpecError
from mmrwe.spec import keys as K
from mmrwe.spec.errors import InvalidSpecError
from mmrwe.spec.keys import COMPETING_EVENTS
from mmrwe.spec.model import (
    TARGET_ITEMS,
    CompareProportionSpec,
    CoxSpec,
    CumincSpec,
    CutpointSpec,
    DataSection,
    DeriveSpec,
    DuplicateDecision,
    ExclusionSpec,
    FinegraySpec,
    ImputationSection,
    IptwSpec,
    KmSection,
    LogrankSpec,
    MaicComparator,
    MaicSpec,
    MaicTarget,
    PoolingSection,
    ProportionSpec,
    PseudonymizeSection,
    PublishedSpec,
    RedcapInstrument,
    RedcapSection,
    ReportSection,
    ResponseSection,
    RiskScoresSection,
    RmstSpec,
    SiteSpec,
    StudySection,
    StudySpec,
    SubgroupSpec,
    Table1Spec,
    TargetSection,
    TvCoxSpec,
    ValidationSection,
    VariableSpec,
)

#: Names of the top-level tables (kept for code that imported it).
TOP_LEVEL = set(K.table("").names)

# A segment of a key path: a table key, or (array name, 1-based entry number).
Segment = str | tuple[str, int]

# Builtin aliases: _Section has methods named str and bool, which would shadow them in
# annotations evaluated in the class body.
_Str = str
_Bool = bool

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ISSUE_CODE = re.compile(r"^MM[A-Z]\d{3}$")


def toml_key(name: str) -> str:
    """A key as written in TOML: bare when it can be, else quoted."""
    return name if _BARE_KEY.match(name) else '"' + name.replace('"', '\\"') + '"'


def spec_key_label(segments: Sequence[Segment]) -> str:
    """A key path in the user's terms.

    ``("km", "conf_type")`` -> ``km.conf_type``; ``(("cox", 2), "reference", "sex")`` ->
    ``[[cox]] 2 -> reference.sex``; ``("pooling", ("duplicates", 1), "rows")`` ->
    ``[[pooling.duplicates]] 1 -> rows``.
    """
    last = max((i for i, s in enumerate(segments) if isinstance(s, tuple)), default=-1)
    if last < 0:
        return ".".join(toml_key(s) for s in segments if isinstance(s, str))
    head = ".".join(toml_key(s if isinstance(s, str) else s[0]) for s in segments[: last + 1])
    entry = segments[last]
    assert isinstance(entry, tuple)
    rest = ".".join(toml_key(s if isinstance(s, str) else s[0]) for s in segments[last + 1 :])
    return f"[[{head}]] {entry[1]}" + (f" -> {rest}" if rest else "")


def toml_value(value: Any) -> _Str:
    """A value written as TOML (for fixes, examples and the specs `mmrwe init` writes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    s = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    return f'"{s}"'


class _KeyLines:
    """Line numbers of the keys and table headers of a TOML text (best effort).

    tomllib gives no positions; this scan knows table headers, arrays of tables and
    ``key = value`` lines, which is all a study spec uses.
    """

    _ARRAY = re.compile(r"^\[\[\s*(.+?)\s*\]\]")
    _TABLE = re.compile(r"^\[\s*(.+?)\s*\]")
    _KEY = re.compile(r'^("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*(\.|=)')

    def __init__(self, text: _Str):
        self.keys: dict[tuple[tuple[Segment, ...], _Str], int] = {}
        self.headers: dict[tuple[Segment, ...], int] = {}
        counts: dict[tuple[_Str, ...], int] = {}
        current: tuple[Segment, ...] = ()
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = self._ARRAY.match(line)
            if m:
                parts = tuple(self._split(m.group(1)))
                counts[parts] = counts.get(parts, 0) + 1
                current = self._segments(parts, counts)
                self.headers.setdefault(current, n)
                continue
            m = self._TABLE.match(line)
            if m:
                current = self._segments(tuple(self._split(m.group(1))), counts)
                self.headers.setdefault(current, n)
                continue
            m = self._KEY.match(line)
            if m:
                self.keys.setdefault((current, self._unquote(m.group(1))), n)

    @staticmethod
    def _unquote(s: _Str) -> _Str:
        return s[1:-1] if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'" else s

    def _split(self, header: _Str) -> list[_Str]:
        return [self._unquote(p.strip()) for p in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', header)]

    @staticmethod
    def _segments(
        parts: tuple[_Str, ...], counts: dict[tuple[_Str, ...], int]
    ) -> tuple[Segment, ...]:
        out: list[Segment] = []
        for i in range(len(parts)):
            prefix = parts[: i + 1]
            out.append((parts[i], counts[prefix]) if prefix in counts else parts[i])
        return tuple(out)

    def line(self, segments: Sequence[Segment], key: _Str | None) -> int | None:
        segs = tuple(segments)
        if key is None:
            return self.headers.get(segs)
        # A key inside an inline table is found on the line of its enclosing key.
        while True:
            n = self.keys.get((segs, key))
            if n is not None:
                return n
            if not segs:
                return None
            last = segs[-1]
            segs, key = segs[:-1], last if isinstance(last, str) else last[0]


class _Context:
    """The file, the issues found so far, and (in tests) a log of every key read."""

    def __init__(self, file: Path, text: _Str | None):
        self.file = file
        self.issues: list[Issue] = []
        self.lines = _KeyLines(text) if text else None
        self.trace: list[dict[str, Any]] | None = _TRACE[-1] if _TRACE else None


_TRACE: list[list[dict[str, Any]]] = []


@contextmanager
def trace_reads() -> Iterator[list[dict[str, Any]]]:
    """Record every key the loader reads (path, type, default, choices, range).

    Used by the tests that check the loader against :mod:`mmrwe.spec.keys`.
    """
    log: list[dict[str, Any]] = []
    _TRACE.append(log)
    try:
        yield log
    finally:
        _TRACE.pop()


class _Section:
    """Typed access to one TOML table; every problem is recorded, never raised."""

    def __init__(self, table: Any, segments: tuple[Segment, ...], schema_path: _Str, ctx: _Context):
        self.table: Mapping[str, Any] = table if isinstance(table, Mapping) else {}
        self.segments = segments
        self.schema_path = schema_path
        self.ctx = ctx

    # -- locations and issues -------------------------------------------------------------

    def label(self, key: _Str | None = None) -> _Str:
        return spec_key_label(self.segments + ((key,) if key is not None else ()))

    def _where(self, key: _Str | None = None) -> Location:
        line = self.ctx.lines.line(self.segments, key) if self.ctx.lines else None
        return Location(file=str(self.ctx.file), row=line, spec_key=self.label(key))

    def issue(self, code: _Str, what: _Str, fix: _Str, key: _Str | None = None) -> None:
        self.ctx.issues.append(Issue(code, "error", what, self._where(key), fix))

    def _schema_key(self, key: _Str) -> K.Key | None:
        if not K.has_table(self.schema_path):
            return None
        t = K.table(self.schema_path)
        return t.key(key) if t.kind != "map" else t.value

    def _example(self, key: _Str, fallback: Any) -> _Str:
        k = self._schema_key(key)
        value = k.example if k is not None and k.example is not None else fallback
        return f"{toml_key(key)} = {toml_value(value)}"

    def _trace(self, key: _Str, kind: _Str, default: Any, **extra: Any) -> None:
        if self.ctx.trace is not None:
            self.ctx.trace.append(
                {"path": self.schema_path, "key": key, "type": kind, "default": default, **extra}
            )

    def _table_name(self) -> _Str:
        if not self.segments:
            return "the top level of the spec"
        label = self.label()
        return label if label.startswith("[[") else f"[{label}]"

    # -- checks ---------------------------------------------------------------------------

    def reject_unknown(self, allowed: set[_Str] | frozenset[_Str] | None = None) -> None:
        names = set(K.table(self.schema_path).names) if allowed is None else set(allowed)
        for key in sorted(set(self.table) - names, key=_Str):
            near = difflib.get_close_matches(key, sorted(names), n=1)
            if not near:
                near = [n for n in sorted(names) if n.lower() == _Str(key).lower()]
            if near:
                fix = f"did you mean {near[0]!r}? ({self._example(near[0], '...')})"
            else:
                homes = _tables_with_key(key)
                if homes:
                    fix = f"{key!r} is a key of {' and '.join(homes)}: move it there"
                else:
                    fix = f"remove it; allowed in {self._table_name()}: {', '.join(sorted(names))}"
            self.issue("MMS001", f"unknown key {key!r} in {self._table_name()}", fix, key)

    def has(self, key: _Str) -> _Bool:
        return key in self.table

    def _missing(self, key: _Str, fallback: Any) -> None:
        self.issue(
            "MMS005",
            f"{self.label(key)} is missing (a required key)",
            f"add {self._example(key, fallback)} to {self._table_name()}",
            key,
        )

    def str(
        self,
        key: _Str,
        default: Any = None,
        *,
        required: _Bool = False,
        choices: Sequence[_Str] | None = None,
    ) -> Any:
        self._trace(key, "string", default, required=required, choices=choices)
        if key not in self.table:
            if required:
                self._missing(key, choices[0] if choices else "...")
            return default
        v = self.table[key]
        if not isinstance(v, _Str):
            self.issue(
                "MMS002",
                f"{self.label(key)} must be a string, got {toml_value(v)}",
                f"write {self._example(key, choices[0] if choices else '...')}",
                key,
            )
            return default
        if choices is not None and v not in choices:
            near = [c for c in choices if c.lower() == v.lower()] or difflib.get_close_matches(
                v, list(choices), n=1
            )
            allowed = " | ".join(toml_value(c) for c in choices)
            self.issue(
                "MMS003",
                f"{self.label(key)} = {v!r} is not one of {', '.join(map(repr, choices))}",
                f"did you mean {near[0]!r}? write {toml_key(key)} = {toml_value(near[0])}"
                if near
                else f"write {toml_key(key)} = {allowed}, choosing one",
                key,
            )
            return default
        return v

    def num(
        self,
        key: _Str,
        default: Any = None,
        *,
        lo: float | None = None,
        hi: float | None = None,
        integer: _Bool = False,
    ) -> Any:
        self._trace(key, "integer" if integer else "number", default, lo=lo, hi=hi)
        if key not in self.table:
            return default
        v = self.table[key]
        ok = isinstance(v, int | float) and not isinstance(v, bool)
        if integer:
            ok = isinstance(v, int) and not isinstance(v, bool)
        if not ok:
            kind = "an integer" if integer else "a number"
            quoted = isinstance(v, _Str) and _is_number_text(v)
            self.issue(
                "MMS002",
                f"{self.label(key)} must be {kind}, got {toml_value(v)}",
                ("remove the quotes: " if quoted else "")
                + f"write {self._example(key, default if default is not None else 1)}",
                key,
            )
            return default
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.issue(
                "MMS004",
                f"{self.label(key)} = {v} is outside the allowed range {_range(lo, hi)}",
                f"use a value {_range_words(lo, hi)}",
                key,
            )
            return default
        return int(v) if integer else float(v)

    def bool(self, key: _Str, default: _Bool) -> _Bool:
        self._trace(key, "boolean", default)
        if key not in self.table:
            return default
        v = self.table[key]
        if not isinstance(v, bool):
            hint = (
                f"write {toml_key(key)} = {v.strip().lower()} (without quotes)"
                if isinstance(v, _Str) and v.strip().lower() in ("true", "false")
                else f"write {toml_key(key)} = true or {toml_key(key)} = false"
            )
            self.issue(
                "MMS002", f"{self.label(key)} must be true or false, got {toml_value(v)}", hint, key
            )
            return default
        return v

    def str_or_false(self, key: _Str, default: Any, *, choices: Sequence[_Str]) -> Any:
        """One of ``choices``, or ``false`` (returned as None: the feature is off)."""
        self._trace(key, "string_or_false", default, choices=tuple(choices))
        if key not in self.table:
            return default
        v = self.table[key]
        if v is False:
            return None
        if isinstance(v, _Str) and v in choices:
            return v
        allowed = " | ".join([*(toml_value(c) for c in choices), "false"])
        if isinstance(v, _Str):
            near = [c for c in choices if c.lower() == v.lower()] or difflib.get_close_matches(
                v, list(choices), n=1
            )
            self.issue(
                "MMS003",
                f"{self.label(key)} = {v!r} is not one of {', '.join(map(repr, choices))} or false",
                f"did you mean {near[0]!r}? write {toml_key(key)} = {toml_value(near[0])}"
                if near
                else f"write {toml_key(key)} = {allowed}, choosing one",
                key,
            )
            return default
        self.issue(
            "MMS002",
            f"{self.label(key)} must be one of {', '.join(map(repr, choices))} or false, "
            f"got {toml_value(v)}",
            f"write {toml_key(key)} = {allowed}, choosing one",
            key,
        )
        return default

    def maybe_bool(self, key: _Str) -> _Bool | None:
        """A boolean key without a default: ``None`` when absent (the caller decides)."""
        self._trace(key, "boolean", None)
        if key not in self.table:
            return None
        v = self.table[key]
        if not isinstance(v, bool):
            self.issue(
                "MMS002",
                f"{self.label(key)} must be true or false, got {toml_value(v)}",
                f"write {toml_key(key)} = true or {toml_key(key)} = false",
                key,
            )
            return None
        return v

    def pair(self, key: _Str, default: Any = None, *, lo: float = 0.0, hi: float = 1.0) -> Any:
        """A list of two increasing numbers within [lo, hi] (``[lower, upper]``)."""
        v = self.num_list(key, default, lo=lo)
        if v is None or key not in self.table:
            return v
        if len(v) != 2 or not (v[0] < v[1]) or v[1] > hi:
            self.issue(
                "MMS004",
                f"{self.label(key)} = {toml_value(list(v))} must be two increasing numbers "
                f"within [{lo:g}, {hi:g}]",
                f"write {self._example(key, [lo, hi])}",
                key,
            )
            return default
        return (v[0], v[1])

    def str_list(
        self, key: _Str, default: Any = None, *, required: _Bool = False, nonempty: _Bool = False
    ) -> Any:
        self._trace(key, "strings", default, required=required)
        if key not in self.table:
            if required:
                self._missing(key, ["..."])
            return default
        v = self.table[key]
        if isinstance(v, _Str):
            v = [v]
        if not isinstance(v, list) or not all(
            isinstance(x, _Str | int | float) and not isinstance(x, bool) for x in v
        ):
            self.issue(
                "MMS002",
                f"{self.label(key)} must be a list of strings, got {toml_value(v)}",
                f"write {self._example(key, ['a', 'b'])}",
                key,
            )
            return default
        if nonempty and not v:
            self.issue(
                "MMS003",
                f"{self.label(key)} is an empty list",
                f"name at least one: {self._example(key, ['a'])}",
                key,
            )
            return default
        return tuple(_Str(x) for x in v)

    def num_list(self, key: _Str, default: Any = None, *, lo: float | None = None) -> Any:
        self._trace(key, "numbers", default, lo=lo)
        if key not in self.table:
            return default
        v = self.table[key]
        if not isinstance(v, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in v
        ):
            self.issue(
                "MMS002",
                f"{self.label(key)} must be a list of numbers, got {toml_value(v)}",
                f"write {self._example(key, [12, 24])}",
                key,
            )
            return default
        low = [x for x in v if lo is not None and x < lo]
        if low:
            self.issue(
                "MMS004",
                f"{self.label(key)} holds {toml_value(low[0])}, below the smallest allowed value {lo:g}",
                f"use values {_range_words(lo, None)}",
                key,
            )
            return default
        return tuple(float(x) for x in v)

    def open_choice(self, key: _Str, what: _Str) -> _Bool:
        """True (and an MMS008 issue) when ``key`` holds a list of candidates to choose from.

        ``mmrwe init`` writes a list when it cannot decide between candidates (e.g. day/month
        or month/day dates): the spec must not load until the user keeps one.
        """
        v = self.table.get(key)
        if not isinstance(v, list):
            return False
        options = [x for x in v if isinstance(x, _Str)]
        self.issue(
            "MMS008",
            f"{self.label(key)} lists {len(v)} candidate {what}s ({', '.join(map(repr, options))}): "
            "a choice is left to you",
            f"keep the one that is right, e.g. {toml_key(key)} = {toml_value(options[0] if options else '...')} "
            "(the comment above the key in the spec says what was seen in the file)",
            key,
        )
        return True

    # -- nested tables --------------------------------------------------------------------

    def sub(self, key: _Str) -> _Section:
        v = self.table.get(key, {})
        path = f"{self.schema_path}.{key}" if self.schema_path else key
        if K.has_table(self.schema_path) and K.table(self.schema_path).kind == "map":
            path = f"{self.schema_path}.*"
        if not isinstance(v, Mapping):
            self.issue(
                "MMS010",
                f"{self.label(key)} must be a table, got {toml_value(v)}",
                f"write it as [{self.label(key)}] followed by key = value lines"
                if not any(isinstance(s, tuple) for s in self.segments)
                else f'write it as {toml_key(key)} = {{ name = "value" }}',
                key,
            )
            v = {}
        return _Section(v, (*self.segments, key), path, self.ctx)

    def array(self, key: _Str) -> list[_Section]:
        if key not in self.table:
            return []
        v = self.table[key]
        path = f"{self.schema_path}.{key}" if self.schema_path else key
        if isinstance(v, Mapping):
            v = [v]
        if not isinstance(v, list):
            self.issue(
                "MMS010",
                f"{self.label(key)} must be an array of tables, got {toml_value(v)}",
                f"write each entry under its own [[{self.label(key)}]] header",
                key,
            )
            return []
        out = []
        for i, item in enumerate(v, 1):
            sec = _Section(item, (*self.segments, (key, i)), path, self.ctx)
            if not isinstance(item, Mapping):
                sec.issue(
                    "MMS010",
                    f"{sec.label()} must be a table, got {toml_value(item)}",
                    f"write each entry under its own [[{self.label(key)}]] header",
                )
            out.append(sec)
        return out

    def str_pairs(self) -> tuple[tuple[_Str, _Str], ...]:
        """This table as (name, string) pairs (``[data.columns]``, ``[validation.accept]``)."""
        out = []
        for name in self.table:
            value = self.str(name)
            if value is not None:
                out.append((name, value))
        return tuple(out)

    def str_map(self, key: _Str) -> tuple[tuple[_Str, _Str], ...]:
        """The sub-table ``key`` as (name, string) pairs."""
        return self.sub(key).str_pairs()


def _is_number_text(s: _Str) -> _Bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _range(lo: float | None, hi: float | None) -> _Str:
    return f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"


def _range_words(lo: float | None, hi: float | None) -> _Str:
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}"
    if lo is not None:
        return f"of at least {lo:g}"
    return f"of at most {hi:g}"


def _tables_with_key(key: _Str) -> list[_Str]:
    out = []
    for t in K.TABLES:
        if t.kind != "map" and t.key(key) is not None and t.path:
            out.append(f"[[{t.path}]]" if t.kind == "array" else f"[{t.path}]")
    return out


def _sha256_file(path: Path) -> _Str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_spec(path: _Str | Path) -> StudySpec:
    """Read and check a study spec TOML file.

    Parameters
    ----------
    path : str or Path
        The ``study.toml`` file. Data paths inside it are relative to its folder.

    Returns
    -------
    StudySpec
        Frozen, fully checked spec.

    Raises
    ------
    InputError
        The file is missing or not valid TOML.
    InvalidSpecError
        (a :class:`~mmrwe.core.errors.SpecError`) every unknown key, wrong type, value
        outside its allowed set, missing key and broken reference, in ``issues``.
    """
    from mmrwe.core.safety import check_input_file, input_limits, nesting_depth

    p = Path(path)
    if not p.exists():
        raise InputError(
            f"study spec not found: {p}",
            where=Location(file=_Str(p)),
            fix="check the path; `mmrwe init DATAFILE` writes a starting spec for a data file",
        )
    size = check_input_file(p).st_size  # a pipe or a device would never end
    lim = input_limits()
    if size > lim.max_spec_bytes:
        raise SpecError(
            f"study spec has {size:,} bytes (cap MMRWE_MAX_SPEC_BYTES = {lim.max_spec_bytes:,}); a study spec is a few kilobytes",
            where=Location(file=str(p)),
            fix="check that the path names the study spec (TOML), not a data file",
        )
    raw_bytes = p.read_bytes()
    text: _Str | None = None
    try:
        text = raw_bytes.decode("utf-8")
        doc = tomllib.loads(text)
        depth = nesting_depth(doc)
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        depth = None
        text = None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"study spec is not UTF-8 text: {exc}",
            where=Location(file=_Str(p)),
            fix="save the file as UTF-8",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"study spec is not valid TOML: {exc}",
            where=Location(file=_Str(p)),
            fix="check quotes, brackets and '=' on the line named above",
        ) from None
    if depth is None or depth > lim.max_spec_depth:
        raise SpecError(
            f"study spec nests arrays or tables {'too deeply to read' if depth is None else f'{depth} levels deep'} (cap MMRWE_MAX_SPEC_DEPTH = {lim.max_spec_depth})",
            where=Location(file=_Str(p)),
            fix="a study spec needs a few levels ([section], [[list]], arrays of values); check the file",
        )
    return parse_spec(doc, path=p, sha256=hashlib.sha256(raw_bytes).hexdigest(), text=text)


def parse_spec(
    doc: Mapping[_Str, Any], *, path: Path, sha256: _Str = "", text: _Str | None = None
) -> StudySpec:
    """Build a :class:`StudySpec` from an already-parsed TOML document.

    ``text`` (the TOML source) lets messages name the line of each problem.
    Raises :class:`~mmrwe.spec.errors.InvalidSpecError` listing every problem found.
    """
    ctx = _Context(path, text)
    spec = _parse(doc, path, sha256, ctx)
    if ctx.issues:
        raise InvalidSpecError(ctx.issues, partial=spec)
    return spec


def _parse(doc: Mapping[_Str, Any], path: Path, sha256: _Str, ctx: _Context) -> StudySpec:
    root = _Section(doc, (), "", ctx)
    root.reject_unknown()
    base = path.parent

    s = root.sub("study")
    s.reject_unknown()
    study = StudySection(
        title=s.str("title", "Untitled study"),
        time_unit=s.str("time_unit", "months", choices=("days", "months", "years")),
        alpha=s.num("alpha", 0.05, lo=1e-6, hi=0.5),
        description=s.str("description", ""),
        synthetic=s.bool("synthetic", False),
        rare_outcome=s.maybe_bool("rare_outcome"),
    )

    if "data" not in doc and "sites" not in doc:
        root.issue(
            "MMS005",
            "the study spec has no [data] table",
            'add [data] with patients = "patients.csv" (the patient table, relative to the spec)',
            "data",
        )
    data = _data(root, base, has_sites="sites" in doc, has_data="data" in doc)
    variables = _variables(root)
    response = _response(root, data)
    km = _km(root, study)
    derive = _derive(root)
    proportions = _proportions(root)
    prop_names = {p.name for p in proportions}
    compare = _compare(root, prop_names)
    logrank = _logrank(root)
    cox = _cox(root)
    cutpoints = _cutpoints(root, prop_names)
    subgroups = _subgroups(root)
    cuminc = _cuminc(root, km, study)
    finegray = _finegray(root, study)
    rmst = _rmst(root, study)
    iptw = _iptw(root)
    maic = _maic(root, prop_names)
    imputation = _imputation(root)
    target = _target(root)
    tv_cox = _tv_cox(root)
    risk_scores = _risk_scores(root, variables)

    t1 = root.sub("table1")
    t1.reject_unknown()
    table1 = Table1Spec(variables=t1.str_list("variables", ()), by=t1.str("by"))

    v = root.sub("validation")
    v.reject_unknown()
    acc = v.sub("accept")
    accept = acc.str_pairs()
    for code, _reason in accept:
        if not _ISSUE_CODE.match(code):
            acc.issue(
                "MMS003",
                f"{acc.label(code)}: {code!r} is not an issue code",
                'use the code printed by `mmrwe validate`, e.g. MMV011 = "values checked with the center"',
                code,
            )
    validation = ValidationSection(
        accept=accept, exclude_invalid_rows=v.bool("exclude_invalid_rows", False)
    )

    c = root.sub("cohort")
    c.reject_unknown()
    exclusions = []
    for e in c.array("exclude"):
        e.reject_unknown()
        pid, reason = e.str("patient_id", required=True), e.str("reason", required=True)
        exclusions.append(ExclusionSpec(patient_id=pid or "", reason=reason or ""))

    rep = root.sub("report")
    rep.reject_unknown()
    formats = rep.str_list("figure_formats", ())
    for fmt in formats:
        if fmt not in _FIGURE_FORMATS:
            rep.issue(
                "MMS004",
                f"{rep.label('figure_formats')}: {fmt!r} is not one of {', '.join(_FIGURE_FORMATS)}",
                f'write e.g. figure_formats = ["pdf", "svg", "tiff"] ({", ".join(_FIGURE_FORMATS)})',
                "figure_formats",
            )
    report = ReportSection(
        small_cell_k=rep.num("small_cell_k", 0, lo=0, hi=1000, integer=True),
        table1_by=rep.str("table1_by"),
        figure_formats=tuple(f for f in dict.fromkeys(formats) if f in _FIGURE_FORMATS),
        figure_dpi=rep.num("figure_dpi", 600, lo=72, hi=2400, integer=True),
        figure_width_mm=rep.num("figure_width_mm", 170.0, lo=50, hi=260),
        palette=rep.str("palette", "okabe-ito", choices=("okabe-ito", "greyscale")),
        km_annotations=rep.bool("km_annotations", True),
        swimmer=rep.bool("swimmer", False),
        swimmer_max_patients=rep.num("swimmer_max_patients", 60, lo=1, hi=200, integer=True),
        therapy_flow=rep.bool("therapy_flow", False),
        therapy_flow_by=rep.str("therapy_flow_by", "regimen", choices=("regimen", "class")),
        therapy_flow_start=rep.str(
            "therapy_flow_start", "first_line", choices=("first_line", "study_line")
        ),
        therapy_flow_max_lines=rep.num("therapy_flow_max_lines", 5, lo=1, hi=12, integer=True),
        patient_listing=rep.bool("patient_listing", False),
    )
    published = tuple(_published(e) for e in root.array("published"))

    sites = _sites(root, base, variables)
    pooling = _pooling(root)
    ps = root.sub("pseudonymize")
    ps.reject_unknown()
    pseudonymize = PseudonymizeSection(
        identifiers=ps.str_list("identifiers", ()),
        keep=ps.str_list("keep", ()),
        shift_dates=ps.bool("shift_dates", False),
        max_shift_days=ps.num("max_shift_days", 182, lo=1, hi=3650, integer=True),
        keep_only=ps.str_list("keep_only"),
        dates=ps.str("dates", None, choices=("keep", "relative", "shift")),
        birth_dates=ps.str("birth_dates", "year", choices=("year", "age", "keep")),
    )

    return StudySpec(
        path=path,
        sha256=sha256,
        study=study,
        data=data,
        variables=tuple(variables),
        response=response,
        km=km,
        derive=tuple(derive),
        proportions=tuple(proportions),
        compare_proportions=tuple(compare),
        logrank=tuple(logrank),
        cox=tuple(cox),
        cutpoints=tuple(cutpoints),
        subgroups=tuple(subgroups),
        cuminc=tuple(cuminc),
        finegray=tuple(finegray),
        rmst=tuple(rmst),
        iptw=tuple(iptw),
        maic=tuple(maic),
        imputation=imputation,
        target=target,
        tv_cox=tuple(tv_cox),
        risk_scores=risk_scores,
        table1=table1,
        validation=validation,
        exclusions=tuple(exclusions),
        report=report,
        published=published,
        sites=sites,
        pooling=pooling,
        pseudonymize=pseudonymize,
    )


_ENCODINGS_HINT = '"utf-8", "utf-8-sig", "cp1252", "latin-1"'


def _date_format(sec: _Section, default: _Str | None) -> _Str | None:
    if sec.open_choice("date_format", "date format"):
        return default
    fmt = sec.str("date_format", default)
    if fmt is not None and "%" not in fmt:
        sec.issue(
            "MMS009",
            f"{sec.label('date_format')} = {fmt!r} has no strftime directives",
            'use e.g. "%Y-%m-%d" (ISO), "%d/%m/%Y" (day/month/year) or "%m/%d/%Y" (month/day/year)',
            "date_format",
        )
        return default
    return fmt


def _encoding(sec: _Section, default: _Str | None) -> _Str | None:
    enc = sec.str("encoding", default)
    if enc is None:
        return None
    try:
        codecs.lookup(enc)
    except LookupError:
        sec.issue(
            "MMS009",
            f"{sec.label('encoding')} = {enc!r} is not a text encoding Python knows",
            f"use one of {_ENCODINGS_HINT} (`mmrwe init DATAFILE` detects it)",
            "encoding",
        )
        return default
    return enc


def _delimiter(sec: _Section) -> _Str | None:
    sep = sec.str("delimiter")
    if sep == "":
        sec.issue(
            "MMS009",
            f"{sec.label('delimiter')} is empty",
            'write the separator, e.g. delimiter = ";" (or "\\t" for tab)',
            "delimiter",
        )
        return None
    return sep


def _redcap(sec: _Section, base: Path, *, instruments: _Bool) -> RedcapSection | None:
    """``redcap = { records = ..., dictionary = ... }`` of [data] or a [[sites]] entry."""
    if not sec.has("redcap"):
        return None
    r = sec.sub("redcap")
    r.reject_unknown()
    records = r.str("records", required=True)
    dictionary = r.str("dictionary", required=True)
    groups = r.str("groups")
    boxes = r.sub("checkboxes")
    checkboxes = []
    for name in boxes.table:
        mode = boxes.str(name, None, choices=K.REDCAP_CHECKBOX_MODES)
        if mode is not None:
            checkboxes.append((name, mode))
    tables: dict[_Str, RedcapInstrument | None] = {"labs": None, "therapy": None}
    if instruments:
        for key in tables:
            if not r.has(key):
                continue
            t = r.sub(key)
            t.reject_unknown()
            form = t.str("instrument", required=True)
            cols = t.str_map("columns")
            if form is not None:
                tables[key] = RedcapInstrument(instrument=form, columns=cols)
    section = RedcapSection(
        records=base / (records or ""),
        dictionary=base / (dictionary or ""),
        groups=base / groups if groups else None,
        export=r.str("export", "raw", choices=K.REDCAP_EXPORTS),
        baseline_event=r.str("baseline_event"),
        forms=r.str_list("forms"),
        checkboxes=tuple(checkboxes),
        labs=tables["labs"],
        therapy=tables["therapy"],
    )
    return section if records and dictionary else None


def _data(root: _Section, base: Path, *, has_sites: _Bool, has_data: _Bool) -> DataSection:
    d = root.sub("data")
    d.reject_unknown()
    column_pairs = d.str_map("columns")
    date_format = _date_format(d, "%Y-%m-%d") or "%Y-%m-%d"
    labs = d.str("labs")
    therapy = d.str("therapy")
    redcap = _redcap(d, base, instruments=True)
    if d.has("redcap"):
        # A REDCap project replaces the patient, lab and therapy files, and its dictionary
        # says how each date is written: keys that would say otherwise are refused.
        for other in ("patients", "labs", "therapy", "date_format", "sheet", "table", "format"):
            if d.has(other):
                d.issue(
                    "MMS007",
                    f"data.{other} cannot be given with data.redcap",
                    "remove it: with a REDCap project, the record export is the patient table, "
                    "[data.redcap.labs] and [data.redcap.therapy] name the lab and therapy "
                    "instruments, and each date is read by its field's validation type",
                    other,
                )
    # A pooling spec may leave out [data] patients: `mmrwe pool` reads the [[sites]] files,
    # and `mmrwe analyze` then reads the pooled table written as pooled_patients.csv.
    patients = d.str("patients", required=has_data and not has_sites and not d.has("redcap"))
    patients = patients or "pooled_patients.csv"
    # engine/url/table/format/omop: the engine the study runs on (mmrwe.study.pipeline); a
    # patients value with "://" is a database URL, kept as text (a Path would fold its "//").
    engine = d.str("engine", "pandas", choices=("pandas", "duckdb", "postgres", "spark"))
    url = patients if "://" in patients else None
    data_format = d.str("format", "canonical", choices=("canonical", "omop"))
    omop_sec = d.sub("omop")
    omop_sec.reject_unknown()
    omop_opts = tuple((k, val) for k in omop_sec.table if (val := omop_sec.str(k)) is not None)
    if (url is not None or data_format == "omop") and engine == "pandas":
        d.issue(
            "MMS007",
            "a database URL or OMOP input needs a database engine",
            'add engine = "duckdb" (or "postgres", "spark") under [data]',
            "engine",
        )
    sheet = None if d.open_choice("sheet", "sheet") else d.str("sheet")
    table = d.str("table", None)
    return DataSection(
        patients=redcap.records
        if redcap is not None
        else (base / (table or "patients") if url else base / patients),
        labs=base / labs if labs else None,
        therapy=base / therapy if therapy else None,
        columns=column_pairs,
        date_format=date_format,
        sheet=sheet,
        delimiter=_delimiter(d),
        decimal=d.str("decimal", ".", choices=(".", ",")),
        encoding=_encoding(d, "utf-8") or "utf-8",
        missing_values=d.str_list(
            "missing_values", DataSection.__dataclass_fields__["missing_values"].default
        ),
        engine=engine,
        url=url,
        table=table,
        format=data_format,
        omop=omop_opts,
        redcap=redcap,
    )


def _variables(root: _Section) -> list[VariableSpec]:
    variables: list[VariableSpec] = []
    vroot = root.sub("variables")
    for name in vroot.table:
        v = vroot.sub(name)
        v.reject_unknown()
        variables.append(
            VariableSpec(
                name=name,
                unit=v.str("unit"),
                label=v.str("label"),
                type=v.str("type", None, choices=("numeric", "categorical", "date")),
                levels=v.str_list("levels"),
                analyte=v.str("analyte"),
            )
        )
    return variables


def _response(root: _Section, data: DataSection) -> ResponseSection:
    r = root.sub("response")
    r.reject_unknown()
    response = ResponseSection(
        source=r.str("source", "recorded", choices=("recorded", "labs")),
        criteria=r.str("criteria", "imwg2016", choices=("imwg2016",)),
        baseline_window_days=r.num("baseline_window_days", 30, lo=0, hi=3650, integer=True),
        measurable_serum_g_dl=r.num("measurable_serum_g_dl", 1.0, lo=0.5, hi=1.0),
        refractory_threshold=r.str("refractory_threshold", "MR", choices=("MR", "PR")),
        refractory_window_days=r.num("refractory_window_days", 60, lo=0, hi=3650, integer=True),
        unconfirmed_pd_is_event=r.bool("unconfirmed_pd_is_event", False),
        unconfirmed_pd_bor=r.str("unconfirmed_pd_bor", "PD", choices=("PD", "NE")),
        scr_without_clonality=r.str("scr_without_clonality", "CR", choices=("CR", "flc_ratio")),
        steroid_change_opens_line=r.bool("steroid_change_opens_line", False),
        regimen_merge_days=r.num("regimen_merge_days", 30, lo=0, hi=365, integer=True),
        profile=r.str("profile", "strict", choices=("strict", "relaxed", "simultaneous_pd")),
        isotype_column=r.str("isotype_column", "isotype"),
    )
    if response.source == "labs" and not data.has_labs:
        r.issue(
            "MMS007",
            'response.source = "labs" needs a lab table',
            'add labs = "labs.csv" under [data], or use source = "recorded"',
            "source",
        )
    return response


def _km(root: _Section, study: StudySection) -> KmSection:
    k = root.sub("km")
    k.reject_unknown()
    return KmSection(
        conf_type=k.str("conf_type", "log-log", choices=("log-log", "log", "plain")),
        conf_level=k.num("conf_level", 1.0 - study.alpha, lo=0.5, hi=0.999),
        landmarks=k.num_list("landmarks", KmSection().landmarks, lo=0.0),
        median_ci=k.str("median_ci", "band", choices=("band", "symmetric")),
        risk_table_step=k.num("risk_table_step", None, lo=1e-9),
        endpoints=_km_endpoints(k),
        landmark_from=k.num("landmark_from", None, lo=1e-9),
    )


def _km_endpoints(k: _Section) -> tuple[_Str, ...]:
    from mmrwe.spec.model import ENDPOINTS

    eps = k.str_list("endpoints", ("PFS", "OS"), nonempty=True)
    out = []
    for ep in eps:
        if ep not in ENDPOINTS:
            near = [c for c in ENDPOINTS if c.lower() == ep.lower()] or difflib.get_close_matches(
                ep, list(ENDPOINTS), n=1
            )
            k.issue(
                "MMS003",
                f"{k.label('endpoints')}: {ep!r} is not an endpoint ({', '.join(ENDPOINTS)})",
                f"did you mean {near[0]!r}?" if near else f"use some of: {', '.join(ENDPOINTS)}",
                "endpoints",
            )
        elif ep not in out:
            out.append(ep)
    return tuple(out) or ("PFS", "OS")


def _terms_reference(e: _Section, terms: Sequence[_Str] | None) -> tuple[tuple[_Str, _Str], ...]:
    ref = e.sub("reference")
    reference = []
    for term, level in ref.table.items():
        ref._trace(term, "scalar", None)
        if isinstance(level, Mapping | list) or level is None:
            ref.issue(
                "MMS002",
                f"{ref.label(term)} must be one level of {term!r}, got {toml_value(level)}",
                f'write reference = {{ {toml_key(term)} = "level" }}',
                term,
            )
            continue
        if terms is not None and term not in terms:
            near = difflib.get_close_matches(term, list(terms), n=1)
            ref.issue(
                "MMS006",
                f"{ref.label(term)}: {term!r} is not one of the model's terms ({', '.join(terms)})",
                (f"did you mean {near[0]!r}? " if near else "")
                + f'add "{term}" to terms, or remove the reference for it',
                term,
            )
        reference.append((term, _Str(level).lower() if isinstance(level, bool) else _Str(level)))
    return tuple(reference)


def _tv_cox(root: _Section) -> list[TvCoxSpec]:
    out = []
    for e in root.array("tv_cox"):
        e.reject_unknown()
        endpoint = _endpoint(e) or ""
        if endpoint == "DoR":
            e.issue(
                "MMS003",
                f'{e.label("endpoint")} = "DoR": the origin of DoR is the response itself, so '
                "response cannot vary over its follow-up",
                'use endpoint = "PFS" or "OS" (or TTP, TTNT, PFS2)',
                "endpoint",
            )
        terms = e.str_list("terms", ()) or ()
        tv = e.str_list("time_varying", ("response",), nonempty=True) or ("response",)
        both = sorted(set(tv) & set(terms))
        if both:
            e.issue(
                "MMS007",
                f"{e.label()}: {both[0]!r} is both a baseline term and time-varying",
                "keep it in one of terms and time_varying",
                "terms",
            )
        out.append(
            TvCoxSpec(
                endpoint=endpoint,
                time_varying=tv,
                terms=terms,
                reference=_terms_reference(e, terms),
                ties=e.str("ties", "efron", choices=("efron", "breslow")),
                name=e.str("name"),
            )
        )
    return out


_RISK_INPUTS = ("beta2m", "albumin", "ldh", "del17p", "del17p_pct", "t4_14", "t14_16",
                "t14_20", "gain1q", "del1p32", "tp53", "creatinine")  # fmt: skip


def _risk_scores(root: _Section, variables: list[VariableSpec]) -> RiskScoresSection:
    r = root.sub("risk_scores")
    r.reject_unknown()
    cols = {k: r.str(k) for k in _RISK_INPUTS}
    units = {v.name: v.unit for v in variables}
    alb_unit = r.str("albumin_unit", None, choices=("g/dL", "g/L"))
    cr_unit = r.str("creatinine_unit", None, choices=("mg/dL", "umol/L"))
    for key, col, unit, allowed in (
        ("albumin_unit", cols["albumin"], alb_unit, ("g/dL", "g/L")),
        ("creatinine_unit", cols["creatinine"], cr_unit, ("mg/dL", "umol/L")),
    ):
        if col is None or unit is not None:
            continue
        declared = units.get(col)
        if declared is None or declared not in allowed:
            r.issue(
                "MMS005",
                f"{r.label(key)} is missing and [variables.{col}] declares "
                + (f"unit {declared!r}" if declared else "no unit")
                + f": the unit of {col!r} is never guessed",
                f'add {key} = "{allowed[0]}" (or "{allowed[1]}") under [risk_scores]',
                key,
            )
    uln: Any = None
    if r.has("ldh_uln"):
        r._trace("ldh_uln", "scalar", None)
        v = r.table["ldh_uln"]
        if (
            isinstance(v, bool)
            or not isinstance(v, int | float | _Str)
            or (isinstance(v, int | float) and v <= 0)
        ):
            r.issue(
                "MMS002",
                f"{r.label('ldh_uln')} must be a positive number or a column name, got {toml_value(v)}",
                'write ldh_uln = 250 (one upper limit for all) or ldh_uln = "ldh_uln" (a column)',
                "ldh_uln",
            )
        else:
            uln = float(v) if isinstance(v, int | float) else v
    return RiskScoresSection(
        **cols,
        albumin_unit=alb_unit or (units.get(cols["albumin"] or "") if cols["albumin"] else None),
        creatinine_unit=cr_unit
        or (units.get(cols["creatinine"] or "") if cols["creatinine"] else None),
        ldh_uln=uln,
        del17p_cutoff=r.num("del17p_cutoff", 20.0, lo=0, hi=100),
    )


_DERIVE_RULES = ("below", "at_least", "above", "in")


def _derive(root: _Section) -> list[DeriveSpec]:
    derive: list[DeriveSpec] = []
    seen: dict[_Str, _Str] = {}
    for e in root.array("derive"):
        e.reject_unknown()
        name = e.str("name", required=True)
        rules = [x for x in _DERIVE_RULES if e.has(x)]
        if len(rules) != 1:
            got = "none" if not rules else " and ".join(rules)
            e.issue(
                "MMS007",
                f"{e.label()} ({name or '?'}) needs exactly one of below, at_least, above, in; it has {got}",
                "keep one rule, e.g. below = 11 (1 where the value is < 11, 0 where >= 11)",
                rules[1] if len(rules) > 1 else None,
            )
        labels = e.str_list("labels")
        if labels is not None and len(labels) != 2:
            e.issue(
                "MMS003",
                f"{e.label('labels')} has {len(labels)} entries; it needs two",
                'write labels = ["label for 1", "label for 0"], e.g. ["<11", ">=11"]',
                "labels",
            )
            labels = None
        if name is not None and name in seen:
            e.issue(
                "MMS007",
                f"{e.label('name')} = {name!r} is already defined by {seen[name]}",
                "give every [[derive]] its own name",
                "name",
            )
        elif name is not None:
            seen[name] = e.label()
        derive.append(
            DeriveSpec(
                name=name or "",
                from_=e.str("from", required=True) or "",
                below=e.num("below"),
                at_least=e.num("at_least"),
                above=e.num("above"),
                in_=e.str_list("in"),
                labels=labels,
            )
        )
    return derive


def _proportions(root: _Section) -> list[ProportionSpec]:
    proportions = []
    seen: dict[_Str, _Str] = {}
    for e in root.array("proportion"):
        e.reject_unknown()
        name = e.str("name", required=True)
        if name is not None and name in seen:
            e.issue(
                "MMS007",
                f"{e.label('name')} = {name!r} is already defined by {seen[name]}",
                "give every [[proportion]] its own name (comparisons and cut-offs refer to it)",
                "name",
            )
        elif name is not None:
            seen[name] = e.label()
        proportions.append(
            ProportionSpec(
                name=name or "",
                variable=e.str("variable", required=True) or "",
                success=e.str_list("success", required=True, nonempty=True) or (),
                method=e.str(
                    "method", "clopper-pearson", choices=("clopper-pearson", "wilson", "wilson-cc")
                ),
                denominator=e.str("denominator", "all", choices=("all", "non-missing")),
            )
        )
    return proportions


def _proportion_ref(e: _Section, key: _Str, value: _Str, names: set[_Str]) -> None:
    if value in names:
        return
    near = difflib.get_close_matches(value, sorted(names), n=1)
    if near:
        fix = f'did you mean {near[0]!r}? write {key} = "{near[0]}"'
    elif names:
        fix = f"use one of the [[proportion]] names: {', '.join(sorted(names))}"
    else:
        fix = f'define it first: [[proportion]] name = "{value}", variable = "best_response", success = ["sCR", "CR", "VGPR", "PR"]'
    e.issue("MMS006", f"{e.label(key)} = {value!r} is not the name of a [[proportion]]", fix, key)


def _compare(root: _Section, prop_names: set[_Str]) -> list[CompareProportionSpec]:
    compare = []
    for e in root.array("compare_proportion"):
        e.reject_unknown()
        outcome = e.str("outcome", required=True)
        if outcome is not None:
            _proportion_ref(e, "outcome", outcome, prop_names)
        compare.append(
            CompareProportionSpec(outcome=outcome or "", by=e.str("by", required=True) or "")
        )
    return compare


def _logrank(root: _Section) -> list[LogrankSpec]:
    logrank = []
    for e in root.array("logrank"):
        e.reject_unknown()
        logrank.append(
            LogrankSpec(
                endpoint=_endpoint(e) or "",
                by=e.str("by", required=True) or "",
                strata=e.str("strata"),
                trend=e.bool("trend", False),
                rho=e.num("rho", 0.0, lo=0.0, hi=10.0),
            )
        )
    return logrank


def _cox(root: _Section) -> list[CoxSpec]:
    cox = []
    for e in root.array("cox"):
        e.reject_unknown()
        terms = e.str_list("terms", required=True, nonempty=True)
        reference = _terms_reference(e, terms)
        cox.append(
            CoxSpec(
                endpoint=_endpoint(e) or "",
                terms=terms or (),
                reference=reference,
                ties=e.str("ties", "efron", choices=("efron", "breslow")),
                ph_test=e.bool("ph_test", True),
                ph_transform=e.str("ph_transform", "km", choices=("km", "rank", "identity")),
                strata=e.str("strata"),
                robust=e.bool("robust", False),
                cluster=e.str("cluster"),
                firth=e.str("firth", "auto", choices=("auto", "always", "never")),
                name=e.str("name"),
                term_tests=e.str_or_false("term_tests", "II", choices=("II", "sequential")),
                rare_outcome=e.maybe_bool("rare_outcome"),
            )
        )
    return cox


def _subgroups(root: _Section) -> list[SubgroupSpec]:
    out = []
    for e in root.array("subgroup"):
        e.reject_unknown()
        effect = e.str("effect", required=True) or ""
        by = e.str_list("by", required=True, nonempty=True) or ()
        if effect and effect in by:
            e.issue(
                "MMS006",
                f"{e.label('by')} holds the effect {effect!r} itself",
                f"remove {effect!r} from by: its subgroups could not compare its levels",
                "by",
            )
        reference: _Str | None = None
        e._trace("reference", "scalar", None)
        if e.has("reference"):
            level = e.table["reference"]
            if isinstance(level, Mapping | list) or level is None:
                e.issue(
                    "MMS002",
                    f"{e.label('reference')} must be one level of {effect!r}, got {toml_value(level)}",
                    'write reference = "level" (a value of the effect column)',
                    "reference",
                )
            else:
                reference = _Str(level).lower() if isinstance(level, bool) else _Str(level)
        out.append(
            SubgroupSpec(
                endpoint=_endpoint(e) or "",
                effect=effect,
                by=tuple(dict.fromkeys(by)),
                reference=reference,
            )
        )
    return out


def _cutpoints(root: _Section, prop_names: set[_Str]) -> list[CutpointSpec]:
    cutpoints = []
    for e in root.array("cutpoint"):
        e.reject_unknown()
        endpoint = _endpoint(e, required=False)
        proportion = e.str("proportion")
        if e.has("endpoint") == e.has("proportion"):
            both = e.has("endpoint")
            e.issue(
                "MMS007",
                f"{e.label()} needs exactly one of endpoint or proportion; it has "
                + ("both" if both else "neither"),
                'write endpoint = "PFS" (survival outcome) or proportion = "ORR" (a binary [[proportion]])',
                "proportion" if both else None,
            )
        if proportion is not None:
            _proportion_ref(e, "proportion", proportion, prop_names)
        cutpoints.append(
            CutpointSpec(
                variable=e.str("variable", required=True) or "",
                endpoint=endpoint,
                proportion=proportion,
                method=e.str("method", "maxstat", choices=("maxstat", "youden")),
                minprop=e.num("minprop", 0.1, lo=0.0, hi=0.49),
                maxprop=e.num("maxprop", 0.9, lo=0.5, hi=1.0),
                direction=e.str("direction", ">=", choices=("<=", ">=")),
                pmethod=e.str("pmethod", "Lau94", choices=("Lau94", "Lau92", "condMC")),
                bootstrap=e.num("bootstrap", 1000, lo=0, hi=100000, integer=True),
                seed=e.num("seed", 20250101, lo=0, integer=True),
                n_perm=e.num("n_perm", 0, lo=0, hi=10_000_000, integer=True),
            )
        )
    return cutpoints


def _events(e: _Section) -> tuple[Any, Any]:
    """``event`` and ``competing`` of [[cuminc]] / [[finegray]]: the two kinds of PFS end."""
    event = e.str("event", required=True, choices=COMPETING_EVENTS)
    other = {"progression": "death", "death": "progression"}
    competing = e.str("competing", None, choices=COMPETING_EVENTS)
    if event is not None and competing is not None and competing == event:
        e.issue(
            "MMS003",
            f"{e.label('competing')} = {competing!r} is the event of interest itself",
            f'write competing = "{other[event]}" (or leave it out: it is the other event)',
            "competing",
        )
    if competing is None or competing == event:
        competing = other.get(event or "")
    return event or "", competing or ""


def _conf_level(e: _Section, study: StudySection) -> Any:
    return e.num("conf_level", 1.0 - study.alpha, lo=0.5, hi=0.999)


def _cuminc(root: _Section, km: KmSection, study: StudySection) -> list[CumincSpec]:
    out = []
    for e in root.array("cuminc"):
        e.reject_unknown()
        event, competing = _events(e)
        out.append(
            CumincSpec(
                event=event,
                competing=competing,
                by=e.str("by"),
                times=e.num_list("times", None, lo=0.0) or km.landmarks,
                conf_type=e.str("conf_type", "log-log", choices=("log-log", "plain")),
                conf_level=_conf_level(e, study),
                strata=e.str("strata"),
                rho=e.num("rho", 0.0, lo=0.0, hi=10.0),
            )
        )
    return out


def _reference_map(e: _Section, terms: Sequence[_Str] | None) -> tuple[tuple[_Str, _Str], ...]:
    """``reference = { term = level }`` of a model: each key one of its terms."""
    ref = e.sub("reference")
    reference = []
    for term, level in ref.table.items():
        ref._trace(term, "scalar", None)
        if isinstance(level, Mapping | list) or level is None:
            ref.issue(
                "MMS002",
                f"{ref.label(term)} must be one level of {term!r}, got {toml_value(level)}",
                f'write reference = {{ {toml_key(term)} = "level" }}',
                term,
            )
            continue
        if terms is not None and term not in terms:
            near = difflib.get_close_matches(term, list(terms), n=1)
            ref.issue(
                "MMS006",
                f"{ref.label(term)}: {term!r} is not one of the model's terms ({', '.join(terms)})",
                (f"did you mean {near[0]!r}? " if near else "")
                + f'add "{term}" to terms, or remove the reference for it',
                term,
            )
        reference.append((term, _Str(level).lower() if isinstance(level, bool) else _Str(level)))
    return tuple(reference)


def _finegray(root: _Section, study: StudySection) -> list[FinegraySpec]:
    out = []
    for e in root.array("finegray"):
        e.reject_unknown()
        event, competing = _events(e)
        terms = e.str_list("terms", required=True, nonempty=True)
        out.append(
            FinegraySpec(
                event=event,
                competing=competing,
                terms=terms or (),
                reference=_reference_map(e, terms),
                cengroup=e.str("cengroup"),
                cause_specific=e.bool("cause_specific", True),
                conf_level=_conf_level(e, study),
            )
        )
    return out


def _rmst(root: _Section, study: StudySection) -> list[RmstSpec]:
    out = []
    for e in root.array("rmst"):
        e.reject_unknown()
        tau = e.num("tau", None, lo=1e-9)
        if not e.has("tau"):
            e._missing("tau", 24)
        e._trace("reference", "scalar", None)
        ref = e.table.get("reference")
        if isinstance(ref, Mapping | list):
            e.issue(
                "MMS002",
                f"{e.label('reference')} must be one level of the group column, got {toml_value(ref)}",
                'write reference = "level"',
                "reference",
            )
            ref = None
        if ref is not None and not e.has("by"):
            e.issue(
                "MMS007",
                f"{e.label('reference')} needs a group column: the spec has no by",
                'add by = "column" (the groups compared), or remove reference',
                "reference",
            )
        out.append(
            RmstSpec(
                endpoint=_endpoint(e) or "",
                tau=float(tau) if tau is not None else float("nan"),
                by=e.str("by"),
                reference=None
                if ref is None
                else (_Str(ref).lower() if isinstance(ref, bool) else _Str(ref)),
                conf_level=_conf_level(e, study),
            )
        )
    return out


def _level_map(
    sec: _Section, key: _Str, names: Sequence[_Str] | None, what: _Str
) -> tuple[tuple[_Str, _Str], ...]:
    """A ``{name = level}`` inline table whose names must be among ``names``."""
    ref = sec.sub(key)
    out = []
    for name, level in ref.table.items():
        ref._trace(name, "scalar", None)
        if isinstance(level, Mapping | list) or level is None:
            ref.issue(
                "MMS002",
                f"{ref.label(name)} must be one level of {name!r}, got {toml_value(level)}",
                f'write {key} = {{ {toml_key(name)} = "level" }}',
                name,
            )
            continue
        if names is not None and name not in names:
            near = difflib.get_close_matches(name, list(names), n=1)
            ref.issue(
                "MMS006",
                f"{ref.label(name)}: {name!r} is not one of the {what} ({', '.join(names)})",
                (f"did you mean {near[0]!r}? " if near else "")
                + f'add "{name}" to the {what}, or remove it here',
                name,
            )
        out.append((name, _Str(level).lower() if isinstance(level, bool) else _Str(level)))
    return tuple(out)


def _iptw(root: _Section) -> list[IptwSpec]:
    """``[[iptw]]``: treatment, covariates, estimand, endpoint and the weighting options."""
    out = []
    for e in root.array("iptw"):
        e.reject_unknown()
        treatment = e.str("treatment", required=True)
        covariates = e.str_list("covariates", required=True, nonempty=True)
        if treatment is not None and covariates is not None and treatment in covariates:
            e.issue(
                "MMS007",
                f"{e.label('covariates')} holds the treatment {treatment!r} itself",
                "remove it: the propensity model predicts the treatment from the confounders",
                "covariates",
            )
        estimand = e.str("estimand", "ATE", choices=("ATE", "ATT", "ATO"))
        stabilize = e.bool("stabilize", False)
        if stabilize and estimand != "ATE":
            e.issue(
                "MMS007",
                f"{e.label('stabilize')} = true is defined for the ATE only (estimand = {estimand!r})",
                'remove stabilize, or use estimand = "ATE" (WeightIt stabilizes ATE weights only)',
                "stabilize",
            )
            stabilize = False
        trim_bounds = e.pair("trim_bounds")
        trim_quantile = e.num("trim_quantile", None, lo=0, hi=0.49)
        if trim_bounds is not None and trim_quantile is not None:
            e.issue(
                "MMS007",
                f"{e.label()} gives both trim_bounds and trim_quantile",
                "keep one trimming rule",
                "trim_quantile",
            )
        out.append(
            IptwSpec(
                treatment=treatment or "",
                covariates=covariates or (),
                estimand=estimand,
                endpoint=_endpoint(e, required=False, whole_cohort=True),
                treated=e.str("treated"),
                reference=_level_map(e, "reference", covariates, "covariates"),
                stabilize=stabilize,
                trim_bounds=trim_bounds,
                trim_quantile=trim_quantile,
                smd_threshold=e.num("smd_threshold", 0.1, lo=0, hi=2),
                ps_bounds=e.pair("ps_bounds", (0.025, 0.975)),
                min_ess_fraction=e.num("min_ess_fraction", 0.25, lo=0, hi=1),
                rare_outcome=e.maybe_bool("rare_outcome"),
                name=e.str("name"),
            )
        )
    return out


def _maic(root: _Section, prop_names: set[_Str]) -> list[MaicSpec]:
    """``[[maic]]``: covariates with their published targets, the outcome and comparator."""
    out = []
    for e in root.array("maic"):
        e.reject_unknown()
        covariates = e.str_list("covariates", required=True, nonempty=True) or ()
        if "target" not in e.table:
            e._missing("target", {"age": {"mean": 67.2, "sd": 9.1}})
        tsec = e.sub("target")
        targets: list[MaicTarget] = []
        for name in tsec.table:
            t = tsec.sub(name)
            t.reject_unknown()
            mean, sd = t.num("mean"), t.num("sd", None, lo=0)
            prop, level = t.num("proportion", None, lo=0, hi=1), t.str("level")
            if (mean is None) == (prop is None):
                t.issue(
                    "MMS007",
                    f"{t.label()} needs exactly one of mean and proportion",
                    f"write {toml_key(name)} = {{ mean = 67.2, sd = 9.1 }} for a number, or "
                    f'{toml_key(name)} = {{ proportion = 0.3, level = "yes" }} for a binary column',
                )
            elif prop is not None and sd is not None:
                t.issue("MMS007", f"{t.label('sd')}: a proportion has no SD to match",
                        "remove sd (the variance of a binary column follows from its share)", "sd")  # fmt: skip
            elif mean is not None and level is not None:
                t.issue("MMS007", f"{t.label('level')}: level goes with proportion, not mean",
                        "remove level, or give proportion instead of mean", "level")  # fmt: skip
            if name not in covariates:
                t.issue(
                    "MMS006",
                    f"{tsec.label(name)}: {name!r} is not among the covariates ({', '.join(covariates)})",
                    f'add "{name}" to covariates, or remove its target',
                )
            targets.append(MaicTarget(name, mean, sd if mean is not None else None, prop, level))
        for name in covariates:
            if "target" in e.table and name not in tsec.table:
                e.issue(
                    "MMS005",
                    f"{e.label('target')} has no value for the covariate {name!r}",
                    f"add {toml_key(name)} = {{ mean = ..., sd = ... }} or "
                    f"{{ proportion = ... }} to target",
                    "target",
                )
        outcome = e.str("outcome")
        endpoint = _endpoint(e, required=False, whole_cohort=True)
        if (outcome is None) == (endpoint is None):
            e.issue(
                "MMS007",
                f"{e.label()} needs exactly one of outcome and endpoint; it has "
                + ("both" if outcome is not None else "neither"),
                'write outcome = "ORR" (a [[proportion]]) or endpoint = "PFS"',
                "endpoint" if outcome is not None else None,
            )
        if outcome is not None:
            _proportion_ref(e, "outcome", outcome, prop_names)
        statistic = e.str("statistic", "median", choices=("median", "survival"))
        at = e.num("at", None, lo=0)
        if endpoint is not None and statistic == "survival" and at is None:
            e._missing("at", 12)
        comparator = None
        if e.has("comparator"):
            c = e.sub("comparator")
            c.reject_unknown()
            est = c.num("estimate")
            lo_, hi_ = c.num("lower"), c.num("upper")
            for k in ("estimate", "lower", "upper"):
                if not c.has(k):
                    c._missing(k, 1.0)
            scale = c.str("scale", None, choices=("log", "logit", "identity"))
            level = c.num("conf_level", 0.95, lo=0.5, hi=0.999)
            arm = c.str("name", "")
            if scale is None:
                scale = "logit" if outcome is not None else "log"
            if est is not None and lo_ is not None and hi_ is not None:
                if not (lo_ <= est <= hi_) or lo_ == hi_:
                    c.issue("MMS004", f"{c.label()}: estimate {est:g} must lie within (lower {lo_:g}, upper {hi_:g}), an interval of positive width",
                            "check the published value and its confidence limits")  # fmt: skip
                elif scale == "log" and lo_ <= 0:
                    c.issue("MMS004", f"{c.label('lower')} = {lo_:g}: the log scale needs a positive lower limit",
                            'use scale = "identity"', "lower")  # fmt: skip
                elif scale == "logit" and not (lo_ > 0 and hi_ < 1):
                    c.issue("MMS004", f"{c.label()}: the logit scale needs limits within (0, 1)",
                            "give proportions as shares (0.604, not 60.4)", "upper")  # fmt: skip
                else:
                    comparator = MaicComparator(est, lo_, hi_, scale, level, arm)
        out.append(
            MaicSpec(
                covariates=covariates,
                target=tuple(targets),
                outcome=outcome,
                endpoint=endpoint,
                statistic=statistic,
                at=at,
                landmarks=e.num_list("landmarks", (), lo=0.0),
                comparator=comparator,
                contrast=e.str("contrast", None, choices=("ratio", "difference")),
                n_boot=e.num("n_boot", 1000, lo=2, hi=100000, integer=True),
                seed=e.num("seed", 20250101, lo=0, integer=True),
                name=e.str("name"),
                source=e.str("source", ""),
            )
        )
    return out


def _imputation(root: _Section) -> ImputationSection | None:
    """``[imputation]``: present (even empty) = impute and pool."""
    present = "imputation" in root.table
    i = root.sub("imputation")
    i.reject_unknown()
    sec = ImputationSection(
        m=i.num("m", 20, lo=2, hi=1000, integer=True),
        maxit=i.num("maxit", 10, lo=1, hi=200, integer=True),
        seed=i.num("seed", 20250101, lo=0, integer=True),
        donors=i.num("donors", 5, lo=1, hi=100, integer=True),
        variables=i.str_list("variables", ()),
        auxiliary_endpoint=i.str(
            "auxiliary_endpoint", "auto", choices=("auto", "PFS", "OS", "both", "none")
        ),
        cumhaz_interactions=i.bool("cumhaz_interactions", True),
    )
    return sec if present else None


def _target(root: _Section) -> TargetSection:
    """``[target]``: the emulated target trial in the authors' words."""
    t = root.sub("target")
    t.reject_unknown()
    return TargetSection(**{k: t.str(k, "") for k in TARGET_ITEMS})


def _sites(root: _Section, base: Path, variables: list[VariableSpec]) -> tuple[SiteSpec, ...]:
    """``[[sites]]``: one entry per site export, for ``mmrwe pool``."""
    units_declared = {v.name: v.unit for v in variables}
    sites: list[SiteSpec] = []
    for e in root.array("sites"):
        e.reject_unknown()
        date_format = _date_format(e, None)
        center = e.str("center")
        centers = e.str_list("centers", ())
        if center is not None and centers:
            e.issue(
                "MMS007",
                f"{e.label()} gives both center and centers",
                "give either center (every row is that center) or centers (the values the file's center column may hold), not both",
                "centers",
            )
        units = e.sub("units")
        unit_pairs = units.str_pairs()
        for name, _unit in unit_pairs:
            if not units_declared.get(name):
                units.issue(
                    "MMS006",
                    f"a site unit is given for {name!r}, but [variables.{name}] declares no unit to convert to",
                    f'add [variables.{toml_key(name)}] unit = "..." (the unit the pooled table uses)',
                    name,
                )
        rec = e.sub("recode")
        recode = []
        for name in rec.table:
            recode.append((name, rec.str_map(name)))
        redcap = _redcap(e, base, instruments=False)
        file = e.str("file", required=not e.has("redcap"))
        if e.has("redcap"):
            for other in ("file", "sheet", "date_format"):
                if e.has(other):
                    e.issue(
                        "MMS007",
                        f"{e.label(other)} cannot be given with redcap",
                        "remove it: the site's record export is its file, and each date is read "
                        "by its field's validation type",
                        other,
                    )
        sites.append(
            SiteSpec(
                file=redcap.records if redcap is not None else base / (file or ""),
                center=center,
                centers=centers,
                columns=e.str_map("columns") if e.has("columns") else None,
                date_format=date_format,
                sheet=e.str("sheet"),
                delimiter=_delimiter(e),
                decimal=e.str("decimal", None, choices=(".", ",")),
                encoding=_encoding(e, None),
                missing_values=e.str_list("missing_values"),
                units=unit_pairs,
                recode=tuple(recode),
                absent=e.str_list("absent", ()),
                id_prefix=e.str("id_prefix", ""),
                excel_serial_dates=e.bool("excel_serial_dates", False),
                redcap=redcap,
            )
        )
    return tuple(sites)


def _pooling(root: _Section) -> PoolingSection:
    """``[pooling]``: the rule for confirmed duplicates and the user's decisions."""
    po = root.sub("pooling")
    po.reject_unknown()
    decisions = []
    for e in po.array("duplicates"):
        e.reject_unknown()
        rows = e.str_list("rows", required=True)
        if rows is not None and (len(rows) != 2 or rows[0] == rows[1]):
            e.issue(
                "MMS003",
                f"{e.label('rows')} must name the two rows of a flagged pair",
                'write rows = ["Center A/A-017", "Center B/B-203"] as listed in pooling.json',
                "rows",
            )
            rows = None
        if "same_patient" not in e.table:
            e._missing("same_patient", True)
        same = e.bool("same_patient", True)
        keep = e.str("keep")
        if keep is not None and rows is not None and keep not in rows:
            e.issue(
                "MMS006",
                f"{e.label('keep')} = {keep!r} is not one of the pair's rows",
                f"use {rows[0]!r} or {rows[1]!r}",
                "keep",
            )
        if rows is not None:
            decisions.append(
                DuplicateDecision(rows=(rows[0], rows[1]), same_patient=same, keep=keep)
            )
    return PoolingSection(
        keep=po.str("keep", "longest_followup", choices=("longest_followup", "first_site")),
        duplicates=tuple(decisions),
    )


def _endpoint(e: _Section, *, required: _Bool = True, whole_cohort: _Bool = False) -> Any:
    """The ``endpoint`` key. ``whole_cohort``: the analysis weights the whole cohort, so an
    endpoint defined on part of it (DoR: responders, chosen after baseline) is refused."""
    from mmrwe.spec.model import ENDPOINTS

    if not required and not e.has("endpoint"):
        return None
    ep = e.str("endpoint", required=required, choices=ENDPOINTS)
    if whole_cohort and ep == "DoR":
        e.issue(
            "MMS003",
            f"{e.label('endpoint')} = 'DoR' is defined for responders only: weights fitted on "
            "the whole cohort do not balance them (response happens after baseline)",
            'use endpoint = "PFS", "OS", "TTP", "TTNT" or "PFS2"; for DoR compare groups '
            "with [[logrank]] or [[cox]]",
            "endpoint",
        )
    return ep


def sha256_file(path: Path) -> _Str:
    """SHA-256 of a file's bytes (inputs are hashed before and after a run)."""
    return _sha256_file(path)


_FIGURE_FORMATS = ("pdf", "svg", "tiff", "png")


def _published(p: _Section) -> PublishedSpec:
    """One ``[[published]]`` entry: a number from a paper and where its reproduction is."""
    p.reject_unknown()
    if p.has("quantity") == p.has("path"):
        both = p.has("quantity")
        p.issue(
            "MMS007",
            f"{p.label()} needs exactly one of quantity and path; it has "
            + ("both" if both else "neither"),
            'write quantity = "median:PFS" (or path = "endpoints.PFS.median")',
            "path" if both else None,
        )
    path = None
    raw = p.str_list("path") if isinstance(p.table.get("path"), list) else p.str("path")
    if raw is not None:
        path = tuple(raw.split(".")) if isinstance(raw, _Str) else tuple(raw)
        if not all(path):
            p.issue("MMS004", f"{p.label('path')} = {raw!r} has an empty step",
                    'write keys separated by dots, e.g. path = "endpoints.PFS.median"', "path")  # fmt: skip
    value = p.num("value")
    if not p.has("value"):
        p._missing("value", 5.8)
    return PublishedSpec(
        name=p.str("name", required=True) or "",
        value=float(value) if value is not None else float("nan"),
        lower=p.num("lower"),
        upper=p.num("upper"),
        source=p.str("source", ""),
        quantity=p.str("quantity"),
        path=path,
        scale=p.num("scale", 1.0),
    )
