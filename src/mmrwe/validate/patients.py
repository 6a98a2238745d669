# mypy: disable-error-code="misc"
# (rule messages are lambdas with default arguments binding the loop variables)
"""The patient-table rules MMV001-MMV025: one rule table, evaluated by the engine.

Every study, 51 patients or 10 million, is validated here, as relational expressions over
the raw table on the study's engine (in-process DuckDB by default): one aggregate query
counts every rule, and only the rows of rules that fail come back, each as its own issue
with file, row, column, patient id and a fix (at most ``max_examples`` per rule; the rest
are counted in one more issue). The typed canonical table stays a lazy Ibis expression.
Nothing here modifies the input.

The raw table carries, besides the source columns, ``_src_row`` (the row number the user
sees: header = row 1 for CSV and Excel, first case = 1 for Parquet, SPSS and SAS; null for a
database table, which has none) and ``_ord`` (the input order, which every later step
keeps). An Excel column whose cells mix types (text, numbers, dates) arrives as text with a
companion ``__kind__<name>`` column (0 text, 1 number, 2 date), so a number in a date
column is told apart from text.

Issue codes (stable; a spec may accept one knowingly under ``[validation.accept]``):
:data:`RULES` lists them with their severity and what they check.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmrwe.core.errors import Issue, Location, SpecError
from mmrwe.spec.loader import spec_key_label
from mmrwe.spec.model import RESPONSE_CATEGORIES, StudySpec
from mmrwe.validate.units import analyte_of, known_units, likely_unit, unit_range


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """One row of the rule table: the code, how serious it is, what it checks, where it points."""

    code: str
    severity: str
    what: str
    where: str


#: The patient-table rules (documented in docs/validation.md, which a test keeps in step).
RULES: tuple[RuleInfo, ...] = (
    RuleInfo("MMV001", "error", "required column missing, or a mapped source column not found", "column, spec key"),
    RuleInfo("MMV002", "error", "duplicate patient_id (the first occurrence is kept)", "row, patient"),
    RuleInfo("MMV003", "error", "patient_id empty", "row"),
    RuleInfo("MMV004", "error", "date cannot be read with the declared date_format", "row, column, patient"),
    RuleInfo("MMV005", "error", "start_date or last_followup_date empty", "row, column, patient"),
    RuleInfo("MMV006", "error", "a date before start_date", "row, column, patient"),
    RuleInfo("MMV007", "error", "progression_date after last_followup_date", "row, column, patient"),
    RuleInfo("MMV008", "error", "death_date differs from last_followup_date", "row, column, patient"),
    RuleInfo("MMV009", "error", "progression_date after death_date", "row, column, patient"),
    RuleInfo("MMV010", "error", "value implausible for the declared unit", "row, column, patient"),
    RuleInfo("MMV011", "warning", "value unusual for the declared unit", "row, column, patient"),
    RuleInfo("MMV012", "error", "unknown best_response category", "row, column, patient"),
    RuleInfo("MMV013", "error", "text in a numeric column", "row, column, patient"),
    RuleInfo("MMV014", "error", "the spec names a column the table does not have", "column, spec key"),
    RuleInfo("MMV015", "warning", "a column is empty in every row", "column"),
    RuleInfo("MMV016", "warning", "a center's median is implausible for the declared unit", "column"),
    RuleInfo("MMV017", "warning", "no center column", "column"),
    RuleInfo("MMV018", "warning", "column mixes numbers and text; treated as categorical", "column"),
    RuleInfo("MMV019", "error", "[[cohort.exclude]] names a patient_id not in the table", "spec key"),
    RuleInfo("MMV020", "warning", "the spec declares a unit the validator has no range for", "column, spec key"),
    RuleInfo("MMV021", "error", "first_response_date after progression, death or last follow-up; a next-line date after last follow-up", "row, column, patient"),
    RuleInfo("MMV022", "error", "a value that is not one of the variable's declared levels", "row, column, patient, spec key"),
    RuleInfo("MMV023", "error", "the spec names a value the column cannot take (a reference or treated level, a success category, a MAIC target level) or cuts a column that is not numeric", "spec key"),
    RuleInfo("MMV024", "warning", "a date after the day of the run (in the future)", "row, column, patient"),
    RuleInfo("MMV025", "warning", "an analysis needs numbers from a column that holds text or dates", "column, spec key"),
)  # fmt: skip

REQUIRED = ("patient_id", "start_date", "progression_date", "death_date", "last_followup_date")
DATE_COLUMNS = ("start_date", "progression_date", "death_date", "last_followup_date")
#: Optional dates of the endpoints beyond PFS and OS (DoR, TTNT, PFS2): read as dates when
#: the patient table has them, without a [variables] declaration.
ENDPOINT_DATE_COLUMNS = ("first_response_date", "next_line_date", "next_line_progression_date")
#: Columns the engine adds to every raw table (never user columns).
ROW_COLUMNS = ("_src_row", "_ord")
KIND_PREFIX = "__kind__"
_NUMBER = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_DATE_HINTS = (("%Y-%m-%d", "ISO year-month-day"), ("%d/%m/%Y", "day/month/year"), ("%m/%d/%Y", "month/day/year"),
               ("%d.%m.%Y", "day.month.year"), ("%d-%m-%Y", "day-month-year"))  # fmt: skip
# datetime64[ns] (the dtype of dates collected into memory) holds no year before 1678 or
# after 2261: such a date (e.g. 9999-12-31 for "unknown") would silently become missing.
_DATE_MIN, _DATE_MAX = dt.date(1677, 9, 22), dt.date(2262, 4, 11)
#: Largest table whose per-row checks are held in memory during validation (else a view).
CHECKS_IN_MEMORY_MAX_ROWS = 2_000_000


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A source row that is not analysed, and why."""

    reason: str
    patient_id: str | None = None
    file: str | None = None
    row: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``patient_id``, ``reason``, ``file``, ``row``)."""
        return {
            "patient_id": self.patient_id,
            "reason": self.reason,
            "file": self.file,
            "row": self.row,
        }


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
class Validated:
    """The typed canonical table (lazy) and every finding.

    Attributes
    ----------
    table : ibis.Table or None
        Analysed rows only, in input order, canonical names: ``patient_id`` (text), dates as
        ``date``, numeric covariates as ``float64``, categorical ones as text, plus
        ``_src_row`` and ``_ord``. None when a required column is missing.
    column_types : dict
        ``"date"``, ``"numeric"`` or ``"categorical"`` per column (``patient_id`` excluded).
    issues : list of Issue
        Every finding, errors and warnings, in a stable order (by rule family, column, row).
    exclusions : list of Exclusion
        Source rows not analysed, with reasons (the count is exact even when very many rows
        are summarised in one entry).
    n_input_rows, n_excluded : int
        Rows read; rows excluded (empty, excluded by the study team, invalid).
    units : dict
        Declared unit per numeric covariate.
    """

    table: Any
    column_types: dict[str, str]
    issues: list[Issue]
    exclusions: list[Exclusion]
    n_input_rows: int
    n_excluded: int
    units: dict[str, str]

    @property
    def errors(self) -> list[Issue]:
        """Issues that stop the run."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def n_analysed(self) -> int:
        """Rows that go on to the analysis."""
        return self.n_input_rows - self.n_excluded


@dataclass
class _RowRule:
    code: str
    severity: str
    column: str
    cond: str  # the flag column of the checks relation: True where the row breaks the rule
    fields: tuple[str, ...]
    what: Callable[[Mapping[str, Any]], str]
    fix: Callable[[Mapping[str, Any]], str]
    order: tuple[int, int, int]  # (rule family, column position, sub-order): the issue order
    spec_key: str | None = None  # the spec key behind the rule (e.g. the declared levels)


def unit_checks(spec: StudySpec) -> dict[str, UnitCheck]:
    """Plausible ranges of every variable with a declared unit, in the spec's order."""
    checks: dict[str, UnitCheck] = {}

    def likely(analyte: str | None, unit: str) -> Callable[[float], str | None]:
        def guess(x: float) -> str | None:
            return likely_unit(analyte, x, unit) if analyte else None

        return guess

    for v in spec.variables:
        if v.unit is None:
            continue
        analyte = v.analyte or analyte_of(v.name, v.label)
        rng = unit_range(analyte, v.unit) if analyte else None
        checks[v.name] = UnitCheck(
            name=v.name,
            unit=v.unit,
            analyte=analyte,
            reject=rng.reject if rng else None,
            warn=rng.warn if rng else None,
            known_units=tuple(known_units(analyte)) if analyte else (),
            likely_unit=likely(analyte, v.unit),
        )
    return checks


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
    """Strip a text cell; a missing-value token or an empty cell becomes NULL."""
    # Trimming is the costly part (a new string per cell), and most cells need none: trim
    # only cells that start or end with whitespace. The test over-approximates (a tab or
    # newline anywhere), so the result is the trimmed text in every case.
    import ibis

    needs = col.startswith(" ") | col.endswith(" ") | col.contains("\t") | col.contains("\n")
    needs = needs | col.contains("\r")
    s = needs.ifelse(col.strip(), col)
    tokens = sorted(set(missing) | {""})
    # a cell longer than every token is no token: one length test spares the comparisons
    short = s.length() <= max(len(t) for t in tokens)
    return (short & any_equal(s, tokens)).ifelse(ibis.null().cast("string"), s)


def _number(text: Any, decimal: str) -> tuple[Any, Any]:
    """(value, is_bad) of a text cell read as a number (decimal "." or ","); inf is bad."""
    import ibis

    s = text
    if decimal == ",":
        # thousands separators are ambiguous: refuse rather than guess
        both = s.contains(".") & s.contains(",")
        s = both.ifelse(ibis.literal("x"), s.replace(",", "."))
    ok = s.re_search(_NUMBER).fill_null(False)
    parsed = ok.ifelse(s, ibis.null().cast("string")).cast("float64")
    # "1e400" is written like a number but is none: it would become infinity
    ok = ok & ~parsed.isinf().fill_null(False)
    value = ok.ifelse(parsed, ibis.null().cast("float64"))
    bad = text.notnull() & ~ok
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
                    f"date_format {fmt!r}: only %Y, %m and %d (with separators) can be read",
                    where=Location(spec_key="data.date_format"),
                    fix='write the dates with year, month and day, e.g. "%d/%m/%Y" or "%Y-%m-%d"',
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


_PARTS = "_dp_"  # columns of the cleaning level: year, month, day of a text date
_ISO_PARTS = "_di_"  # the same read as ISO (Excel date cells arrive as ISO text)


def _date_parts(text: Any, fmt: str, prefix: str) -> dict[str, Any]:
    """Year, month and day of a text cell in the format, as integers (NULL if it does not
    match), named ``<prefix>Y``, ``<prefix>m``, ``<prefix>d``.

    Computed once per cell in the cleaning level: the date test uses each part a dozen
    times, and inside conditional expressions the engine would evaluate the regular
    expression at every use (3 s of 7 in validating 1e6 rows).
    """
    pattern, groups = _date_pattern(fmt)
    # a cell that does not match extracts "" (or NULL), which try_cast makes NULL
    return {f"{prefix}{g}": text.re_extract(pattern, groups[g]).try_cast("int32") for g in "Ymd"}


def _date(text: Any, parts: Any, prefix: str) -> tuple[Any, Any]:
    """(date, is_bad) of a text cell from its parts (:func:`_date_parts`); impossible dates
    are bad."""
    import ibis

    y0, m0, d0 = (parts[f"{prefix}{g}"] for g in "Ymd")
    ok = (y0.notnull() & m0.notnull() & d0.notnull()).fill_null(False)
    y, m, d = ok.ifelse(y0, 2000), ok.ifelse(m0, 1), ok.ifelse(d0, 1)
    leap = ((y % 4) == 0) & (((y % 100) != 0) | ((y % 400) == 0))
    mdays = ibis.cases((m == 2, leap.ifelse(29, 28)), (any_equal(m, [4, 6, 9, 11]), 30), else_=31)
    valid = ok & (m >= 1) & (m <= 12) & (d >= 1) & (d <= mdays) & (y >= 1)
    safe = ibis.date(valid.ifelse(y, 2000), valid.ifelse(m, 1), valid.ifelse(d, 1))
    value = valid.ifelse(safe, ibis.null().cast("date"))
    bad = text.notnull() & ~valid
    return value, bad


def _id_text(col: Any, dtype: Any, missing: Sequence[str]) -> Any:
    """Identifiers and categories as text: 17.0 read from a numeric cell is '17'."""
    if _is_string(dtype):
        return _clean_text(col, missing)
    if dtype.is_floating():
        whole = (col == col.floor()) & (col.abs() < 1e15)
        return whole.ifelse(col.cast("int64").cast("string"), col.cast("string"))
    if dtype.is_boolean():
        return col.ifelse("1", "0")
    return col.cast("string")


# ----------------------------------------------------------------------------------------
# the validator
# ----------------------------------------------------------------------------------------


def validate_patients(
    raw: Any,
    spec: StudySpec,
    *,
    file_name: str,
    sheet: str | None = None,
    engine: str | None = None,
    name_relation: Callable[[Any, str, bool], Any] | None = None,
    has_rows: bool = True,
    max_examples: int = 1000,
    max_exclusions: int = 100_000,
    invalid_rows: Mapping[int, str] | None = None,
    check_levels: bool = True,
) -> Validated:
    """Validate a raw patient table in the engine and build the typed canonical table.

    Parameters
    ----------
    raw : ibis.Table
        The source table as read (text or typed columns), with ``_src_row`` and ``_ord``.
    spec : StudySpec
        Column map, date format, decimal mark, declared variables, exclusions, accepted
        issues.
    file_name, sheet : str
        Used in issue locations.
    engine : str, optional
        The engine's name ("duckdb", "postgres", "spark"), for engine-specific shortcuts.
    name_relation : callable, optional
        ``name_relation(expr, stem, materialize)`` names an expression on the engine (a
        temporary table or view) and returns it as a table, so later queries compile
        quickly and read the per-row checks once.
    has_rows : bool
        Whether ``_src_row`` holds row numbers the user can find in the source (a database
        table has none: issues then name the patient only).
    max_examples : int
        Rows listed per failing rule; further rows are counted in one summary issue.
    max_exclusions : int
        Excluded rows listed individually (``exclude_invalid_rows``); the count is exact.
    invalid_rows : mapping, optional
        Source row (``_src_row``) -> reason, for rows a reader found invalid (a REDCap
        cell that is no choice of the dictionary, an unreadable date): with
        ``exclude_invalid_rows`` they are excluded with that reason.
    check_levels : bool
        Check values against declared ``levels`` (MMV022) and the values the spec names
        (MMV023). False for one site's file of a pool: a site may lack a level the pooled
        table has, and the pool checks levels after its recodes (MMP005).

    Returns
    -------
    Validated
    """
    import ibis

    issues: list[tuple[tuple[int, int, int, int], Issue, bool]] = []
    seq = [0]

    def add(code: str, severity: str, what: str, fix: str, *, order: tuple[int, int, int],
            row: int | None = None, column: str | None = None, pid: str | None = None,
            spec_key: str | None = None, row_level: bool = False) -> None:  # fmt: skip
        where = Location(file=file_name, sheet=sheet, row=row if has_rows else None,
                         column=column, patient_id=pid, spec_key=spec_key)  # fmt: skip
        seq[0] += 1
        # The order a reader expects: ids, then column by column (cells by row, then the
        # column's own findings), then date order row by row (every rule of a row together),
        # units variable by variable, response categories, spec names, exclusions.
        at = row if row is not None else seq[0]
        fam, pos, sub = order
        key = (fam, pos, at, sub) if fam in (1, 3) else (fam, pos, sub, at)
        issues.append((key, Issue(code, severity, what, where, fix), row_level))

    data = spec.data
    missing_tokens = tuple(data.missing_values)
    # 1. Column mapping onto canonical names.
    user_cols = [c for c in raw.columns if c not in ROW_COLUMNS and not c.startswith(KIND_PREFIX)]
    rename_strip = {str(c).strip(): c for c in user_cols if str(c).strip() != c}
    if rename_strip:
        raw = raw.rename(rename_strip)
        user_cols = [str(c).strip() for c in user_cols]
    present = list(user_cols)
    rename: dict[str, str] = {}
    for canonical, src in data.column_map.items():
        if src not in present:
            near = difflib.get_close_matches(src, present, n=1)
            add("MMV001", "error",
                f"column {src!r} (mapped to {canonical!r} in [data.columns]) is not in the table",
                f"did you mean {near[0]!r}?" if near else f"columns present: {', '.join(present)}",
                order=(0, 0, 0), spec_key=f"data.columns.{canonical}")  # fmt: skip
        else:
            rename[canonical] = src
    for c in [c for c in rename if c in present and c not in rename.values()]:
        add("MMV001", "error", f"column {c!r} exists and another column is also mapped to {c!r}",
            f"remove the mapping for {c!r} or rename the existing column", order=(0, 0, 0),
            column=c, spec_key=f"data.columns.{c}")  # fmt: skip
    kind_rename = {
        f"{KIND_PREFIX}{canonical}": f"{KIND_PREFIX}{src}"
        for canonical, src in rename.items()
        if f"{KIND_PREFIX}{src}" in raw.columns
    }
    table = raw.rename({**rename, **kind_rename}) if rename else raw
    cols = _renamed(user_cols, rename)
    # A column that already has a canonical name is that column: it is never the missing one
    # (death_date missing in a table with start_date must not be told death_date = "start_date").
    taken = {*REQUIRED, *ENDPOINT_DATE_COLUMNS, "center", "best_response", *rename}
    for req in REQUIRED:
        if req not in cols:
            near = difflib.get_close_matches(req, [c for c in cols if c not in taken], n=1)
            fix = (f'map it under [data.columns]: {req} = "{near[0]}"' if near
                   else f'add the column, or map the source column under [data.columns]: {req} = "<source name>"')  # fmt: skip
            add("MMV001", "error", f"required column {req!r} is missing", fix, order=(0, 0, 0),
                column=req)  # fmt: skip
    if "center" not in cols:
        add("MMV017", "warning", "the table has no 'center' column; per-center summaries are skipped",
            'add a center column, or map one under [data.columns]: center = "<source name>"',
            order=(0, 0, 0), column="center")  # fmt: skip
    if any(i.code == "MMV001" for _, i, _ in issues):
        n = int(table.count().to_pyarrow().as_py())
        return Validated(None, {}, _sorted(issues), [], n, 0, {})

    schema = table.schema()
    declared = {v.name: v for v in spec.variables}
    col_pos = {c: k + 1 for k, c in enumerate(cols)}
    n_rows = int(table.count().to_pyarrow().as_py())
    materialize = n_rows <= CHECKS_IN_MEMORY_MAX_ROWS

    def named(rel: Any, stem: str) -> Any:
        # Each level is named on the engine, so the next level's SQL refers to plain columns:
        # inlined, the cleaning and parsing expressions would repeat in every rule and the SQL
        # would balloon. Only the cleaned text is stored (a temporary table): its regular
        # expressions are the costly part and every later level reads it; the typed and check
        # levels stay views, evaluated by the one counting query and once more when the
        # analysis table is built. Stored, each would hold another copy of every row (at 1e6
        # rows: 1.3 GiB with all three stored, 0.6 GiB with this one, and 0.5 s faster).
        store = materialize and stem == "clean"
        return rel if name_relation is None else name_relation(rel, stem, store)

    # 2. Level 1: cleaned text of every text column (stripped; missing tokens -> NULL), and
    # the year, month and day of every date written as text.
    is_text = {c: _is_string(schema[c]) for c in cols}
    kind_cols = [c for c in cols if f"{KIND_PREFIX}{c}" in table.columns]
    is_date_col = {
        c: c in DATE_COLUMNS
        or c in ENDPOINT_DATE_COLUMNS
        or (declared.get(c) is not None and declared[c].type == "date")
        for c in cols
    }
    cleaned = {c: _clean_text(table[c], missing_tokens) if is_text[c] else table[c] for c in cols}
    parts: dict[str, Any] = {}
    for c in cols:
        if is_date_col[c] and is_text[c]:
            parts |= _date_parts(cleaned[c], data.date_format, f"{_PARTS}{c}_")
            if c in kind_cols:
                parts |= _date_parts(cleaned[c], "%Y-%m-%d", f"{_ISO_PARTS}{c}_")
    clean = named(
        table.select(
            **cleaned,
            **parts,
            **{f"{KIND_PREFIX}{c}": table[f"{KIND_PREFIX}{c}"] for c in kind_cols},
            _src_row=table._src_row if "_src_row" in table.columns else ibis.null().cast("int64"),
            _ord=table._ord if "_ord" in table.columns else ibis.row_number().cast("int64"),
        ),
        "clean",
    )

    def kind_of(c: str) -> Any:
        return clean[f"{KIND_PREFIX}{c}"] if c in kind_cols else None

    cov_text = [
        c for c in cols if is_text[c] and c not in ("patient_id", "center") and not is_date_col[c]
    ]
    profile_aggs: dict[str, Any] = {"_n": ibis._.count()}
    parsed_num: dict[str, tuple[Any, Any]] = {}
    for k, c in enumerate(cov_text):
        parsed_num[c] = _covariate_number(clean[c], kind_of(c), data.decimal)
        profile_aggs[f"p{k}"] = clean[c].notnull().ifelse(1, 0).sum()
        profile_aggs[f"b{k}"] = parsed_num[c][1].ifelse(1, 0).sum()
    for k, c in enumerate(cols):  # MMV015 looks at the cells as written, before typing
        profile_aggs[f"nn{k}"] = clean[c].notnull().ifelse(1, 0).sum()
    empty_row = ibis.literal(True)
    for c in cols:
        empty_row = empty_row & clean[c].isnull()
    profile_aggs["_nempty"] = empty_row.ifelse(1, 0).sum()
    prof = clean.aggregate(**profile_aggs).to_pyarrow().to_pylist()[0]
    n_input = int(prof["_n"])
    n_empty = int(prof["_nempty"] or 0)

    # 3. Types: each column's typed value and the flags of its cell-level rules.
    typed: dict[str, Any] = {}
    flags: dict[str, Any] = {}  # flag column -> expression over the cleaned level
    column_types: dict[str, str] = {}
    rules: list[_RowRule] = []
    raw_cells: dict[str, Any] = {}
    typed["patient_id"] = _id_text(clean["patient_id"], schema["patient_id"], missing_tokens)
    fmt = data.date_format
    for c in cols:
        if c == "patient_id":
            continue
        dtype = schema[c]
        vspec = declared.get(c)
        pos = col_pos[c]
        cell = clean[c]
        if is_date_col[c]:
            column_types[c] = "date"
            kind = kind_of(c)
            if dtype.is_date():
                typed[c] = cell
            elif dtype.is_timestamp():
                typed[c] = cell.date()
            elif is_text[c]:
                value, bad = _date(cell, clean, f"{_PARTS}{c}_")
                number = ibis.literal(False)
                if kind is not None:
                    # an Excel date cell arrives as ISO text; a number cell as its digits
                    iso, _ = _date(cell, clean, f"{_ISO_PARTS}{c}_")
                    value = (kind == 2).ifelse(iso, value)
                    number = (kind == 1) & cell.notnull()
                    value = number.ifelse(ibis.null().cast("date"), value)
                    bad = bad & (kind == 0)
                typed[c] = value
                raw_cells[c] = cell
                flags[f"_f4_{c}"] = bad
                rules.append(_RowRule("MMV004", "error", c, f"_f4_{c}", (f"_raw_{c}",),
                    lambda r, c=c: f"{c} {r[f'_raw_{c}']!r} is not a date in the declared format {fmt!r}",
                    lambda r, c=c: f"write it as {_fmt_example(fmt)}" + _date_hint(r[f"_raw_{c}"], fmt),
                    (2, pos, 0)))  # fmt: skip
                if kind is not None:
                    flags[f"_f4n_{c}"] = number
                    rules.append(_RowRule("MMV004", "error", c, f"_f4n_{c}", (f"_raw_{c}",),
                        lambda r, c=c: f"{c} holds the number {r[f'_raw_{c}']}, not a date",
                        lambda r: "in Excel, format the column as a date (a number like 44197 is an Excel serial date); in text files write the date as " + _fmt_example(fmt),
                        (2, pos, 0)))  # fmt: skip
            elif dtype.is_numeric():
                typed[c] = ibis.null().cast("date")
                raw_cells[c] = cell
                flags[f"_f4_{c}"] = cell.notnull()
                rules.append(_RowRule("MMV004", "error", c, f"_f4_{c}", (f"_raw_{c}",),
                    lambda r, c=c: f"{c} holds the number {_number_text(r[f'_raw_{c}'])}, not a date",
                    lambda r: "in Excel, format the column as a date (a number like 44197 is an Excel serial date); in text files write the date as " + _fmt_example(fmt),
                    (2, pos, 0)))  # fmt: skip
            else:
                typed[c] = cell.cast("date")
            continue
        if c == "center":
            typed[c] = _id_text(cell, dtype, missing_tokens)
            column_types[c] = "categorical"
            continue
        has_unit = bool(vspec and vspec.unit)
        want = vspec.type if vspec else None
        numeric_wanted = want == "numeric" or (want is None and has_unit)
        if not is_text[c]:
            if dtype.is_boolean() or (dtype.is_numeric() and want != "categorical"):
                # PostgreSQL casts no boolean to a number: map True/False explicitly
                typed[c] = (
                    cell.ifelse(1, 0).cast("float64")
                    if dtype.is_boolean()
                    else cell.cast("float64")
                )
                column_types[c] = "numeric"
            else:
                typed[c] = _id_text(cell, dtype, missing_tokens)
                column_types[c] = "categorical"
            continue
        k = cov_text.index(c)
        n_present, n_bad = int(prof[f"p{k}"] or 0), int(prof[f"b{k}"] or 0)
        value, bad = parsed_num[c]
        if want == "categorical" or (not numeric_wanted and n_bad and n_bad == n_present):
            typed[c] = cell
            column_types[c] = "categorical"
        elif n_bad and not numeric_wanted:
            # Mostly numbers with some text: likely a typo or a decimal-comma slip; treat as
            # categorical but say so, with the cells, rather than dropping values silently.
            typed[c] = cell
            column_types[c] = "categorical"
            if n_bad <= n_present / 2:
                seen = _examples(clean.filter(bad), {"v": cell}, 5, pid=typed["patient_id"])
                cells = ", ".join(
                    f"row {r['_src_row']} {r['v']!r}" if has_rows and r["_src_row"] is not None
                    else f"patient {r['_pid']} {r['v']!r}"
                    for r in seen
                )  # fmt: skip
                add("MMV018", "warning", f"column {c!r} holds numbers and {n_bad} text value(s) ({cells}); treated as categorical",
                    f'fix the text cells, or declare [variables.{c}] type = "numeric" to have them reported as errors',
                    order=(2, pos, 1), column=c)  # fmt: skip
        else:
            typed[c] = value
            column_types[c] = "numeric"
            raw_cells[c] = cell
            flags[f"_f13_{c}"] = bad
            dec = data.decimal
            rules.append(_RowRule("MMV013", "error", c, f"_f13_{c}", (f"_raw_{c}",),
                lambda r, c=c, dec=dec: f"{c} {r[f'_raw_{c}']!r} is not a number" + (
                    " (the decimal mark is ',' here: set decimal = \",\" under [data])"
                    if "," in str(r[f"_raw_{c}"]) and dec == "." else ""),
                lambda r: "write a number, or leave the cell empty if unknown", (2, pos, 0)))  # fmt: skip

    # MMV015: columns empty in every (non-empty) row
    for k, c in enumerate(cols):
        if n_input - n_empty > 0 and int(prof[f"nn{k}"] or 0) == 0:
            add("MMV015", "warning", f"column {c!r} is empty in every row",
                "fill it or remove it from the table", order=(2, col_pos[c], 2), column=c)  # fmt: skip

    # Level 2: the typed cells and the cell-level flags, computed once.
    stage = named(
        clean.mutate(
            _empty=empty_row,
            **{f"_t_{c}": v for c, v in typed.items()},
            **{f"_raw_{c}": v for c, v in raw_cells.items()},
            **flags,
        ),
        "typed",
    )
    typed = {c: stage[f"_t_{c}"] for c in typed}
    raw_cells = {c: stage[f"_raw_{c}"] for c in raw_cells}
    conds: dict[str, Any] = {name: stage[name] for name in flags}

    # dates outside what the analysis can hold
    for c in [c for c in cols if column_types.get(c) == "date"]:
        d = typed[c]
        out_of_range = ((d < _DATE_MIN) | (d > _DATE_MAX)).fill_null(False)
        raw_cells[f"{c}__parsed"] = d
        conds[f"_f4r_{c}"] = out_of_range
        rules.append(_RowRule("MMV004", "error", c, f"_f4r_{c}", (f"_raw_{c}__parsed",),
            lambda r, c=c: f"{c} {_iso(r[f'_raw_{c}__parsed'])} is outside the dates mmrwe handles ({_DATE_MIN.isoformat()} to {_DATE_MAX.isoformat()})",
            lambda r: "correct the year (a typo, or a placeholder such as 9999-12-31 for 'unknown': leave the cell empty instead)",
            (2, col_pos[c], 0)))  # fmt: skip
        typed[c] = out_of_range.ifelse(ibis.null().cast("date"), d)

    def add_rule(code: str, column: str, cond: Any, fields: tuple[str, ...],
             what: Callable[[Mapping[str, Any]], str], fix: Callable[[Mapping[str, Any]], str],
             order: tuple[int, int, int], severity: str = "error",
             spec_key: str | None = None) -> None:  # fmt: skip
        name = f"_c{len(conds)}"
        conds[name] = cond
        rules.append(_RowRule(code, severity, column, name, fields, what, fix, order, spec_key))

    # 4. Patient ids and date order.
    pid = typed["patient_id"]
    add_rule("MMV003", "patient_id", pid.isnull(), (), lambda r: "patient_id is empty",
         lambda r: "give every row a unique patient id", (1, 0, 0))  # fmt: skip
    start, prog, death, lfu = (typed[c] for c in DATE_COLUMNS)
    for j, c in enumerate(("start_date", "last_followup_date")):
        not_bad = raw_cells[c].isnull() if c in raw_cells else ibis.literal(True)
        add_rule("MMV005", c, typed[c].isnull() & not_bad, (), lambda r, c=c: f"{c} is empty",
             lambda r: "every patient needs a start date and a last follow-up date", (3, 0, j))  # fmt: skip
    for j, c in enumerate(("progression_date", "death_date", "last_followup_date")):
        add_rule("MMV006", c, (typed[c] < start).fill_null(False), (c, "start_date"),
             lambda r, c=c: f"{c} {_iso(r[c])} is before start_date {_iso(r['start_date'])}",
             lambda r: "correct the source; if this center writes day/month/year, declare date_format under [data]",
             (3, 0, 2 + j))  # fmt: skip
    extra = [c for c in ENDPOINT_DATE_COLUMNS if column_types.get(c) == "date"]
    for j, c in enumerate(extra):
        add_rule("MMV006", c, (typed[c] < start).fill_null(False), (c, "start_date"),
             lambda r, c=c: f"{c} {_iso(r[c])} is before start_date {_iso(r['start_date'])}",
             lambda r: "correct the source; if this center writes day/month/year, declare date_format under [data]",
             (3, 1, j))  # fmt: skip
        later = [("last_followup_date", lfu)]
        if c == "first_response_date":  # a response is documented before progression or death
            later = [("progression_date", prog), ("death_date", death), *later]
        for k, (bound, d) in enumerate(later):
            add_rule("MMV021", c, (typed[c] > d).fill_null(False), (c, bound),
                 lambda r, c=c, b=bound: f"{c} {_iso(r[c])} is after {b} {_iso(r[b])}",
                 lambda r, c=c, b=bound: f"{c} must be on or before {b}; check both dates",
                 (3, 2 + j, k))  # fmt: skip
    add_rule("MMV007", "progression_date", (prog > lfu).fill_null(False), ("progression_date", "last_followup_date"),
         lambda r: f"progression_date {_iso(r['progression_date'])} is after last_followup_date {_iso(r['last_followup_date'])}",
         lambda r: "last_followup_date must be the last date the patient was known alive and assessed, on or after every other date",
         (3, 0, 5))  # fmt: skip
    add_rule("MMV008", "last_followup_date", (death != lfu).fill_null(False), ("death_date", "last_followup_date"),
         lambda r: f"death_date {_iso(r['death_date'])} differs from last_followup_date {_iso(r['last_followup_date'])}",
         lambda r: "for a patient who died, last_followup_date must equal death_date", (3, 0, 6))  # fmt: skip
    add_rule("MMV009", "progression_date", (prog > death).fill_null(False), ("progression_date", "death_date"),
         lambda r: f"progression_date {_iso(r['progression_date'])} is after death_date {_iso(r['death_date'])}",
         lambda r: "progression cannot follow death; check both dates", (3, 0, 7))  # fmt: skip
    # MMV024: a date after the day of the run cannot have been observed yet; a warning, not
    # an error (a clock set wrong should not stop a study), but never accepted silently:
    # a typed year (2039 for 2029) lengthens follow-up and moves every curve.
    today = dt.date.today()
    for j, c in enumerate((*DATE_COLUMNS, *extra)):
        add_rule("MMV024", c, (typed[c] > today).fill_null(False), (c,),
             lambda r, c=c, today=today: f"{c} {_iso(r[c])} is in the future (after {today.isoformat()}, the day of this run)",
             lambda r: "correct the year (a typo?); dates that have not happened yet cannot be observed",
             (3, 3, j), severity="warning")  # fmt: skip

    # 5. Units and plausible ranges, in the spec's order of variables.
    units: dict[str, str] = {}
    median_checks: list[tuple[int, UnitCheck]] = []
    for j, (name, chk) in enumerate(unit_checks(spec).items()):
        if name not in typed or column_types.get(name) != "numeric":
            continue
        units[name] = chk.unit
        if chk.analyte is None:
            continue
        if chk.reject is None:
            add("MMV020", "warning", f"no plausible range is known for {chk.analyte} in {chk.unit!r}; values of {name!r} are not range-checked",
                f"known units for {chk.analyte}: {', '.join(chk.known_units) or 'none'}",
                order=(4, j, 0), column=name, spec_key=f"variables.{name}.unit")  # fmt: skip
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

        add_rule("MMV010", name, outside, (name,),
             lambda r, name=name, chk=chk: f"{name} = {_g(r[name])} is implausible for {chk.analyte} in {chk.unit}",
             _fix, (4, j, 0))  # fmt: skip
        add_rule("MMV011", name, unusual, (name,),
             lambda r, name=name, chk=chk, w=(wlo, whi): f"{name} = {_g(r[name])} is unusual for {chk.analyte} in {chk.unit} (usual {w[0]:g}-{w[1]:g})",
             lambda r: "check the value against the source record", (4, j, 0), severity="warning")  # fmt: skip
        median_checks.append((j, chk))

    # 6. Response categories.
    unknown: Any = ibis.literal(False)
    if "best_response" in typed and column_types.get("best_response") == "categorical":
        br = typed["best_response"]
        low = br.lower()
        canon = ibis.cases(*[(low == c.lower(), c) for c in RESPONSE_CATEGORIES], else_=br)
        unknown = br.notnull() & ~any_equal(low, [c.lower() for c in RESPONSE_CATEGORIES])
        typed["best_response"] = canon
        raw_cells["best_response"] = br

        add_rule("MMV012", "best_response", unknown, ("_raw_best_response",),
             lambda r: f"best_response {r['_raw_best_response']!r} is not an IMWG category",
             lambda r: response_fix(r["_raw_best_response"]), (5, 0, 0))  # fmt: skip

    # 6b. Declared levels are a contract: a value outside them would otherwise become a
    # category of its own in Table 1 and in every model.
    for v in spec.variables if check_levels else ():
        c = v.name
        if not v.levels or c not in typed or c in ("patient_id", "center"):
            continue
        if column_types.get(c) == "categorical":
            text = typed[c]
        elif column_types.get(c) == "numeric":
            x = typed[c]  # levels of a numeric code are its labels: 1.0 is "1"
            text = (x == x.floor()).ifelse(x.cast("int64").cast("string"), x.cast("string"))
        else:
            continue
        off = text.notnull() & ~any_equal(text, list(v.levels))
        if c == "best_response" and column_types.get(c) == "categorical":
            off = off & ~unknown  # a value that is no IMWG category is MMV012 already
        key = spec_key_label(("variables", c, "levels"))
        add_rule("MMV022", c, off.fill_null(False), (c,),
             lambda r, c=c, lv=v.levels: f"{c} {_number_text(r[c])!r} is not one of the declared levels ({', '.join(lv)})",
             lambda r, c=c, lv=v.levels: level_fix(_number_text(r[c]), c, lv),
             (2, col_pos[c], 0), spec_key=key)  # fmt: skip

    # 7. Names the spec uses must exist, and the values it names must occur in them.
    _check_spec_names(spec, set(typed) | {d.name for d in spec.derive}, add)
    if check_levels:
        _check_spec_values(spec, stage, typed, column_types, add)
    _check_spec_types(spec, column_types, add)

    # 8. Level 3, the checks: every rule's flag, the typed values, one counting query.
    work = stage.mutate(
        _pid=pid, _o=stage._ord, _row=stage._src_row,
        **{f"_t_{c}": v for c, v in typed.items() if c != "patient_id"},
        **{f"_raw_{c}": v for c, v in raw_cells.items()},
        **conds,
    )  # fmt: skip
    live = work.filter(~work._empty) if n_empty else work
    live = named(live, "checks")
    # distinct ids: DuckDB counts distinct 64-bit hashes faster than strings; a count equal
    # to the number of ids proves them distinct (a collision can only lower it), and a lower
    # count is confirmed by the exact query below
    id_key = live._pid
    if engine == "duckdb":
        id_key = live._pid.notnull().ifelse(live._pid.hash(), ibis.null().cast("int64"))
    aggs: dict[str, Any] = {"_n": ibis._.count(), "_nid": id_key.nunique(),
                            "_nid_present": live._pid.notnull().ifelse(1, 0).sum()}  # fmt: skip
    for k, a_rule in enumerate(rules):
        aggs[f"r{k}"] = live[a_rule.cond].ifelse(1, 0).sum()
    counts = live.aggregate(**aggs).to_pyarrow().to_pylist()[0]

    def fields_of(rel: Any, rule: _RowRule) -> dict[str, Any]:
        return {f: rel[f] if f.startswith("_") else rel[f"_t_{f}"] for f in rule.fields}

    # MMV002: a repeated id; the first occurrence (input order) is kept, later ones break
    # the rule. The window runs only when the count above found a repeat.
    if int(counts["_nid"] or 0) < int(counts["_nid_present"] or 0):
        live = named(
            live.mutate(
                _fo=live._o.min().over(group_by=live._pid),
                _first_row=live._row.min().over(group_by=live._pid),
            ),
            "checks_ids",
        )
        dup = live._pid.notnull() & (live._o > live._fo)
        live = live.mutate(_dup=dup)
        rules.append(_RowRule("MMV002", "error", "patient_id", "_dup", ("_first_row",),
            lambda r: f"patient_id {r['_pid']!r} appears again" + (
                f" (first at row {r['_first_row']})" if has_rows and r["_first_row"] is not None else ""),
            lambda r: "remove the duplicate row, or give each patient a unique id (across all centers)",
            (1, 0, 0)))  # fmt: skip
        counts[f"r{len(rules) - 1}"] = int(live.filter(live._dup).count().to_pyarrow().as_py())
    # row rules: examples of each failing rule
    failing: list[tuple[int, _RowRule, int]] = []
    for k, rule in enumerate(rules):
        n_fail = int(counts[f"r{k}"] or 0)
        if n_fail == 0:
            continue
        failing.append((k, rule, n_fail))
        sel = live.filter(live[rule.cond])
        for r in _examples(sel, fields_of(sel, rule), max_examples):
            add(rule.code, rule.severity, rule.what(r), rule.fix(r), order=rule.order,
                row=r["_src_row"], column=rule.column, pid=r["_pid"], spec_key=rule.spec_key,
                row_level=True)  # fmt: skip
        if n_fail > max_examples:
            fam, pos, sub = rule.order
            add(rule.code, rule.severity,
                f"{n_fail - max_examples} more row(s) break the same rule ({rule.code}, column {rule.column!r})",
                "query the table for the rule to list them all", order=(fam, pos, sub + 1),
                column=rule.column)  # fmt: skip
    # MMV016: center medians of unit columns. A center whose values all lie in the usual
    # range has its median there too: only columns with values outside it are queried.
    outside_warn: dict[str, int] = {}
    for _, rule, n_fail in failing:
        if rule.code in ("MMV010", "MMV011"):
            outside_warn[rule.column] = outside_warn.get(rule.column, 0) + n_fail
    median_checks = [(j, c) for j, c in median_checks if outside_warn.get(c.name, 0) > 0]
    if median_checks and "center" in typed:
        med = (
            live.filter(live._t_center.notnull())
            .group_by("_t_center")
            .aggregate(**{f"m{j}": live[f"_t_{c.name}"].median() for j, c in median_checks},
                       **{f"n{j}": live[f"_t_{c.name}"].notnull().ifelse(1, 0).sum() for j, c in median_checks})
            .order_by("_t_center")
            .to_pyarrow()
            .to_pylist()
        )  # fmt: skip
        for j, chk in median_checks:
            wlo, whi = chk.warn or chk.reject or (0.0, 0.0)
            for r in med:
                m, n_c = r[f"m{j}"], int(r[f"n{j}"] or 0)
                if m is None or n_c < 3 or wlo <= m <= whi:
                    continue
                other = chk.likely_unit(float(m))
                add("MMV016", "warning", f"center {r['_t_center']}: median {chk.name} {float(m):g} is implausible for {chk.analyte} in {chk.unit}",
                    f"this center may export {other}; check its unit" if other else "check this center's unit",
                    order=(4, j, 1), column=chk.name)  # fmt: skip

    # 9. Exclusions: empty rows, then those declared by the study team, then invalid rows.
    exclusions: list[Exclusion] = []
    if n_empty:
        empty = work.filter(work._empty).select("_o", "_row").order_by("_o").to_pyarrow()
        exclusions += [
            Exclusion("empty row", None, file_name, r if has_rows else None)
            for r in empty["_row"].to_pylist()
        ]
    by_team: Any = ibis.literal(False)
    n_team = 0
    if spec.exclusions:
        wanted = sorted({ex.patient_id for ex in spec.exclusions})
        found = {
            r["_pid"]: r
            for r in live.filter(any_equal(live._pid, wanted))
            .group_by("_pid")
            .aggregate(_o=live._o.min(), _row=live._row.min())
            .to_pyarrow()
            .to_pylist()
        }
        for k, ex in enumerate(spec.exclusions):
            if ex.patient_id not in found:
                add("MMV019", "error", f"[[cohort.exclude]] names patient_id {ex.patient_id!r}, which is not in the table",
                    "check the id (ids are compared as text)", order=(7, k, 0),
                    spec_key=f"cohort.exclude[{k}].patient_id")  # fmt: skip
                continue
            f = found[ex.patient_id]
            exclusions.append(
                Exclusion(ex.reason, ex.patient_id, file_name, f["_row"] if has_rows else None)
            )
            by_team = by_team | (live._o == f["_o"])
            n_team += 1

    # Rows a reader found invalid (they carry its issues; the reader leaves the cells empty).
    if invalid_rows and spec.validation.exclude_invalid_rows:
        wanted_rows = sorted(invalid_rows)
        hit = (
            live.filter(live._row.isin(wanted_rows) & ~by_team)
            .select("_o", "_row", "_pid")
            .order_by("_o")
            .to_pyarrow()
            .to_pylist()
        )
        for r in hit:
            exclusions.append(Exclusion("invalid: " + invalid_rows[r["_row"]], r["_pid"],
                                        file_name, r["_row"] if has_rows else None))  # fmt: skip
        if hit:
            by_team = by_team | live._row.isin(wanted_rows)
            n_team += len(hit)

    # 10. Accepted issues and invalid-row exclusion.
    accepted = dict(spec.validation.accept)
    invalid: Any = ibis.literal(False)
    n_invalid = 0
    ordered = _sorted(issues)
    if spec.validation.exclude_invalid_rows:
        # the reasons of an excluded row are listed in issue order
        live_rules = sorted(
            ((k, f) for k, f, _ in failing if f.severity == "error" and f.code not in accepted),
            key=lambda kr: kr[1].order,
        )
        for k, _ in live_rules:
            invalid = invalid | live[rules[k].cond]
        if live_rules:
            bad_rows = live.filter(invalid & ~by_team)
            n_invalid = int(bad_rows.count().to_pyarrow().as_py())
            fields: dict[str, Any] = {f"_x{k}": bad_rows[rules[k].cond] for k, _ in live_rules}
            for _, rule in live_rules:
                fields.update(fields_of(bad_rows, rule))
            for r in _examples(bad_rows, fields, max_exclusions):
                why = "; ".join(
                    f"[{rule.code}] {rule.what(r)}" for k, rule in live_rules if r[f"_x{k}"]
                )
                exclusions.append(Exclusion("invalid: " + why, r["_pid"], file_name,
                                            r["_src_row"] if has_rows else None))  # fmt: skip
            if n_invalid > max_exclusions:
                exclusions.append(
                    Exclusion(f"invalid: {n_invalid - max_exclusions} more rows", None, file_name)
                )
        ordered = [
            Issue(x.code, "excluded", x.what, x.where, x.fix)
            if x.severity == "error" and row_level and x.code not in accepted
            else x
            for x, row_level in _sorted(issues, keep_flag=True)
        ]
    final_issues = [
        Issue(i.code, "accepted", i.what, i.where, f"accepted in the spec: {accepted[i.code]}")
        if i.code in accepted and i.severity != "info"
        else i
        for i in ordered
    ]
    n_excluded = n_empty + n_team + n_invalid
    kept = live.filter(~(by_team | invalid)) if n_team or n_invalid else live
    final = kept.select(
        patient_id=kept._pid,
        **{c: kept[f"_t_{c}"] for c in typed if c != "patient_id"},
        _src_row=kept._row,
        _ord=kept._o,
    )
    return Validated(final, column_types, final_issues, exclusions, n_input, n_excluded, units)


def _renamed(cols: Sequence[str], rename: Mapping[str, str]) -> list[str]:
    back = {src: canonical for canonical, src in rename.items()}
    return [back.get(c, c) for c in cols]


def _sorted(
    issues: list[tuple[tuple[int, int, int, int], Issue, bool]], *, keep_flag: bool = False
) -> list[Any]:
    ordered = sorted(issues, key=lambda t: t[0])
    return [(i, flag) for _, i, flag in ordered] if keep_flag else [i for _, i, _ in ordered]


def _number_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _covariate_number(text: Any, kind: Any, decimal: str) -> tuple[Any, Any]:
    """(value, is_bad) of a covariate cell: text parsed, Excel number cells taken as numbers."""
    value, bad = _number(text, decimal)
    if kind is None:
        return value, bad
    import ibis

    exact, _ = _number(text, ".")  # an Excel number cell is written with "." whatever the locale
    value = ibis.cases((kind == 1, exact), (kind == 2, ibis.null().cast("float64")), else_=value)
    bad = ibis.cases((kind == 1, ibis.literal(False)), (kind == 2, text.notnull()), else_=bad)
    return value, bad


def _examples(
    table: Any, fields: Mapping[str, Any], limit: int, *, pid: Any = None
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows (patient id, row, fields) in input order."""
    p = pid if pid is not None else table._pid
    order = table._o if "_o" in table.columns else (table._ord if "_ord" in table.columns else None)
    row = table._row if "_row" in table.columns else (table._src_row if "_src_row" in table.columns else None)  # fmt: skip
    import ibis

    sel = table.select(
        _pid=p,
        _src_row=row if row is not None else ibis.null().cast("int64"),
        _sort=order if order is not None else p,
        **fields,
    )
    return sel.order_by("_sort").limit(limit).to_pyarrow().to_pylist()


#: Response words that are no IMWG 2016 category, and the category IMWG counts them as
#: (None: no single category; the source record decides). Keys are lower case, words
#: separated by single spaces.
RESPONSE_SYNONYMS: dict[str, str | None] = {
    # near-complete response (M-protein seen only by immunofixation): IMWG 2006/2016 VGPR
    "ncr": "VGPR",
    "near cr": "VGPR",
    "near complete response": "VGPR",
    "stringent complete response": "sCR",
    "stringent cr": "sCR",
    "complete response": "CR",
    "mrd negative cr": "CR",
    "mrd cr": "CR",
    "very good partial response": "VGPR",
    "partial response": "PR",
    "minimal response": "MR",
    "minor response": "MR",
    "stable disease": "SD",
    "no change": "SD",
    "progressive disease": "PD",
    "progression": "PD",
    "not evaluable": "NE",
    "non evaluable": "NE",
    "not evaluated": "NE",
    # unconfirmed CR or "no response" may be CR/VGPR or MR/SD: only the record can tell
    "ucr": None,
    "cru": None,
    "unconfirmed cr": None,
    "nr": None,
    "no response": None,
}


def _words(value: Any) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", str(value).lower()))


def response_fix(value: Any) -> str:
    """The fix of an unknown ``best_response`` cell (MMV012): the IMWG category the word
    stands for when there is one (nCR is VGPR), a near spelling, or the list."""
    allowed = f"use one of {', '.join(RESPONSE_CATEGORIES)}"
    words = _words(value)
    if words in RESPONSE_SYNONYMS:
        target = RESPONSE_SYNONYMS[words]
        if target is None:
            return (f"{value!r} has no single IMWG category: check the source record and "
                    f"write the category its assessments support; {allowed}")  # fmt: skip
        return f"IMWG 2016 counts {value!r} as {target}: write {target!r}; {allowed}"
    # the table above comes first: by spelling alone, nCR and uCR are nearest to "CR"
    near = difflib.get_close_matches(str(value), list(RESPONSE_CATEGORIES), n=1)
    return (f"did you mean {near[0]!r}? " if near else "") + allowed


def _near(value: str, levels: Sequence[str]) -> str | None:
    """The level a value most likely means: the same but for case, the one level it
    abbreviates to ("Female" -> "F"), else the nearest spelling."""
    low = value.lower()
    for found in (
        [lv for lv in levels if lv.lower() == low],
        [lv for lv in levels if lv and low.startswith(lv.lower())],
        difflib.get_close_matches(value, list(levels), n=1),
    ):
        if len(found) == 1:
            return found[0]
    return None


def level_fix(value: str, column: str, levels: Sequence[str]) -> str:
    """The fix of a value outside a variable's declared levels (MMV022)."""
    near = _near(value, levels)
    hint = f"did you mean {near!r}? " if near else ""
    return (f"{hint}write one of {', '.join(levels)}, or add {value!r} to "
            f"{spec_key_label(('variables', column, 'levels'))} if it is a category of its own; "
            "with [validation] exclude_invalid_rows = true such rows are excluded, each with this reason")  # fmt: skip


def _date_hint(s: Any, fmt: str) -> str:
    readable = [label for f, label in _DATE_HINTS if f != fmt and _strptime_ok(str(s), f)]
    return (
        f"; it reads as {readable[0]}: if the whole file uses that, set date_format under [data]"
        if readable
        else ""
    )


def _spec_names(spec: StudySpec) -> list[tuple[str, str]]:
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
    for k, sg in enumerate(spec.subgroups):
        out.append((sg.effect, f"subgroup[{k}].effect"))
        out += [(b, f"subgroup[{k}].by") for b in sg.by]
    for k, ci in enumerate(spec.cuminc):
        out += [(c, f"cuminc[{k}].{w}") for c, w in ((ci.by, "by"), (ci.strata, "strata")) if c]
    for k, fg in enumerate(spec.finegray):
        out += [(t, f"finegray[{k}].terms") for t in fg.terms]
        out += [(t, f"finegray[{k}].reference.{t}") for t, _ in fg.reference]
        if fg.cengroup:
            out.append((fg.cengroup, f"finegray[{k}].cengroup"))
    for k, rm in enumerate(spec.rmst):
        if rm.by:
            out.append((rm.by, f"rmst[{k}].by"))
    for k, w in enumerate(spec.iptw):
        out.append((w.treatment, f"iptw[{k}].treatment"))
        out += [(c, f"iptw[{k}].covariates") for c in w.covariates]
    for k, m in enumerate(spec.maic):
        out += [(c, f"maic[{k}].covariates") for c in m.covariates]
    if spec.imputation is not None:
        out += [(c, "imputation.variables") for c in spec.imputation.variables]
    for k, tv in enumerate(spec.tv_cox):
        out += [(t, f"tv_cox[{k}].terms") for t in tv.terms]
    rs = spec.risk_scores
    for key in ("beta2m", "albumin", "ldh", "del17p", "del17p_pct", "t4_14", "t14_16",
                "t14_20", "gain1q", "del1p32", "tp53", "creatinine"):  # fmt: skip
        if getattr(rs, key) is not None:
            out.append((getattr(rs, key), f"risk_scores.{key}"))
    if isinstance(rs.ldh_uln, str):
        out.append((rs.ldh_uln, "risk_scores.ldh_uln"))
    out += [(t, "table1.variables") for t in spec.table1.variables]
    if spec.table1.by:
        out.append((spec.table1.by, "table1.by"))
    return out


#: Columns a lab/therapy derivation provides when ``[response] source = "labs"``.
DERIVED_FROM_LABS_NAMES = frozenset(
    {
        "best_response",
        "prior_lines",
        "tcr",
        "penta_refractory",
        "refractory_classes",
        "measurable_by",
    }
)


#: Columns ``[risk_scores]`` adds (when it names their inputs).
RISK_SCORE_NAMES = frozenset({"iss", "r_iss", "r2_iss", "r2_iss_points", "ims2025_risk"})


def _check_spec_types(
    spec: StudySpec, column_types: Mapping[str, str], add: Callable[..., None]
) -> None:
    """MMV025: a column an analysis needs as numbers holds text or dates.

    Found by ``validate``, before any analysis, with the spec key and the column; a
    warning, not an error, because the analysis itself is reported as not estimable and
    the rest of the study runs (it ended in an internal error once).
    """
    for k, cp in enumerate(spec.cutpoints):
        kind = column_types.get(cp.variable)
        if kind not in ("categorical", "date"):
            continue
        held = "dates" if kind == "date" else "text (or levels)"
        add("MMV025", "warning",
            f"[[cutpoint]] {k + 1} cuts {cp.variable!r}, which holds {held}: a cut-off needs "
            "numbers, so this analysis will be reported as not estimable",
            "choose a numeric column; if its text cells are typos, declare "
            f'[variables.{cp.variable}] type = "numeric" to have them listed as errors',
            order=(6, 10_000 + k, 0), column=cp.variable, spec_key=f"cutpoint[{k}].variable")  # fmt: skip


def _check_spec_names(spec: StudySpec, available: set[str], add: Callable[..., None]) -> None:
    derived = DERIVED_FROM_LABS_NAMES if spec.response.source == "labs" else frozenset()
    if spec.risk_scores.given:
        derived = derived | RISK_SCORE_NAMES
    seen: set[tuple[str, str]] = set()
    for k, (name, key) in enumerate(_spec_names(spec)):
        if name in available or name in derived or (name, key) in seen:
            continue
        seen.add((name, key))
        near = difflib.get_close_matches(name, sorted(available), n=1)
        # the key stays as it always was (tools read it); the fix names it as the spec is
        # written, 1-based: [[logrank]] 5 -> by
        fix = f"did you mean {near[0]!r}?" if near else f"columns: {', '.join(sorted(available))}"
        add("MMV014", "error", f"the spec names column {name!r}, which is not in the patient table",
            f"{fix} (change {user_key(key)})", order=(6, k, 0), column=name, spec_key=key)  # fmt: skip


def user_key(key: str) -> str:
    """A validator key as the spec is written: ``cox[0].reference.sex`` -> ``[[cox]] 1 ->
    reference.sex``; keys of plain tables (``table1.by``) as they are."""
    m = re.match(r"^([A-Za-z_0-9.]+)\[(\d+)\](?:\.(.+))?$", key)
    if m is None:
        return key
    *tables, name = m.group(1).split(".")
    rest = m.group(3).split(".") if m.group(3) else []
    return spec_key_label((*tables, (name, int(m.group(2)) + 1), *rest))


#: Distinct values read per column to check the values a spec names in it; a column with
#: more (and no declared levels) is no factor, and the analysis judges its references.
SPEC_VALUES_MAX = 500


def _value_refs(spec: StudySpec) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(column, spec key, values, kind) of every value the spec names in a column.

    ``kind`` is "level" for a value an analysis needs among the rows (a reference level, a
    treated level, a MAIC target level) and "category" for values a column may hold (the
    success categories of a [[proportion]], the ``in`` list of a [[derive]], the level of a
    [[published]] ``count:VAR:LEVEL`` quantity).
    """
    out: list[tuple[str, str, tuple[str, ...], str]] = []

    def key(*segments: Any) -> str:
        return spec_key_label(segments)

    refs: list[tuple[str, Sequence[tuple[str, str]]]] = [
        *(("cox", e.reference) for e in spec.cox),
        *(("finegray", e.reference) for e in spec.finegray),
        *(("tv_cox", e.reference) for e in spec.tv_cox),
        *(("iptw", e.reference) for e in spec.iptw),
    ]
    count: dict[str, int] = {}
    for section, pairs in refs:
        count[section] = k = count.get(section, 0) + 1
        for term, level in pairs:
            out.append((term, key((section, k), "reference", term), (level,), "level"))
    for k, w in enumerate(spec.iptw):
        if w.treated is not None:
            out.append((w.treatment, key(("iptw", k + 1), "treated"), (w.treated,), "level"))
    for k, sg in enumerate(spec.subgroups):
        if sg.reference is not None:
            out.append((sg.effect, key(("subgroup", k + 1), "reference"), (sg.reference,), "level"))
    for k, rm in enumerate(spec.rmst):
        if rm.by and rm.reference is not None:
            out.append((rm.by, key(("rmst", k + 1), "reference"), (rm.reference,), "level"))
    for k, m in enumerate(spec.maic):
        for t in m.target:
            if t.level is not None:
                out.append((t.name, key(("maic", k + 1), "target", t.name, "level"), (t.level,), "level"))  # fmt: skip
    for k, p in enumerate(spec.proportions):
        out.append((p.variable, key(("proportion", k + 1), "success"), p.success, "category"))
    for k, d in enumerate(spec.derive):
        if d.in_ is not None:
            out.append((d.from_, key(("derive", k + 1), "in"), d.in_, "category"))
    for k, pub in enumerate(spec.published):
        # count:VAR:LEVEL, percent:VAR:LEVEL and response:CAT name a category of a column
        parts = (pub.quantity or "").split(":")
        if len(parts) == 3 and parts[0] in ("count", "percent"):
            out.append((parts[1], key(("published", k + 1), "quantity"), (parts[2],), "category"))
        elif len(parts) == 2 and parts[0] == "response":
            out.append(("best_response", key(("published", k + 1), "quantity"), (parts[1],), "category"))  # fmt: skip
    return out


def _check_spec_values(
    spec: StudySpec,
    stage: Any,
    typed: Mapping[str, Any],
    column_types: Mapping[str, str],
    add: Callable[..., None],
) -> None:
    """MMV023: values the spec names in a column (reference levels, success categories, ...)
    must be values of that column; a numeric cut ([[derive]] below/above/at_least) needs a
    numeric column. Every problem is reported, each naming the spec key to change."""
    derived: dict[str, tuple[str, ...]] = {
        d.name: d.labels if d.labels is not None else ("1", "0") for d in spec.derive
    }
    labs_response = spec.response.source == "labs"
    seen: dict[str, tuple[str, ...] | None] = {}

    def values_of(c: str) -> tuple[str, ...] | None:
        """The column's values as the analyses label them; None: not known here."""
        if c in seen:
            return seen[c]
        out: tuple[str, ...] | None = None
        if c in derived and c not in typed:
            out = derived[c]
        elif c in typed and column_types.get(c) in ("categorical", "numeric"):
            x = typed[c]
            if column_types[c] == "numeric":
                x = (x == x.floor()).ifelse(x.cast("int64").cast("string"), x.cast("string"))
            rel = stage.filter(~stage._empty & x.notnull()).select(_v=x).distinct()
            got = rel.limit(SPEC_VALUES_MAX + 1).to_pyarrow()["_v"].to_pylist()
            if len(got) <= SPEC_VALUES_MAX:
                out = tuple(sorted(str(v) for v in got))
        seen[c] = out
        return out

    for k, (c, key, values, kind) in enumerate(_value_refs(spec)):
        if c == "best_response" and kind == "category" and (c in typed or labs_response):
            # the IMWG categories as the validator writes them (MMV012 reads them in any case)
            for value in values:
                if value not in RESPONSE_CATEGORIES:
                    add("MMV023", "error", f"{key} names {value!r}, which is not an IMWG response category",
                        response_fix(value), order=(6, 10_000 + k, 0), column=c, spec_key=key)  # fmt: skip
            continue
        present = values_of(c)
        if present is None:
            continue  # not in the table (MMV014), a date, or no factor
        v = spec.variable(c)
        declared = tuple(v.levels) if v is not None and v.levels else ()
        allowed = declared if kind == "category" and declared else present
        for value in values:
            if value in allowed:
                continue
            near = _near(value, allowed)
            listed = ", ".join(allowed[:20]) + (", ..." if len(allowed) > 20 else "")
            if value in declared:
                what = f"{key} names {value!r}, a declared level of {c!r} that no row has"
            elif kind == "level":
                what = f"{key} names {value!r}, which is not a value of column {c!r}"
            else:
                what = f"{key} names {value!r}, which column {c!r} does not hold"
            fix = (f"did you mean {near!r}? " if near else "") + (
                f"the values of {c!r} are: {listed}" if allowed else f"column {c!r} is empty"
            )
            add("MMV023", "error", what, fix, order=(6, 10_000 + k, 0), column=c,
                spec_key=key)  # fmt: skip
    for k, d in enumerate(spec.derive):
        if (
            d.in_ is None
            and d.from_ in typed
            and column_types.get(d.from_) not in (None, "numeric")
        ):
            key = spec_key_label((("derive", k + 1), "from"))
            add("MMV023", "error",
                f"{key} = {d.from_!r} is a {column_types[d.from_]} column; below, above and at_least cut numbers",
                f'declare [variables.{d.from_}] type = "numeric" if it holds numbers, or use in = [...] to list the categories that make 1',
                order=(6, 20_000 + k, 0), column=d.from_, spec_key=key)  # fmt: skip


__all__ = [
    "RULES",
    "Exclusion",
    "RuleInfo",
    "UnitCheck",
    "Validated",
    "any_equal",
    "level_fix",
    "response_fix",
    "unit_checks",
    "user_key",
    "validate_patients",
]
