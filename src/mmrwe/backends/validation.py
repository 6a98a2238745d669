# mypy: disable-error-code="misc"
# (rule messages are lambdas with default arguments binding the loop variables)
"""The patient-table rules MMV001-MMV020, pushed down into the engine.

Same rules, codes, messages and fixes as :mod:`mmrwe.validate.patients` (the in-memory
validator), evaluated as SQL over the whole table: one aggregate query counts every rule,
and only the rows of rules that fail come back (at most ``max_examples`` per rule, each as
its own issue with the patient id; the rest are summarised in one more issue with the
count). The typed canonical table stays a lazy Ibis expression.

Differences from the in-memory validator, by design: issues name the patient id, not the
source row number (a database table has none); cells of a text column are parsed by the
declared ``date_format`` restricted to ``%Y``, ``%m``, ``%d`` and literal separators.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmrwe.core.errors import Issue, Location, SpecError

REQUIRED = ("patient_id", "start_date", "progression_date", "death_date", "last_followup_date")
DATE_COLUMNS = ("start_date", "progression_date", "death_date", "last_followup_date")
RESPONSE_CATEGORIES = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE")
_NUMBER = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_DATE_HINTS = (("%Y-%m-%d", "ISO year-month-day"), ("%d/%m/%Y", "day/month/year"), ("%m/%d/%Y", "month/day/year"),
               ("%d.%m.%Y", "day.month.year"), ("%d-%m-%Y", "day-month-year"))  # fmt: skip


@dataclass(frozen=True)
class UnitCheck:
    """Plausible range of one numeric covariate (from :mod:`mmrwe.validate.units`)."""

    name: str
    unit: str
    analyte: str | None
    reject: tuple[float, float] | None  # None: no range known (MMV020)
    warn: tuple[float, float] | None
    known_units: tuple[str, ...] = ()
    likely_unit: Callable[[float], str | None] = field(default=lambda v: None)


@dataclass
class ScaledValidation:
    """The typed canonical table (lazy) and every finding.

    Attributes
    ----------
    table : ibis.Table or None
        Analysed rows only, canonical names; dates as ``date``, numeric covariates as
        ``float64``, categorical ones as text. None when a required column is missing.
    column_types : dict
        ``"date"``, ``"numeric"`` or ``"categorical"`` per column.
    issues : list of Issue
    exclusions : list of dict
        ``patient_id``, ``reason``, ``file``, ``row`` (None) per excluded row.
    n_input_rows, n_excluded : int
    units : dict
        Declared unit per numeric covariate.
    """

    table: Any
    column_types: dict[str, str]
    issues: list[Issue]
    exclusions: list[dict[str, Any]]
    n_input_rows: int
    n_excluded: int
    units: dict[str, str]

    @property
    def errors(self) -> list[Issue]:
        """Issues that stop the run."""
        return [i for i in self.issues if i.severity == "error"]


@dataclass
class _RowRule:
    code: str
    severity: str
    column: str
    cond: Any  # ibis boolean expression, True where the row breaks the rule
    fields: tuple[str, ...]
    what: Callable[[Mapping[str, Any]], str]
    fix: Callable[[Mapping[str, Any]], str]


#: Largest table whose per-row checks are held in memory (a temporary table) during
#: validation; above it they stay a view (one pass per query, bounded memory).
CHECKS_IN_MEMORY_MAX_ROWS = 250_000


def _fmt_example(fmt: str) -> str:
    return dt.date(2021, 3, 28).strftime(fmt) + f" ({fmt})"


def _strptime_ok(s: str, f: str) -> bool:
    try:
        dt.datetime.strptime(s, f)
        return True
    except ValueError:
        return False


def _iso(v: Any) -> str:
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def _g(v: Any) -> str:
    return f"{float(v):g}"


# ----------------------------------------------------------------------------------------
# parsing cells in the engine
# ----------------------------------------------------------------------------------------


def _is_string(dtype: Any) -> bool:
    return bool(dtype.is_string())


def any_equal(expr: Any, values: Sequence[Any]) -> Any:
    """``expr IN values`` written as ORs of equalities.

    DuckDB plans a projected ``IN (list)`` as a mark join that it does not prune, so a
    query touching only dates would still clean every text column; equalities are plain
    expressions, evaluated only when a query uses the column.
    """
    import ibis

    out: Any = ibis.literal(False)
    for v in values:
        out = out | (expr == v)
    return out


def _clean_text(col: Any, missing: Sequence[str]) -> Any:
    """Strip a text cell; a missing-value token or an empty cell becomes NULL (as the readers)."""
    # Trimming is the costly part (a new string per cell), and most cells need none: trim
    # only cells that start or end with whitespace. The test over-approximates (a tab or
    # newline anywhere), so the result is the trimmed text in every case.
    import ibis

    ws = (" ", "\t", "\n")  # the characters Ibis's strip() removes on every backend
    needs = ibis.literal(False)
    for ch in ws:
        needs = needs | (col.startswith(ch) if ch == " " else col.contains(ch))
    needs = needs | col.endswith(" ")
    s = needs.ifelse(col.strip(), col)
    tokens = sorted(set(missing) | {""})
    # a cell longer than every token is no token: one length test spares the comparisons
    short = s.length() <= max(len(t) for t in tokens)
    return (short & any_equal(s, tokens)).ifelse(None, s)


def _number(text: Any, decimal: str) -> tuple[Any, Any]:
    """(value, is_bad) of a text cell read as a number (decimal "." or ",")."""
    import ibis

    s = text
    if decimal == ",":
        # thousands separators are ambiguous: refuse rather than guess (as the validator)
        both = s.contains(".") & s.contains(",")
        s = both.ifelse(ibis.literal("x"), s.replace(",", "."))
    ok = s.re_search(_NUMBER)
    value = ok.ifelse(s, None).cast("float64")
    bad = text.notnull() & ~ok.fill_null(False)
    return value, bad


def _date_pattern(fmt: str) -> tuple[str, dict[str, int]]:
    """A regular expression for a strptime format made of %Y, %m, %d and literals."""
    pattern = "^"
    groups: dict[str, int] = {}
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            d = fmt[i + 1]
            if d == "Y":
                pattern += "([0-9]{4})"
            elif d in "md":
                pattern += "([0-9]{1,2})"
            else:
                raise SpecError(
                    f"date_format {fmt!r}: the scaled path reads %Y, %m and %d only",
                    where=Location(spec_key="data.date_format"),
                    fix='store dates as DATE columns (Parquet, database), or use "%Y-%m-%d"',
                )
            groups[d] = len(groups) + 1
            i += 2
            continue
        pattern += re.escape(ch)
        i += 1
    if set(groups) != {"Y", "m", "d"}:
        raise SpecError(
            f"date_format {fmt!r} must contain %Y, %m and %d",
            where=Location(spec_key="data.date_format"),
        )
    return pattern + "$", groups


def _date(text: Any, fmt: str) -> tuple[Any, Any]:
    """(date, is_bad) of a text cell in the declared format; impossible dates are bad."""
    import ibis

    pattern, groups = _date_pattern(fmt)
    ok = text.re_search(pattern).fill_null(False)
    y = ok.ifelse(text.re_extract(pattern, groups["Y"]), "2000").cast("int32")
    m = ok.ifelse(text.re_extract(pattern, groups["m"]), "1").cast("int32")
    d = ok.ifelse(text.re_extract(pattern, groups["d"]), "1").cast("int32")
    leap = ((y % 4) == 0) & (((y % 100) != 0) | ((y % 400) == 0))
    mdays = ibis.cases(
        (m == 2, leap.ifelse(29, 28)),
        (any_equal(m, [4, 6, 9, 11]), 30),
        else_=31,
    )
    valid = ok & (m >= 1) & (m <= 12) & (d >= 1) & (d <= mdays)
    safe = ibis.date(valid.ifelse(y, 2000), valid.ifelse(m, 1), valid.ifelse(d, 1))
    value = valid.ifelse(safe, None)
    bad = text.notnull() & ~valid
    return value, bad


def _id_text(col: Any, dtype: Any, missing: Sequence[str]) -> Any:
    """Identifiers as text: 17.0 read from a numeric column is '17' (as the validator)."""
    if _is_string(dtype):
        return _clean_text(col, missing)
    if dtype.is_floating():
        return (col == col.floor()).ifelse(col.cast("int64").cast("string"), col.cast("string"))
    return col.cast("string")


# ----------------------------------------------------------------------------------------
# the validator
# ----------------------------------------------------------------------------------------


def validate_table(
    raw: Any,
    spec: Any,
    *,
    file_name: str,
    unit_checks: Mapping[str, UnitCheck],
    backend: Any = None,
    max_examples: int = 50,
    max_exclusions: int = 10_000,
) -> ScaledValidation:
    """Validate a patient table in the engine and build the typed canonical table.

    Parameters
    ----------
    raw : ibis.Table
        The source table as read (text or typed columns).
    spec : StudySpec
        Column map, date format, decimal mark, declared variables, exclusions, accepted
        issues.
    file_name : str
        Name used in issue locations.
    unit_checks : mapping of column to UnitCheck
        Plausible ranges of the numeric covariates with a declared unit.
    backend : Backend, optional
        The engine; when given, the per-row checks are named as a temporary view so later
        queries compile quickly.
    max_examples : int
        Rows listed per failing rule; further rows are counted in one summary issue.
    max_exclusions : int
        Excluded rows listed individually (``exclude_invalid_rows``); the count is exact.

    Returns
    -------
    ScaledValidation
    """
    import ibis

    issues: list[Issue] = []

    row_level: set[int] = set()  # indices of issues about one row (exclude_invalid_rows)

    def add(code: str, severity: str, what: str, fix: str, *, column: str | None = None,
            pid: str | None = None, spec_key: str | None = None, row: bool = False) -> None:  # fmt: skip
        if row:
            row_level.add(len(issues))
        issues.append(
            Issue(
                code,
                severity,
                what,
                Location(file=file_name, column=column, patient_id=pid, spec_key=spec_key),
                fix,
            )
        )

    data = spec.data
    missing_tokens = tuple(data.missing_values)
    # 1. Column mapping onto canonical names (column names stripped, as the readers do).
    raw = raw.rename({str(c).strip(): c for c in raw.columns if str(c).strip() != c})
    present = list(raw.columns)
    rename: dict[str, str] = {}
    for canonical, src in data.column_map.items():
        if src not in present:
            near = difflib.get_close_matches(src, present, n=1)
            add("MMV001", "error",
                f"column {src!r} (mapped to {canonical!r} in [data.columns]) is not in the table",
                f"did you mean {near[0]!r}?" if near else f"columns present: {', '.join(present)}",
                spec_key=f"data.columns.{canonical}")  # fmt: skip
        else:
            rename[canonical] = src
    for c in [c for c in rename if c in present and c not in rename.values()]:
        add("MMV001", "error", f"column {c!r} exists and another column is also mapped to {c!r}",
            f"remove the mapping for {c!r} or rename the existing column", column=c, spec_key=f"data.columns.{c}")  # fmt: skip
    table = raw.rename(rename) if rename else raw
    cols = list(table.columns)
    for req in REQUIRED:
        if req not in cols:
            near = difflib.get_close_matches(req, cols, n=1)
            fix = (f'map it under [data.columns]: {req} = "{near[0]}"' if near
                   else f'add the column, or map the source column under [data.columns]: {req} = "<source name>"')  # fmt: skip
            add("MMV001", "error", f"required column {req!r} is missing", fix, column=req)
    if "center" not in cols:
        add("MMV017", "warning", "the table has no 'center' column; per-center summaries are skipped",
            'add a center column, or map one under [data.columns]: center = "<source name>"', column="center")  # fmt: skip
    if any(i.code == "MMV001" for i in issues):
        n = int(table.count().to_pyarrow().as_py())
        return ScaledValidation(None, {}, issues, [], n, 0, {})

    schema = table.schema()
    declared = {v.name: v for v in spec.variables}

    # 2. Cleaned text of every text column; the profile decides numeric vs categorical.
    text = {c: _clean_text(table[c], missing_tokens) for c in cols if _is_string(schema[c])}
    cov_text = [c for c in text if c not in ("patient_id", "center") and c not in DATE_COLUMNS
                and not (declared.get(c) is not None and declared[c].type == "date")]  # fmt: skip
    profile_aggs: dict[str, Any] = {"_n": ibis._.count()}
    parsed_num: dict[str, tuple[Any, Any]] = {}
    for k, c in enumerate(cov_text):
        parsed_num[c] = _number(text[c], data.decimal)
        profile_aggs[f"p{k}"] = text[c].notnull().ifelse(1, 0).sum()
        profile_aggs[f"b{k}"] = parsed_num[c][1].ifelse(1, 0).sum()
    # an empty row has no patient_id: test the other cells only where that one is missing
    first = "patient_id" if "patient_id" in cols else cols[0]
    empty_row = ibis.literal(True)
    for c in [first, *[c for c in cols if c != first]]:
        cell = text[c] if c in text else table[c]
        empty_row = empty_row & cell.isnull()
    first_cell = text[first] if first in text else table[first]
    profile_aggs["_nofirst"] = first_cell.isnull().ifelse(1, 0).sum()
    prof = table.aggregate(**profile_aggs).to_pyarrow().to_pylist()[0]
    n_input = int(prof["_n"])
    n_empty = 0
    if int(prof["_nofirst"] or 0):
        cnt = table.filter(first_cell.isnull()).aggregate(e=empty_row.ifelse(1, 0).sum())
        n_empty = int(cnt.to_pyarrow().to_pylist()[0]["e"] or 0)

    # 3. Types.
    typed: dict[str, Any] = {}
    column_types: dict[str, str] = {}
    rules: list[_RowRule] = []
    raw_cells: dict[str, Any] = {}
    typed["patient_id"] = _id_text(table["patient_id"], schema["patient_id"], missing_tokens)
    for c in cols:
        if c == "patient_id":
            continue
        dtype = schema[c]
        vspec = declared.get(c)
        cell = text.get(c, table[c])
        if c in DATE_COLUMNS or (vspec is not None and vspec.type == "date"):
            column_types[c] = "date"
            if dtype.is_date():
                typed[c] = table[c]
            elif dtype.is_timestamp():
                typed[c] = table[c].date()
            elif _is_string(dtype):
                value, bad = _date(cell, data.date_format)
                typed[c] = value
                raw_cells[c] = cell
                fmt = data.date_format
                rules.append(_RowRule("MMV004", "error", c, bad, (f"_raw_{c}",),
                    lambda r, c=c, fmt=fmt: f"{c} {r[f'_raw_{c}']!r} is not a date in the declared format {fmt!r}",
                    lambda r, c=c, fmt=fmt: f"write it as {_fmt_example(fmt)}" + _date_hint(r[f"_raw_{c}"], fmt)))  # fmt: skip
            elif dtype.is_numeric():
                typed[c] = ibis.null().cast("date")
                raw_cells[c] = table[c]
                rules.append(_RowRule("MMV004", "error", c, table[c].notnull(), (f"_raw_{c}",),
                    lambda r, c=c: f"{c} holds the number {r[f'_raw_{c}']!r}, not a date",
                    lambda r, fmt=data.date_format: "in Excel, format the column as a date (a number like 44197 is an Excel serial date); in text files write the date as " + _fmt_example(fmt)))  # fmt: skip
            else:
                typed[c] = table[c].cast("date")
            continue
        if c == "center":
            typed[c] = _id_text(table[c], dtype, missing_tokens)
            column_types[c] = "categorical"
            continue
        has_unit = bool(vspec and vspec.unit)
        want = vspec.type if vspec else None
        numeric_wanted = want == "numeric" or (want is None and has_unit)
        if not _is_string(dtype):
            if dtype.is_boolean() or (dtype.is_numeric() and want != "categorical"):
                # PostgreSQL casts no boolean to a number: map True/False explicitly
                typed[c] = (
                    table[c].ifelse(1, 0).cast("float64")
                    if dtype.is_boolean()
                    else table[c].cast("float64")
                )
                column_types[c] = "numeric"
            else:
                typed[c] = _id_text(table[c], dtype, missing_tokens)
                column_types[c] = "categorical"
            continue
        k = cov_text.index(c)
        n_present, n_bad = int(prof[f"p{k}"] or 0), int(prof[f"b{k}"] or 0)
        value, bad = parsed_num[c]
        if want == "categorical" or (not numeric_wanted and n_bad and n_bad == n_present):
            typed[c] = cell
            column_types[c] = "categorical"
        elif n_bad and not numeric_wanted:
            typed[c] = cell
            column_types[c] = "categorical"
            if n_bad <= n_present / 2:
                ex = _examples(table.filter(bad), {"v": cell}, 5)
                cells = ", ".join(f"patient {r['_pid']} {r['v']!r}" for r in ex)
                add("MMV018", "warning", f"column {c!r} holds numbers and {n_bad} text value(s) ({cells}); treated as categorical",
                    f'fix the text cells, or declare [variables.{c}] type = "numeric" to have them reported as errors', column=c)  # fmt: skip
        else:
            typed[c] = value
            column_types[c] = "numeric"
            raw_cells[c] = cell
            dec = data.decimal
            rules.append(_RowRule("MMV013", "error", c, bad, (f"_raw_{c}",),
                lambda r, c=c, dec=dec: f"{c} {r[f'_raw_{c}']!r} is not a number" + (
                    " (the decimal mark is ',' here: set decimal = \",\" under [data])"
                    if "," in str(r[f"_raw_{c}"]) and dec == "." else ""),
                lambda r: "write a number, or leave the cell empty if unknown"))  # fmt: skip

    # Name the typed cells once: the rules below refer to these columns, so an engine
    # evaluates each parse once instead of inlining it into every rule that uses it
    # (Spark's code generation gives up on the inlined form).
    stage = table.mutate(
        **{f"_t_{c}": v for c, v in typed.items()},
        **{f"_raw_{c}": v for c, v in raw_cells.items()},
    )
    typed = {c: stage[f"_t_{c}"] for c in typed}
    raw_cells = {c: stage[f"_raw_{c}"] for c in raw_cells}

    # 4. Patient ids and date order.
    pid = typed["patient_id"]
    rules.append(_RowRule("MMV003", "error", "patient_id", pid.isnull(), (),
                          lambda r: "patient_id is empty", lambda r: "give every row a unique patient id"))  # fmt: skip
    start, prog, death, lfu = (typed[c] for c in DATE_COLUMNS)
    for c in ("start_date", "last_followup_date"):
        not_bad = raw_cells[c].isnull() if c in raw_cells else ibis.literal(True)
        rules.append(_RowRule("MMV005", "error", c, typed[c].isnull() & not_bad, (),
            lambda r, c=c: f"{c} is empty", lambda r: "every patient needs a start date and a last follow-up date"))  # fmt: skip
    for c in ("progression_date", "death_date", "last_followup_date"):
        rules.append(_RowRule("MMV006", "error", c, (typed[c] < start).fill_null(False), (c, "start_date"),
            lambda r, c=c: f"{c} {_iso(r[c])} is before start_date {_iso(r['start_date'])}",
            lambda r: "correct the source; if this center writes day/month/year, declare date_format under [data]"))  # fmt: skip
    rules.append(_RowRule("MMV007", "error", "progression_date", (prog > lfu).fill_null(False),
        ("progression_date", "last_followup_date"),
        lambda r: f"progression_date {_iso(r['progression_date'])} is after last_followup_date {_iso(r['last_followup_date'])}",
        lambda r: "last_followup_date must be the last date the patient was known alive and assessed, on or after every other date"))  # fmt: skip
    rules.append(_RowRule("MMV008", "error", "last_followup_date", (death != lfu).fill_null(False),
        ("death_date", "last_followup_date"),
        lambda r: f"death_date {_iso(r['death_date'])} differs from last_followup_date {_iso(r['last_followup_date'])}",
        lambda r: "for a patient who died, last_followup_date must equal death_date"))  # fmt: skip
    rules.append(_RowRule("MMV009", "error", "progression_date", (prog > death).fill_null(False),
        ("progression_date", "death_date"),
        lambda r: f"progression_date {_iso(r['progression_date'])} is after death_date {_iso(r['death_date'])}",
        lambda r: "progression cannot follow death; check both dates"))  # fmt: skip

    # 5. Units and plausible ranges.
    units: dict[str, str] = {}
    median_checks: list[UnitCheck] = []
    for name, chk in unit_checks.items():
        if name not in typed or column_types.get(name) != "numeric":
            continue
        units[name] = chk.unit
        if chk.analyte is None:
            continue
        if chk.reject is None:
            add("MMV020", "warning", f"no plausible range is known for {chk.analyte} in {chk.unit!r}; values of {name!r} are not range-checked",
                f"known units for {chk.analyte}: {', '.join(chk.known_units) or 'none'}", column=name, spec_key=f"variables.{name}.unit")  # fmt: skip
            continue
        x = typed[name]
        lo, hi = chk.reject
        wlo, whi = chk.warn or chk.reject
        outside = ((x < lo) | (x > hi)).fill_null(False)
        unusual = (~outside & ((x < wlo) | (x > whi))).fill_null(False)

        def _fix(r: Mapping[str, Any], chk: UnitCheck = chk, name: str = name) -> str:
            other = chk.likely_unit(float(r[name]))
            lo, hi = chk.reject or (0.0, 0.0)
            return (f"the value looks like {other}: convert it to {chk.unit}, or set [variables.{name}] unit = \"{other}\" if the whole column is in {other}"
                    if other else f"plausible {chk.analyte} in {chk.unit} lies within {lo:g}-{hi:g}; correct the value")  # fmt: skip

        rules.append(_RowRule("MMV010", "error", name, outside, (name,),
            lambda r, name=name, chk=chk: f"{name} = {_g(r[name])} is implausible for {chk.analyte} in {chk.unit}", _fix))  # fmt: skip
        rules.append(_RowRule("MMV011", "warning", name, unusual, (name,),
            lambda r, name=name, chk=chk, w=(wlo, whi): f"{name} = {_g(r[name])} is unusual for {chk.analyte} in {chk.unit} (usual {w[0]:g}-{w[1]:g})",
            lambda r: "check the value against the source record"))  # fmt: skip
        median_checks.append(chk)

    # 6. Response categories.
    if "best_response" in typed and column_types.get("best_response") == "categorical":
        br = typed["best_response"]
        low = br.lower()
        canon = ibis.cases(*[(low == c.lower(), c) for c in RESPONSE_CATEGORIES], else_=br)
        unknown = br.notnull() & ~any_equal(low, [c.lower() for c in RESPONSE_CATEGORIES])
        typed["best_response"] = canon
        raw_cells["best_response"] = br

        def _resp_fix(r: Mapping[str, Any]) -> str:
            near = difflib.get_close_matches(
                str(r["_raw_best_response"]), list(RESPONSE_CATEGORIES), n=1
            )
            return (
                f"did you mean {near[0]!r}? " if near else ""
            ) + f"use one of {', '.join(RESPONSE_CATEGORIES)}"

        rules.append(_RowRule("MMV012", "error", "best_response", unknown, ("_raw_best_response",),
            lambda r: f"best_response {r['_raw_best_response']!r} is not an IMWG category", _resp_fix))  # fmt: skip

    # 7. Names the spec uses must exist.
    _check_spec_names(spec, set(typed) | {d.name for d in spec.derive}, add)

    # 8. The counting query: every rule, non-missing per column, distinct ids.
    work = stage.mutate(
        _pid=pid, _empty=empty_row if n_empty else ibis.literal(False),
        **{f"_t_{c}": v for c, v in typed.items() if c != "patient_id"},
        **{f"_raw_{c}": v for c, v in raw_cells.items()},
        **{f"_r{k}": r.cond for k, r in enumerate(rules)},
    )  # fmt: skip
    live = work.filter(~work._empty) if n_empty else work
    if backend is not None:
        # every later query reads named columns of one view: short SQL to compile
        from mmrwe.backends.pushdown import as_temp_view

        live = as_temp_view(
            backend, live, "checks", materialize=n_input <= CHECKS_IN_MEMORY_MAX_ROWS
        )
    # distinct ids: DuckDB counts distinct 64-bit hashes faster than strings; a count equal
    # to the number of ids proves them distinct (a collision can only lower it), and a lower
    # count is confirmed by the exact query below
    id_key = live._pid
    if backend is not None and backend.engine == "duckdb":
        id_key = live._pid.notnull().ifelse(live._pid.hash(), ibis.null().cast("int64"))
    aggs: dict[str, Any] = {"_n": ibis._.count(), "_nid": id_key.nunique(),
                            "_nid_present": live._pid.notnull().ifelse(1, 0).sum()}  # fmt: skip
    rule_exprs = [(r, live[f"_r{k}"]) for k, r in enumerate(rules)]
    for k, (_rule, cond) in enumerate(rule_exprs):
        aggs[f"r{k}"] = cond.ifelse(1, 0).sum()
    nonnull_names = [c for c in typed if c != "patient_id"]
    for k, c in enumerate(nonnull_names):
        aggs[f"nn{k}"] = live[f"_t_{c}"].notnull().ifelse(1, 0).sum()
    counts = live.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    n_live = int(counts["_n"])

    # MMV015: empty columns (among non-empty rows)
    for k, c in enumerate(nonnull_names):
        if n_live and int(counts[f"nn{k}"] or 0) == 0:
            add(
                "MMV015",
                "warning",
                f"column {c!r} is empty in every row",
                "fill it or remove it from the table",
                column=c,
            )
    # MMV002: duplicate ids
    dup_ids: list[str] = []
    if int(counts["_nid"] or 0) < int(counts["_nid_present"] or 0):
        dups = (
            live.filter(live._pid.notnull())
            .group_by("_pid")
            .aggregate(n=ibis._.count())
            .filter(ibis._.n > 1)
            .order_by("_pid")
        )
        if spec.validation.exclude_invalid_rows and "MMV002" not in dict(spec.validation.accept):
            # a table has no row order to tell the first occurrence: all are excluded
            dup_ids = dups.to_pyarrow()["_pid"].to_pylist()
        dup = dups.limit(max_examples).to_pyarrow().to_pylist()
        for r in dup:
            for _ in range(int(r["n"]) - 1):
                add("MMV002", "error", f"patient_id {r['_pid']!r} appears {int(r['n'])} times",
                    "remove the duplicate row, or give each patient a unique id (across all centers)",
                    column="patient_id", pid=r["_pid"], row=True)  # fmt: skip
    # row rules: examples of each failing rule
    failing: list[tuple[_RowRule, Any, int]] = []
    for k, (rule, cond) in enumerate(rule_exprs):
        n_fail = int(counts[f"r{k}"] or 0)
        if n_fail == 0:
            continue
        failing.append((rule, cond, n_fail))
        fields = {f: (live[f] if f.startswith("_raw_") else live[f"_t_{f}"]) for f in rule.fields}
        for r in _examples(live.filter(cond), fields, max_examples):
            add(
                rule.code,
                rule.severity,
                rule.what(r),
                rule.fix(r),
                column=rule.column,
                pid=r["_pid"],
                row=True,
            )
        if n_fail > max_examples:
            add(rule.code, rule.severity,
                f"{n_fail - max_examples} more row(s) break the same rule ({rule.code}, column {rule.column!r})",
                "query the table for the rule to list them all", column=rule.column)  # fmt: skip
    # MMV016: center medians of unit columns. A center whose values all lie in the usual
    # range has its median there too: only columns with values outside it are queried.
    outside_warn = {r.column: 0 for r in rules if r.code in ("MMV010", "MMV011")}
    for k, (rule, _) in enumerate(rule_exprs):
        if rule.code in ("MMV010", "MMV011"):
            outside_warn[rule.column] += int(counts[f"r{k}"] or 0)
    median_checks = [c for c in median_checks if outside_warn.get(c.name, 0) > 0]
    if median_checks and "center" in typed:
        med = (
            live.filter(live._t_center.notnull())
            .group_by("_t_center")
            .aggregate(**{f"m{j}": live[f"_t_{c.name}"].median() for j, c in enumerate(median_checks)},
                       **{f"n{j}": live[f"_t_{c.name}"].notnull().ifelse(1, 0).sum() for j, c in enumerate(median_checks)})
            .order_by("_t_center")
            .to_pyarrow()
            .to_pylist()
        )  # fmt: skip
        for j, chk in enumerate(median_checks):
            wlo, whi = chk.warn or chk.reject or (0.0, 0.0)
            for r in med:
                m, n_c = r[f"m{j}"], int(r[f"n{j}"] or 0)
                if m is None or n_c < 3 or wlo <= m <= whi:
                    continue
                other = chk.likely_unit(float(m))
                add("MMV016", "warning", f"center {r['_t_center']}: median {chk.name} {float(m):g} is implausible for {chk.analyte} in {chk.unit}",
                    f"this center may export {other}; check its unit" if other else "check this center's unit", column=chk.name)  # fmt: skip

    # 9. Exclusions declared by the study team.
    exclusions: list[dict[str, Any]] = []
    if n_empty:
        exclusions += [
            {"patient_id": None, "reason": "empty row", "file": file_name, "row": None}
        ] * n_empty
    # the analysed rows, as conditions on the source table itself, so the typed table's
    # SQL is one projection of the source (short to compile and to plan)
    keep = ~empty_row
    excluded_ids: list[str] = []
    if spec.exclusions:
        wanted = [ex.patient_id for ex in spec.exclusions]
        found = set(
            live.filter(live._pid.isin(wanted))
            .select("_pid")
            .distinct()
            .to_pyarrow()["_pid"]
            .to_pylist()
        )
        for k, ex in enumerate(spec.exclusions):
            if ex.patient_id not in found:
                add("MMV019", "error", f"[[cohort.exclude]] names patient_id {ex.patient_id!r}, which is not in the table",
                    "check the id (ids are compared as text)", spec_key=f"cohort.exclude[{k}].patient_id")  # fmt: skip
                continue
            excluded_ids.append(ex.patient_id)
            exclusions.append(
                {"patient_id": ex.patient_id, "reason": ex.reason, "file": file_name, "row": None}
            )
        if excluded_ids:
            keep = keep & ~pid.isin(excluded_ids).fill_null(False)

    # 10. Accepted issues and invalid-row exclusion.
    accepted = dict(spec.validation.accept)
    n_invalid = 0
    if spec.validation.exclude_invalid_rows:
        live_rules = [
            (r, c) for r, c, _ in failing if r.severity == "error" and r.code not in accepted
        ]
        if dup_ids:
            dup_rule = _RowRule("MMV002", "error", "patient_id", pid.isin(dup_ids), (),
                lambda r: f"patient_id {r['_pid']!r} appears more than once",
                lambda r: "give each patient a unique id")  # fmt: skip
            rules.append(dup_rule)
            live_rules.append((dup_rule, live._pid.isin(dup_ids).fill_null(False)))
        if live_rules:
            any_live = ibis.literal(False)
            for _, cond in live_rules:
                any_live = any_live | cond
            bad_rows = live.filter(any_live)
            if excluded_ids:
                bad_rows = bad_rows.filter(~bad_rows._pid.isin(excluded_ids).fill_null(False))
            # the same condition on the source table, for the analysed-rows filter
            live_idx = [k for k, r in enumerate(rules) if any(r is lr for lr, _ in live_rules)]
            any_err = ibis.literal(False)
            for k in live_idx:
                any_err = any_err | rules[k].cond
            n_invalid = int(bad_rows.count().to_pyarrow().as_py())
            row_fields: dict[str, Any] = {f"_c{j}": c for j, (_, c) in enumerate(live_rules)}
            for rule, _ in live_rules:
                for f in rule.fields:
                    row_fields[f] = bad_rows[f] if f.startswith("_raw_") else bad_rows[f"_t_{f}"]
            for r in _examples(bad_rows, row_fields, max_exclusions):
                reasons = [
                    f"[{rule.code}] {rule.what(r)}"
                    for j, (rule, _) in enumerate(live_rules)
                    if r[f"_c{j}"]
                ]
                exclusions.append(
                    {
                        "patient_id": r["_pid"],
                        "reason": "invalid: " + "; ".join(reasons),
                        "file": file_name,
                        "row": None,
                    }
                )
            if n_invalid > max_exclusions:
                exclusions.append(
                    {
                        "patient_id": None,
                        "reason": f"invalid: {n_invalid - max_exclusions} more rows",
                        "file": file_name,
                        "row": None,
                    }
                )
            keep = keep & ~any_err
        issues = [
            Issue(x.code, "excluded", x.what, x.where, x.fix)
            if x.severity == "error" and k in row_level and x.code not in accepted
            else x
            for k, x in enumerate(issues)
        ]
    issues = [
        Issue(i.code, "accepted", i.what, i.where, f"accepted in the spec: {accepted[i.code]}")
        if i.code in accepted and i.severity != "info"
        else i
        for i in issues
    ]
    n_excluded = n_empty + len(excluded_ids) + n_invalid
    # With nothing excluded, no filter: a query then reads only the columns it uses (the
    # empty-row test would read and clean every column of every row).
    source_rows = stage.filter(keep) if n_excluded else stage
    final = source_rows.select(
        patient_id=pid, **{c: v for c, v in typed.items() if c != "patient_id"}
    )
    return ScaledValidation(final, column_types, issues, exclusions, n_input, n_excluded, units)


def _examples(table: Any, fields: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rows (patient id + fields), ordered by patient id for determinism."""
    sel = table.select(_pid=table._pid if "_pid" in table.columns else table.patient_id, **fields)
    return sel.order_by("_pid").limit(limit).to_pyarrow().to_pylist()


def _date_hint(s: Any, fmt: str) -> str:
    readable = [label for f, label in _DATE_HINTS if f != fmt and _strptime_ok(str(s), f)]
    return (
        f"; it reads as {readable[0]}: if the whole file uses that, set date_format under [data]"
        if readable
        else ""
    )


def _spec_names(spec: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for v in spec.variables:
        out.append((v.name, f"variables.{v.name}"))
    for k, d in enumerate(spec.derive):
        out.append((d.from_, f"derive[{k}].from"))
    for k, p in enumerate(spec.proportions):
        out.append((p.variable, f"proportion[{k}].variable"))
    for k, c in enumerate(spec.compare_proportions):
        out.append((c.by, f"compare_proportion[{k}].by"))
    for k, lr in enumerate(spec.logrank):
        out.append((lr.by, f"logrank[{k}].by"))
        if lr.strata:
            out.append((lr.strata, f"logrank[{k}].strata"))
    for k, cx in enumerate(spec.cox):
        out += [(t, f"cox[{k}].terms") for t in cx.terms]
        out += [(t, f"cox[{k}].reference.{t}") for t, _ in cx.reference]
        if cx.strata:
            out.append((cx.strata, f"cox[{k}].strata"))
        if cx.cluster:
            out.append((cx.cluster, f"cox[{k}].cluster"))
    for k, cp in enumerate(spec.cutpoints):
        out.append((cp.variable, f"cutpoint[{k}].variable"))
    out += [(t, "table1.variables") for t in spec.table1.variables]
    if spec.table1.by:
        out.append((spec.table1.by, "table1.by"))
    return out


def _check_spec_names(spec: Any, available: set[str], add: Callable[..., None]) -> None:
    derived_from_labs = (
        {"best_response", "prior_lines", "tcr", "penta_refractory", "refractory_classes", "measurable_by"}
        if spec.response.source == "labs"
        else set()
    )  # fmt: skip
    seen: set[tuple[str, str]] = set()
    for name, key in _spec_names(spec):
        if name in available or name in derived_from_labs or (name, key) in seen:
            continue
        seen.add((name, key))
        near = difflib.get_close_matches(name, sorted(available), n=1)
        add("MMV014", "error", f"the spec names column {name!r}, which is not in the patient table",
            f"did you mean {near[0]!r}?" if near else f"columns: {', '.join(sorted(available))}", column=name, spec_key=key)  # fmt: skip
