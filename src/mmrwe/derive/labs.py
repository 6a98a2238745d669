"""Harmonize the long lab table (contract section 2b): units converted, never assumed.

Every lab row is parsed, its unit checked against the units accepted for its test, converted
to the canonical unit of docs/clinical.md section 7, and checked for plausibility. A row that cannot
be used is reported as an :class:`~mmrwe.core.errors.Issue` (code ``MML0xx``, with the file,
row, column and patient) and left out of the derivation; nothing is dropped silently.

All steps are vectorized over the rows (``pandas.factorize`` on the raw cells, so text is
parsed once per distinct value): 8 million rows harmonize in a few seconds.

Canonical units: M-protein g/dL, urine M-protein mg/24h, free light chains mg/dL, bone-marrow
plasma cells %, plasmacytoma SPD cm2, calcium mg/dL, hemoglobin g/dL, creatinine mg/dL.
Immunofixation and clonality are coded 1 = positive, 0 = negative; ``new_lesion`` 1 = yes,
0 = no.

Issue codes (lab rows)
----------------------
MML002 error    unknown test name
MML003 error    unit not accepted for the test (including a missing unit)
MML004 error    value implausible for the declared unit (a mislabelled unit, or an entry slip)
MML005 error    date missing or not a date in the declared format
MML006 error    value missing or not readable for the test (number, positive/negative, yes/no)
MML007 error    lab row for a patient_id not in the patient table (or empty patient_id)
MML008 warning  value unusual for the unit (outside the warn range); kept
MML009 warning  an isolated value about 10 times off both neighbours (likely unit slip); left out
MML010 warning  a center's median for a test is implausible next to the other centers
MML011 warning  lab dated after the patient's last_followup_date; left out
MML012 warning  several different values of one test on one date; the worst one is kept
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmrwe.core.errors import Issue, Location, SchemaError
from mmrwe.core.sources import SourceTable

# Test codes: small integers so the long table stays compact (8M rows x 1 byte).
SERUM_M, URINE_M, KAPPA, LAMBDA, SERUM_IFE, URINE_IFE, BMPC, SPD, NEW_LESION, CLONAL = range(10)
CALCIUM, HEMOGLOBIN, CREATININE = 10, 11, 12

#: Rounding of canonical values (decimal places). Unit conversion by a power of ten is not
#: exact in binary floating point (0.7 * 10 / 10 != 0.7); rounding to 9 decimals makes the
#: same measurement in g/L and in g/dL the same double, so the unit never changes a call.
CANONICAL_DECIMALS = 9

QUALITATIVE_UNITS = frozenset({"", "-", "na", "n/a"})


@dataclass(frozen=True, slots=True)
class TestDef:
    """One lab test of contract section 2b: accepted units and plausible ranges.

    ``units`` maps a normalised unit label to ``(operation, factor)``: the canonical value is
    ``value * factor`` ("mul") or ``value / factor`` ("div"). Division is used for the factors
    that are powers of ten written as divisions (g/L -> g/dL), because ``x / 10`` is
    correctly rounded and ``x * 0.1`` is not.
    """

    name: str
    code: int
    canonical_unit: str
    units: tuple[tuple[str, str, str, float], ...]  # (label shown, normalised, op, factor)
    reject: tuple[float, float] | None  # canonical unit; outside = almost surely an error
    warn: tuple[float, float] | None  # canonical unit; outside = unusual
    qualitative: tuple[tuple[str, float], ...] = ()  # accepted words -> code

    @property
    def is_qualitative(self) -> bool:
        """True for immunofixation, clonality and new-lesion rows."""
        return bool(self.qualitative)

    def accepted_units(self) -> str:
        """Accepted unit labels for messages."""
        return "(empty)" if self.is_qualitative else ", ".join(u[0] for u in self.units)


_POSNEG = (("positive", 1.0), ("pos", 1.0), ("+", 1.0), ("negative", 0.0), ("neg", 0.0), ("-", 0.0))

# Ranges: docs/clinical.md section 7 (engineering heuristics, not reference ranges). Plasmacytoma
# SPD and clonality have no published range; the SPD bound (1000 cm2, a 30 x 30 cm mass) is
# ours.
TESTS: tuple[TestDef, ...] = (
    TestDef("serum_m_protein", SERUM_M, "g/dL",
            (("g/dL", "g/dl", "mul", 1.0), ("g/L", "g/l", "div", 10.0)), (0, 15), (0, 10)),
    TestDef("urine_m_protein", URINE_M, "mg/24h",
            (("mg/24h", "mg/24h", "mul", 1.0), ("g/24h", "g/24h", "mul", 1000.0)),
            (0, 50_000), (0, 10_000)),
    TestDef("flc_kappa", KAPPA, "mg/dL",
            (("mg/dL", "mg/dl", "mul", 1.0), ("mg/L", "mg/l", "div", 10.0)),
            (0, 100_000), (0, 20_000)),
    TestDef("flc_lambda", LAMBDA, "mg/dL",
            (("mg/dL", "mg/dl", "mul", 1.0), ("mg/L", "mg/l", "div", 10.0)),
            (0, 100_000), (0, 20_000)),
    TestDef("serum_ife", SERUM_IFE, "", (), None, None, _POSNEG),
    TestDef("urine_ife", URINE_IFE, "", (), None, None, _POSNEG),
    TestDef("bm_plasma_cells", BMPC, "%", (("%", "%", "mul", 1.0),), (0, 100), None),
    TestDef("plasmacytoma_spd", SPD, "cm2", (("cm2", "cm2", "mul", 1.0),), (0, 1000), None),
    TestDef("new_lesion", NEW_LESION, "", (), None, None, (("yes", 1.0), ("no", 0.0))),
    # Extension (not in contract 2b): marrow clonality by immunohistochemistry or flow
    # (kappa/lambda), needed for sCR. positive = clonal plasma cells present.
    TestDef("bm_clonal_plasma_cells", CLONAL, "", (), None, None, _POSNEG),
    TestDef("calcium", CALCIUM, "mg/dL",
            (("mg/dL", "mg/dl", "mul", 1.0), ("mmol/L", "mmol/l", "div", 0.2495)),
            (4, 20), (7.5, 13)),
    TestDef("hemoglobin", HEMOGLOBIN, "g/dL",
            (("g/dL", "g/dl", "mul", 1.0), ("g/L", "g/l", "div", 10.0),
             ("mmol/L", "mmol/l", "div", 0.6206)), (3, 22), (6, 17)),
    TestDef("creatinine", CREATININE, "mg/dL",
            (("mg/dL", "mg/dl", "mul", 1.0), ("umol/L", "umol/l", "div", 88.4)),
            (0.1, 25), (0.4, 8)),
)  # fmt: skip
TEST_BY_NAME = {t.name: t for t in TESTS}
TEST_BY_CODE = {t.code: t for t in TESTS}
TEST_NAMES = tuple(t.name for t in TESTS)

LAB_COLUMNS = ("patient_id", "date", "test", "value", "unit")

#: At most this many issues are listed one by one per (code, cause); the rest are counted
#: in one summary issue, so a file with a wrong unit on every row stays readable.
MAX_ISSUES_PER_CAUSE = 20


def normalise_unit(unit: str) -> str:
    """Normalise a unit label: case, spaces, micro sign, 'per day'."""
    s = unit.strip().replace("µ", "u").replace("μ", "u").replace(" ", "").lower()
    s = s.replace("/24hours", "/24h").replace("/24hr", "/24h").replace("/day", "/24h")
    return s.replace("²", "2").replace("^2", "2")


@dataclass(frozen=True, slots=True)
class HarmonizedLabs:
    """Lab rows ready for the derivation, and what was found on the way.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per usable measurement: ``pid`` (int32, position in the patient table),
        ``day`` (int32, days since 1970-01-01), ``test`` (int8 code), ``value`` (float64,
        canonical unit), ``row`` (int64, row number the user sees). Sorted by pid, day, test.
        Several values of one test on one date are reduced to the worst (highest) one.
    issues : tuple of Issue
        MML0xx findings, in row order.
    n_input : int
        Rows read.
    n_used : int
        Rows kept.
    units_seen : dict
        ``{test: {unit label as written: rows}}`` of the rows kept, for the audit.
    """

    rows: pd.DataFrame
    issues: tuple[Issue, ...]
    n_input: int
    n_used: int
    units_seen: dict[str, dict[str, int]]


class IssueSink:
    """Collects issues for many rows at once, listing the first few per cause in full."""

    def __init__(self, source: SourceTable) -> None:
        self.source = source
        self.issues: list[Issue] = []

    def where(self, i: int, column: str | None, patient_id: str | None) -> Location:
        """Location of frame row ``i``."""
        return self.source.location(i, column=column, patient_id=patient_id)

    def add_rows(
        self,
        code: str,
        severity: str,
        idx: np.ndarray,
        *,
        column: str | None,
        what: Sequence[str],
        fix: Sequence[str],
        cause: Sequence[str],
        patient_ids: Sequence[str | None],
    ) -> None:
        """Add one issue per row in ``idx`` (frame positions), capped per ``cause``."""
        if len(idx) == 0:
            return
        causes = pd.Series(np.asarray(cause, dtype=object))
        order = np.argsort(idx, kind="stable")
        rank = causes.iloc[order].groupby(causes.iloc[order].to_numpy()).cumcount().to_numpy()
        rank_by_pos = np.empty(len(idx), dtype=np.int64)
        rank_by_pos[order] = rank
        shown = np.flatnonzero(rank_by_pos < MAX_ISSUES_PER_CAUSE)
        for k in shown[np.argsort(idx[shown], kind="stable")]:
            self.issues.append(
                Issue(
                    code, severity, what[k], self.where(int(idx[k]), column, patient_ids[k]), fix[k]
                )
            )
        hidden = np.flatnonzero(rank_by_pos >= MAX_ISSUES_PER_CAUSE)
        if len(hidden):
            for c in sorted(set(causes.iloc[hidden])):
                ks = hidden[causes.iloc[hidden].to_numpy() == c]
                rows = sorted(self.source.source_rows[int(idx[k])] for k in ks)
                listed = ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
                first = int(ks[0])
                self.issues.append(
                    Issue(
                        code,
                        severity,
                        f"{len(ks)} more row(s) with the same problem: {c} (rows {listed})",
                        Location(
                            file=self.source.path.name, sheet=self.source.sheet, column=column
                        ),
                        fix[first],
                    )
                )

    def add(self, issue: Issue) -> None:
        """Add one issue."""
        self.issues.append(issue)


def require_columns(source: SourceTable, required: Sequence[str], what: str) -> None:
    """Raise SchemaError naming the first missing column (structural: nothing can be derived)."""
    cols = list(source.frame.columns)
    for c in required:
        if c not in cols:
            near = difflib.get_close_matches(c, cols, n=1)
            raise SchemaError(
                f"the {what} has no column {c!r} (MML001)",
                where=Location(file=source.path.name, sheet=source.sheet, row=1, column=c),
                fix=(f"rename column {near[0]!r} to {c!r}" if near else
                     f"the {what} needs the columns {', '.join(required)} (contract section 2b)"),
            )  # fmt: skip


def parse_dates(cells: pd.Series, date_format: str) -> np.ndarray:
    """Cells (str, date, datetime or None) -> int32 days since 1970-01-01; -1 if unreadable.

    Text is parsed once per distinct value. Numbers are not dates (Excel serials are refused
    rather than guessed).
    """
    codes, uniques = pd.factorize(cells.to_numpy(dtype=object), use_na_sentinel=True)
    out_u = np.full(len(uniques), -1, dtype=np.int64)
    if len(uniques):
        u = pd.Series(uniques, dtype=object)
        is_text = u.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        is_date = u.map(lambda v: hasattr(v, "year") and hasattr(v, "month")).to_numpy(dtype=bool)
        if is_text.any():
            parsed = pd.to_datetime(u[is_text], format=date_format, errors="coerce")
            days = parsed.to_numpy(dtype="datetime64[D]").astype(np.int64)
            days[parsed.isna().to_numpy()] = -1
            out_u[is_text] = days
        if is_date.any():
            dd = pd.to_datetime(u[is_date].map(lambda v: pd.Timestamp(v).normalize()))
            out_u[is_date] = dd.to_numpy(dtype="datetime64[D]").astype(np.int64)
    res = np.where(codes >= 0, out_u[np.maximum(codes, 0)] if len(uniques) else -1, -1)
    return res.astype(np.int64)


def day_to_iso(day: int | float | None) -> str | None:
    """Days since 1970-01-01 -> 'YYYY-MM-DD' (None for missing)."""
    if day is None or (isinstance(day, float) and np.isnan(day)):
        return None
    return str(np.datetime64(int(day), "D"))


def _text_of(uniques: np.ndarray) -> np.ndarray:
    return np.array([str(v).strip() if v is not None else "" for v in uniques], dtype=object)


def harmonize_labs(
    labs: SourceTable,
    patients: pd.DataFrame,
    *,
    date_format: str = "%Y-%m-%d",
    decimal: str = ".",
) -> HarmonizedLabs:
    """Parse, check and convert the long lab table to canonical units.

    Parameters
    ----------
    labs : SourceTable
        The lab table as read by :func:`mmrwe.io.read_table` (columns ``patient_id``,
        ``date``, ``test``, ``value``, ``unit``; contract section 2b).
    patients : pandas.DataFrame
        ``patient_id`` (str), ``last_followup_date`` (datetime64); ``center`` is used for the
        per-center median check when present.
    date_format : str
        strptime format of dates written as text.
    decimal : {".", ","}
        Decimal mark of numbers written as text.

    Returns
    -------
    HarmonizedLabs

    Raises
    ------
    SchemaError
        A required column is missing (MML001).

    Examples
    --------
    >>> import pathlib
    >>> from mmrwe.core.sources import SourceTable
    >>> f = pd.DataFrame({"patient_id": ["p1", "p1"], "date": ["2021-01-01", "2021-02-01"],
    ...                   "test": ["serum_m_protein"] * 2, "value": ["25", "2.0"],
    ...                   "unit": ["g/L", "g/dL"]}, dtype=object)
    >>> src = SourceTable(pathlib.Path("labs.csv"), "csv", f, (2, 3), "")
    >>> pts = pd.DataFrame({"patient_id": ["p1"],
    ...                     "last_followup_date": pd.to_datetime(["2022-01-01"])})
    >>> harmonize_labs(src, pts).rows.value.tolist()
    [2.5, 2.0]
    """
    require_columns(labs, LAB_COLUMNS, "lab table")
    frame = labs.frame
    n = len(frame)
    sink = IssueSink(labs)
    bad = np.zeros(n, dtype=bool)  # rows left out

    # patient_id -> position in the patient table
    pid_codes, pid_uniques = pd.factorize(frame["patient_id"].to_numpy(dtype=object))
    pid_text = _text_of(pid_uniques)
    pindex = pd.Index(patients["patient_id"].astype(str).to_numpy())
    pos_u = pindex.get_indexer(pd.Index(pid_text)) if len(pid_text) else np.empty(0, dtype=np.int64)
    pos_u = np.where(pid_text == "", -1, pos_u)
    # int32 codes: 8M rows x 4 bytes; the text of a row's patient_id is looked up only for
    # the rows an issue is about
    pid_codes = pid_codes.astype(np.int32)
    pos_u = pos_u.astype(np.int32)
    pid = np.where(pid_codes >= 0, pos_u[np.maximum(pid_codes, 0)] if len(pos_u) else -1, -1)
    pid = pid.astype(np.int32)

    def pids_of(idx: np.ndarray) -> list[str | None]:
        c = pid_codes[np.asarray(idx, dtype=np.int64)]
        return [str(pid_text[k]) or None if k >= 0 else None for k in c]

    unknown = np.flatnonzero(pid < 0)
    if len(unknown):
        t = [p or "" for p in pids_of(unknown)]
        sink.add_rows(
            "MML007", "error", unknown, column="patient_id",
            what=[f"lab row for patient_id {p!r}, which is not in the patient table" if p else
                  "lab row without a patient_id" for p in t],
            fix=["correct the patient_id, or add the patient to the patient table"] * len(unknown),
            cause=[f"patient_id {p!r}" for p in t], patient_ids=pids_of(unknown),
        )  # fmt: skip
        bad[unknown] = True

    # test names
    t_codes, t_uniques = pd.factorize(frame["test"].to_numpy(dtype=object))
    t_text = np.array([s.lower() for s in _text_of(t_uniques)], dtype=object)
    t_code_u = np.array([TEST_BY_NAME[s].code if s in TEST_BY_NAME else -1 for s in t_text],
                        dtype=np.int64)  # fmt: skip
    test = np.where(t_codes >= 0, t_code_u[np.maximum(t_codes, 0)] if len(t_code_u) else -1, -1)
    test = test.astype(np.int8)
    unk_t = np.flatnonzero((test < 0) & ~bad)
    if len(unk_t):
        raw = [t_text[c] if c >= 0 else "" for c in t_codes[unk_t]]
        fixes = []
        for s in raw:
            near = difflib.get_close_matches(s, TEST_NAMES, n=1)
            fixes.append(f"did you mean {near[0]!r}?" if near else
                         f"use one of: {', '.join(TEST_NAMES)}")  # fmt: skip
        sink.add_rows(
            "MML002", "error", unk_t, column="test",
            what=[f"unknown test {s!r}" if s else "test is empty" for s in raw], fix=fixes,
            cause=[f"test {s!r}" for s in raw], patient_ids=pids_of(unk_t),
        )  # fmt: skip
    bad |= test < 0

    # dates
    day = parse_dates(frame["date"], date_format)
    bad_d = np.flatnonzero((day < 0) & ~bad)
    if len(bad_d):
        cells = frame["date"].to_numpy(dtype=object)[bad_d]
        sink.add_rows(
            "MML005", "error", bad_d, column="date",
            what=[f"date {c!r} is not a date in the format {date_format!r}" if c is not None
                  else "date is empty" for c in cells],
            fix=[f"write dates as {date_format} (e.g. 2021-03-15), or set date_format under "
                 "[data]"] * len(bad_d),
            cause=["unreadable date"] * len(bad_d), patient_ids=pids_of(bad_d),
        )  # fmt: skip
    bad |= day < 0

    # units: per (test, unit label) pair, decided once
    u_codes, u_uniques = pd.factorize(frame["unit"].to_numpy(dtype=object))
    u_text = _text_of(u_uniques)
    u_norm = np.array([normalise_unit(s) for s in u_text], dtype=object)
    n_u = len(u_text) + 1  # last slot = missing unit
    u_idx = np.where(u_codes >= 0, u_codes, n_u - 1).astype(np.int32)
    del u_codes
    conv: dict[int, tuple[str, float]] = {}  # (test, unit) pair -> conversion
    unit_ok = np.zeros(n, dtype=bool)
    pair = test.astype(np.int32) * n_u + u_idx
    pairs_present = np.flatnonzero(np.bincount(pair[~bad], minlength=1))
    for pr in pairs_present:
        tc, ui = divmod(int(pr), n_u)
        tdef = TEST_BY_CODE[tc]
        norm = u_norm[ui] if ui < len(u_norm) else ""
        sel = pair == pr
        if tdef.is_qualitative:
            unit_ok[sel] = norm in QUALITATIVE_UNITS
            continue
        for _label, un, o, f in tdef.units:
            if norm == un:
                unit_ok[sel] = True
                conv[int(pr)] = (o, f)
    bad_u = np.flatnonzero(~unit_ok & ~bad)
    if len(bad_u):
        names = [TEST_BY_CODE[int(c)].name for c in test[bad_u]]
        labels = [u_text[i] if i < len(u_text) else "" for i in u_idx[bad_u]]
        what, fix = [], []
        for nm, lab in zip(names, labels, strict=True):
            tdef = TEST_BY_NAME[nm]
            if tdef.is_qualitative:
                what.append(f"{nm} takes no unit, got {lab!r}")
                fix.append("leave the unit cell empty for immunofixation, clonality and "
                           "new_lesion rows")  # fmt: skip
            else:
                what.append(f"unit {lab!r} is not accepted for {nm}" if lab else
                            f"{nm} has no unit; units are never assumed")  # fmt: skip
                fix.append(f"write the unit as written by the lab; accepted for {nm}: "
                           f"{tdef.accepted_units()}")  # fmt: skip
        sink.add_rows(
            "MML003", "error", bad_u, column="unit", what=what, fix=fix,
            cause=[f"{nm} in {lab!r}" for nm, lab in zip(names, labels, strict=True)],
            patient_ids=pids_of(bad_u),
        )  # fmt: skip
    bad |= ~unit_ok

    # values
    raw_val = frame["value"].to_numpy(dtype=object)
    value = np.full(n, np.nan)
    qual_codes = np.array([t.code for t in TESTS if t.is_qualitative])
    is_qual = np.isin(test, qual_codes)
    num_rows = np.flatnonzero(~is_qual & ~bad)
    if len(num_rows):
        value[num_rows] = _numbers(raw_val[num_rows], decimal)
    q_rows = np.flatnonzero(is_qual & ~bad)
    if len(q_rows):
        qv_codes, qv_uniques = pd.factorize(raw_val[q_rows])
        qv_text = np.array([s.lower() for s in _text_of(qv_uniques)], dtype=object)
        for tdef in TESTS:
            if not tdef.is_qualitative:
                continue
            words = dict(tdef.qualitative)
            mapped = np.array([words.get(s, np.nan) for s in qv_text], dtype=np.float64)
            sel = test[q_rows] == tdef.code
            cc = qv_codes[sel]
            vals = np.where(cc >= 0, mapped[np.maximum(cc, 0)] if len(mapped) else np.nan, np.nan)
            value[q_rows[sel]] = vals
    bad_v = np.flatnonzero(np.isnan(value) & ~bad)
    if len(bad_v):
        what, fix, cause = [], [], []
        for i in bad_v:
            tdef = TEST_BY_CODE[int(test[i])]
            v = raw_val[i]
            if tdef.is_qualitative:
                allowed = "/".join(w for w, _ in tdef.qualitative if len(w) > 1 and w.isalpha())
                what.append(f"{tdef.name} value {v!r} is not one of {allowed}" if v is not None
                            else f"{tdef.name} value is empty")  # fmt: skip
                fix.append(f"write {allowed}")
            else:
                what.append(f"{tdef.name} value {v!r} is not a number" if v is not None
                            else f"{tdef.name} value is empty")  # fmt: skip
                fix.append("write a plain number (decimal mark as declared under [data]); "
                           "leave out rows that were not measured")  # fmt: skip
            cause.append(f"{tdef.name} value unreadable")
        sink.add_rows("MML006", "error", bad_v, column="value", what=what, fix=fix,
                      cause=cause, patient_ids=pids_of(bad_v))  # fmt: skip
    bad |= np.isnan(value)

    # convert to canonical units; round away binary noise of the conversion
    canon = value.copy()
    for pair_code, (o, f) in conv.items():
        if f != 1.0:
            sel = pair == pair_code
            canon[sel] = canon[sel] / f if o == "div" else canon[sel] * f
    np.round(canon, CANONICAL_DECIMALS, out=canon)

    # plausibility per test (canonical unit)
    for tdef in TESTS:
        if tdef.reject is None:
            continue
        sel = (test == tdef.code) & ~bad
        if not sel.any():
            continue
        lo, hi = tdef.reject
        out = np.flatnonzero(sel & ((canon < lo) | (canon > hi)))
        if len(out):
            what, fix, cause = [], [], []
            for i in out:
                lab = u_text[u_idx[i]] if u_idx[i] < len(u_text) else ""
                what.append(f"{tdef.name} = {value[i]:g} {lab} is implausible "
                            f"(plausible {lo:g}-{hi:g} {tdef.canonical_unit})")  # fmt: skip
                alt = _likely_unit(tdef, value[i], normalise_unit(lab))
                fix.append((f"the value looks like {alt}: correct the unit label (units are "
                            "never assumed)") if alt else
                           "correct the value or its unit in the source")  # fmt: skip
                cause.append(f"{tdef.name} in {lab!r} out of range")
            sink.add_rows("MML004", "error", out, column="value", what=what, fix=fix,
                          cause=cause, patient_ids=pids_of(out))  # fmt: skip
            bad[out] = True
        if tdef.warn is not None:
            wlo, whi = tdef.warn
            odd = np.flatnonzero(sel & ~bad & ((canon < wlo) | (canon > whi)))
            if len(odd):
                labs_ = [u_text[u_idx[i]] if u_idx[i] < len(u_text) else "" for i in odd]
                sink.add_rows(
                    "MML008", "warning", odd, column="value",
                    what=[f"{tdef.name} = {value[i]:g} {lab} is unusual (usual {wlo:g}-{whi:g} "
                          f"{tdef.canonical_unit}); kept" for i, lab in zip(odd, labs_, strict=True)],
                    fix=["check the value and its unit"] * len(odd),
                    cause=[f"{tdef.name} unusual"] * len(odd), patient_ids=pids_of(odd),
                )  # fmt: skip

    # after last follow-up: left out (the patient table says nothing was known after it)
    lfu = _days(patients["last_followup_date"])
    keep = np.flatnonzero(~bad)
    after = keep[(day[keep] > lfu[pid[keep]]) & (lfu[pid[keep]] >= 0)]
    if len(after):
        sink.add_rows(
            "MML011", "warning", after, column="date",
            what=[f"lab dated {day_to_iso(int(day[i]))} is after last_followup_date "
                  f"{day_to_iso(int(lfu[pid[i]]))}; left out" for i in after],
            fix=["correct the date, or update last_followup_date in the patient table"]
            * len(after),
            cause=["lab after last follow-up"] * len(after), patient_ids=pids_of(after),
        )  # fmt: skip
        bad[after] = True

    keep = np.flatnonzero(~bad)
    del raw_val, value, pair, unit_ok, is_qual
    # one integer key per (patient, date, test); sorting it orders the rows by patient, date
    # and test (no DataFrame sort: 8M rows stay a few arrays)
    k_pid = pid[keep].astype(np.int64)
    k_day = day[keep].astype(np.int64)
    k_test = test[keep].astype(np.int64)
    k_val = canon[keep]
    dmin = int(k_day.min()) if len(keep) else 0
    span = int(k_day.max()) - dmin + 1 if len(keep) else 1
    key = (k_pid * span + (k_day - dmin)) * 16 + k_test
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    pos_sorted = keep[order]
    val_sorted = k_val[order]
    del k_pid, k_day, k_test, k_val, key
    if not first.all():
        # several values of one test on one date: keep the worst (highest)
        starts = np.flatnonzero(first)
        grp = np.cumsum(first) - 1
        g_hi = np.maximum.reduceat(val_sorted, starts)
        g_lo = np.minimum.reduceat(val_sorted, starts)
        in_dup = np.flatnonzero(~first | np.r_[~first[1:], False])
        gd = grp[in_dup]
        is_max = val_sorted[in_dup] == g_hi[gd]
        # the first row holding the maximum represents the group
        win = pd.Series(in_dup[is_max]).groupby(gd[is_max]).first()
        chosen = first.copy()
        chosen[in_dup] = False
        chosen[win.to_numpy()] = True
        # report the rows left out for a higher value (equal values: nothing to report)
        differ = val_sorted[in_dup] < g_hi[gd]
        drop_pos = pos_sorted[in_dup[differ]]
        if len(drop_pos):
            sink.add_rows(
                "MML012", "warning", drop_pos, column="value",
                what=[f"{TEST_BY_CODE[int(test[i])].name} has several values on "
                      f"{day_to_iso(int(day[i]))} ({g_lo[g]:g} to {g_hi[g]:g} "
                      f"{TEST_BY_CODE[int(test[i])].canonical_unit}); the worst (highest) is "
                      "kept, as IMWG programming does"
                      for i, g in zip(drop_pos, gd[differ], strict=True)],
                fix=["check whether one of the values belongs to another date or patient"]
                * len(drop_pos),
                cause=["several values on one date"] * len(drop_pos),
                patient_ids=pids_of(drop_pos),
            )  # fmt: skip
        pos_sorted = pos_sorted[chosen]
        val_sorted = val_sorted[chosen]
    out_pid = pid[pos_sorted].astype(np.int32)
    out_day = day[pos_sorted].astype(np.int32)
    out_test = test[pos_sorted].astype(np.int8)

    # isolated tenfold jumps, per test in (patient, date) order, which the sort gives
    slip = _unit_slips(out_pid, out_test, val_sorted)
    if slip.any():
        sp = np.flatnonzero(slip)
        info = [(int(out_test[i]), int(out_day[i]), float(val_sorted[i]), r, a, b)
                for i, (r, a, b) in zip(sp, _slip_context(out_pid, out_test, val_sorted, sp),
                                        strict=True)]  # fmt: skip
        slip_pos = pos_sorted[sp]
        sink.add_rows(
            "MML009", "warning", slip_pos, column="value",
            what=[f"{TEST_BY_CODE[t].name} = {v:g} {TEST_BY_CODE[t].canonical_unit} on "
                  f"{day_to_iso(d)} is about {r:.0f} times off both neighbouring values "
                  f"({a:g} and {b:g}); left out as a probable unit slip"
                  for t, d, v, r, a, b in info],
            fix=["check the unit label of this row (g/L vs g/dL, mg/L vs mg/dL); if the value "
                 "is real, correct the neighbours"] * len(slip_pos),
            cause=["isolated tenfold jump"] * len(slip_pos), patient_ids=pids_of(slip_pos),
        )  # fmt: skip
        ok = ~slip
        pos_sorted, val_sorted = pos_sorted[ok], val_sorted[ok]
        out_pid, out_day, out_test = out_pid[ok], out_day[ok], out_test[ok]

    if "center" in patients.columns and len(pos_sorted):
        label_of = np.array(
            [u_text[i] if i < len(u_text) else "" for i in range(n_u)], dtype=object
        )
        _center_median_check(out_pid, out_test, val_sorted, u_idx[pos_sorted], label_of,
                             patients, sink, labs)  # fmt: skip

    units_seen: dict[str, dict[str, int]] = {}
    if len(pos_sorted):
        cnt = np.bincount(out_test.astype(np.int64) * n_u + u_idx[pos_sorted])
        for code in np.flatnonzero(cnt):
            tc, ui = divmod(int(code), n_u)
            lab = u_text[ui] if ui < len(u_text) else ""
            units_seen.setdefault(TEST_BY_CODE[tc].name, {})[lab] = int(cnt[code])
        units_seen = {k: dict(sorted(v.items())) for k, v in sorted(units_seen.items())}

    src_rows = np.fromiter(labs.source_rows, dtype=np.int64, count=n) if n else np.zeros(0)
    rows = pd.DataFrame(
        {
            "pid": out_pid,
            "day": out_day,
            "test": out_test,
            "value": val_sorted,
            "row": src_rows[pos_sorted].astype(np.int64),
        }
    )
    issues = tuple(sorted(sink.issues, key=lambda i: (i.where.row or 0, i.code)))
    return HarmonizedLabs(rows, issues, n, len(rows), units_seen)


def _numbers(cells: np.ndarray, decimal: str) -> np.ndarray:
    """Object cells -> float64, NaN where not a number.

    Fast path: numpy converts Python numbers and numeric text in C. When a cell is not a
    number, the distinct cells are parsed one by one instead (text is usually repetitive).
    """
    if decimal == ".":
        try:
            return cells.astype(np.float64)
        except (ValueError, TypeError):
            pass
    codes, uniq = pd.factorize(cells)
    u = pd.Series(uniq, dtype=object)
    if decimal == ",":
        u = u.map(lambda v: v.replace(",", ".") if isinstance(v, str) else v)
    parsed = pd.to_numeric(u, errors="coerce").to_numpy(dtype=np.float64)
    return np.where(codes >= 0, parsed[np.maximum(codes, 0)] if len(parsed) else np.nan, np.nan)


def _days(s: pd.Series) -> np.ndarray:
    """datetime64 column -> int64 days, -1 where missing."""
    d = pd.to_datetime(s)
    out = d.to_numpy(dtype="datetime64[D]").astype(np.int64)
    out[d.isna().to_numpy()] = -1
    return out


def _likely_unit(tdef: TestDef, value: float, declared: str) -> str | None:
    for label, un, o, f in tdef.units:
        if un == declared:
            continue
        c = value / f if o == "div" else value * f
        lo, hi = tdef.warn or tdef.reject or (-np.inf, np.inf)
        if lo <= c <= hi:
            return label
    return None


#: Tests checked for isolated tenfold jumps (quantitative disease measures).
_SLIP_TESTS = (SERUM_M, URINE_M, KAPPA, LAMBDA)


def _neighbours(pid: np.ndarray, test: np.ndarray, v: np.ndarray, t: int) -> tuple[np.ndarray, ...]:
    idx = np.flatnonzero(test == t)  # rows are sorted by patient and date
    p, x = pid[idx], v[idx]
    same_prev = np.r_[False, p[1:] == p[:-1]] if len(idx) else np.zeros(0, dtype=bool)
    same_next = np.r_[same_prev[1:], False] if len(idx) else np.zeros(0, dtype=bool)
    prev = np.r_[np.nan, x[:-1]] if len(idx) else np.zeros(0)
    nxt = np.r_[x[1:], np.nan] if len(idx) else np.zeros(0)
    return idx, x, prev, nxt, same_prev & same_next


def _unit_slips(pid: np.ndarray, test: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Values about 10x (8-12.5x) off both neighbours while the neighbours agree (25 %).

    A serum M-protein of 2.5 g/dL written as "2.5 g/L" reads as 0.25 g/dL: a false deep
    response followed by a false progression. M-protein (IgG half-life ~3 weeks) does not
    fall tenfold and recover between two visits, so such a value is a slip, not biology.
    Rows must be sorted by patient, date and test.
    """
    out = np.zeros(len(v), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in _SLIP_TESTS:
            idx, x, prev, nxt, both = _neighbours(pid, test, v, t)
            r1, r2, rn = x / prev, x / nxt, prev / nxt
            up = (r1 >= 8) & (r1 <= 12.5) & (r2 >= 8) & (r2 <= 12.5)
            down = (r1 >= 0.08) & (r1 <= 0.125) & (r2 >= 0.08) & (r2 <= 0.125)
            agree = (rn >= 0.8) & (rn <= 1.25)
            out[idx[both & (x > 0) & (prev > 0) & (nxt > 0) & agree & (up | down)]] = True
    return out


def _slip_context(
    pid: np.ndarray, test: np.ndarray, v: np.ndarray, rows: np.ndarray
) -> list[tuple[float, float, float]]:
    """(ratio, previous value, next value) of each flagged row, for the message."""
    out: dict[int, tuple[float, float, float]] = {}
    for t in _SLIP_TESTS:
        idx, x, prev, nxt, _ = _neighbours(pid, test, v, t)
        where = np.flatnonzero(np.isin(idx, rows))
        for j in where:
            r = x[j] / prev[j]
            out[int(idx[j])] = (float(r if r >= 1 else 1 / r), float(prev[j]), float(nxt[j]))
    return [out[int(i)] for i in rows]


def _center_median_check(
    pid: np.ndarray,
    test: np.ndarray,
    value: np.ndarray,
    unit_idx: np.ndarray,
    unit_labels: np.ndarray,
    patients: pd.DataFrame,
    sink: IssueSink,
    labs: SourceTable,
) -> None:
    """Per-center medians: a whole center may export g/L under a g/dL label (docs/clinical.md 7).

    Hemoglobin, calcium, creatinine: the median of a center's values in one declared unit
    must lie in the warn range of the test (as the patient-table validator does, MMV016).
    M-protein and FLC have no useful lower bound (a responding cohort has values near 0),
    so their center medians are compared with the other centers' medians instead, and only
    a ratio within 25 % of a conversion factor between accepted units (10 for g/L vs g/dL,
    1000 for g/24h vs mg/24h) is reported: centers differ in case mix (a center following
    FLC-only disease has high kappa medians), not by such factors. At least 10 values per
    center. Warnings only; nothing is converted or left out.
    """
    c_codes, c_names = pd.factorize(patients["center"].astype(str).to_numpy())
    sel = np.flatnonzero(np.isin(test, (*_SLIP_TESTS, HEMOGLOBIN, CALCIUM, CREATININE)))
    # medians of a regular subsample of at most 400,000 values: exact enough for a warning,
    # and the rows are sorted by patient, date and test, so the sample does not depend on
    # the input order
    if len(sel) > 400_000:
        sel = sel[:: -(-len(sel) // 400_000)]
    d = pd.DataFrame({"c": c_codes[pid[sel]], "t": test[sel], "v": value[sel],
                      "u": unit_idx[sel]})  # fmt: skip
    where = Location(file=labs.path.name, sheet=labs.sheet, column="unit")
    fix = "check the unit labels this center exports (g/L vs g/dL, mg/L vs mg/dL, g/24h vs mg/24h)"
    narrow = d[d["t"].isin((HEMOGLOBIN, CALCIUM, CREATININE))]
    if not narrow.empty:
        med = narrow.groupby(["t", "c", "u"])["v"].agg(["median", "size"]).reset_index()
        med = med[med["size"] >= 10]
        for t, c, u, m in zip(med["t"].to_numpy(dtype=np.int64), med["c"].to_numpy(dtype=np.int64),
                              med["u"].to_numpy(dtype=np.int64),
                              med["median"].to_numpy(dtype=np.float64), strict=True):  # fmt: skip
            tdef = TEST_BY_CODE[int(t)]
            lo, hi = tdef.warn or tdef.reject or (-np.inf, np.inf)
            if not lo <= m <= hi:
                sink.add(Issue(
                    "MML010", "warning",
                    f"center {c_names[c]}: median {tdef.name} in {unit_labels[u]} is {m:g} "
                    f"{tdef.canonical_unit} after conversion, implausible (usual {lo:g}-{hi:g})",
                    where, fix,
                ))  # fmt: skip
    wide = d[d["t"].isin(_SLIP_TESTS) & (d["v"] > 0)]
    if wide.empty:
        return
    med = wide.groupby(["t", "c"])["v"].agg(["median", "size"]).reset_index()
    med = med[med["size"] >= 10]
    for t in np.unique(med["t"].to_numpy(dtype=np.int64)):
        g = med[med["t"] == t]
        if len(g) < 2:
            continue
        tdef = TEST_BY_CODE[int(t)]
        factors = sorted({f for *_, f in tdef.units if f >= 3})
        centers = g["c"].to_numpy(dtype=np.int64)
        medians = g["median"].to_numpy(dtype=np.float64)
        for j, c in enumerate(centers):
            others = float(np.median(np.delete(medians, j)))
            ratio = medians[j] / others
            if any(f / 1.25 <= r <= f * 1.25 for f in factors for r in (ratio, 1 / ratio)):
                sink.add(Issue(
                    "MML010", "warning",
                    f"center {c_names[c]}: median {tdef.name} {medians[j]:g} "
                    f"{tdef.canonical_unit} is {ratio:.3g} times the median of the other "
                    f"centers ({others:g}), close to a unit conversion factor", where, fix,
                ))  # fmt: skip
