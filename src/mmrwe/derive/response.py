"""One entry point: IMWG response, progression, lines of therapy and refractoriness.

:func:`derive_response` harmonizes the lab table (:mod:`mmrwe.derive.labs`), derives lines
and refractoriness from the therapy table (:mod:`mmrwe.derive.therapy`) and response and
progression from the labs (:mod:`mmrwe.derive.imwg`), and returns one row per patient with
the derived columns of contract section 2b, an audit trail (one JSON object per patient)
and every issue found. Two engines give identical results: DuckDB SQL (default) and pandas.

Patient-level issue codes
-------------------------
MML013 warning  no measurable disease at baseline (or no lab in the baseline window): NE
MML014 warning  PD reading at the last assessment, not confirmed (reported; an event only
                when ``unconfirmed_pd_is_event``)
MML015 warning  patient without any usable lab row: NE
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from mmrwe.core.errors import DerivationError, Issue, Location
from mmrwe.core.sources import SourceTable
from mmrwe.derive import imwg as _imwg
from mmrwe.derive import therapy as _th
from mmrwe.derive.imwg import (
    CRITERIA,
    FAIL_BITS,
    LEVELS,
    PD_BITS,
    PDK_DEATH,
    PDK_NEXT,
    PDK_NOCONF,
    PDK_SIMUL,
    PROFILE_RULES,
    R_FLC,
    R_MARROW,
    R_NONE,
    R_SPD,
    R_SU,
    ResponseParams,
)
from mmrwe.derive.labs import SERUM_M, TESTS, HarmonizedLabs, harmonize_labs

__all__ = ["ResponseDerivation", "ResponseParams", "derive_response"]

DAYS_PER_MONTH = 30.4375
MAX_PATIENT_ISSUES = 20
_FAR_FUTURE = 100_000.0  # year 2243: stands for a missing last_followup_date (no upper bound)

#: Derived columns, in output order.
PER_PATIENT_COLUMNS = (
    "patient_id", "best_response", "best_response_date", "first_response_date",
    "progression_date", "measurable_by", "measurable_compartments", "prior_lines",
    "refractory_classes", "tcr", "penta_refractory", "refractory_agents", "tce",
    "dara_refractory_date", "months_from_dara_refractory", "last_dara_dose_date",
    "months_from_last_dara_dose", "unconfirmed_pd_date", "best_response_pd_unconfirmed",
    "pd_criteria", "pd_confirmation", "pd_date_recorded", "pd_date_agreement",
    "pd_date_difference_days", "next_line_date", "next_line_progression_date",
    "response_window_end", "n_assessments", "prior_lines_derived", "prior_lines_entered",
    "anti_cd38_in_line", "anti_cd38_band_g_dl", "anti_cd38_interference",
)  # fmt: skip

#: Largest serum M-spike (g/dL, exclusive) that may be the anti-CD38 antibody itself.
ANTI_CD38_BAND_G_DL = 0.25
ANTI_CD38_RULE = (
    "daratumumab or isatuximab in the line under study (IgG1-kappa antibodies that migrate "
    "on SPEP and IFE), a serum M-spike > 0 and < 0.25 g/dL on treatment, and a best response "
    "below CR: the band may be the drug and hide a CR. yes: the patient's M-protein is "
    "IgG-kappa; possible: its isotype is not recorded; no: otherwise; empty: no therapy row "
    "for the patient"
)


@dataclass(frozen=True)
class ResponseDerivation:
    """Result of :func:`derive_response`.

    Attributes
    ----------
    per_patient : pandas.DataFrame
        One row per patient, in the patient table's order, columns
        ``PER_PATIENT_COLUMNS``: ``best_response`` (sCR, CR, VGPR, PR, MR, SD, PD, NE),
        ``best_response_date``/``first_response_date`` (first of the two confirming
        assessments), ``progression_date`` (IMWG, confirmed), ``measurable_by`` (serum,
        urine, flc, marrow, plasmacytoma, none; serum when both serum and urine are
        measurable, see ``measurable_compartments``), ``prior_lines`` (Int64),
        ``refractory_classes`` (";"-joined), ``tcr``/``penta_refractory``/``tce``
        ("yes"/"no"; empty without a therapy table), dates as ``datetime64[ns]``.
    audit : AuditTrail
        One JSON-ready dict per patient (a lazy sequence: formatted on access, written by
        ``audit.write_jsonl(path)``).
    issues : tuple of Issue
        MML0xx findings of the lab rows, therapy rows and patients.
    parameters : dict
        Rule parameters, thresholds and criteria version, for results.json.
    assessments : pandas.DataFrame
        Per-assessment table (codes) behind the audit, for quality control.
    therapy_rows : pandas.DataFrame or None
        Per therapy row: derived line, rule, refractoriness.
    therapy : pandas.DataFrame or None
        Per therapy row, harmonized and joined with its derived line (the audit's therapy
        table): ``pid``, ``regimen``, ``agents``, ``start``, ``end`` (days), ``line_eff``,
        ``line_reason``, ... (the swimmer plot and the lines-of-therapy flow read it).
    stage_seconds : dict
        Wall time of each stage (harmonize_labs, therapy, imwg, assemble); informational,
        not for results.json (which must not hold timings).
    """

    per_patient: pd.DataFrame
    audit: AuditTrail
    issues: tuple[Issue, ...]
    parameters: dict[str, Any]
    assessments: pd.DataFrame = field(repr=False)
    therapy_rows: pd.DataFrame | None = field(default=None, repr=False)
    therapy: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    stage_seconds: dict[str, float] = field(default_factory=dict, repr=False, compare=False)


def derive_response(
    patients: pd.DataFrame,
    labs: SourceTable,
    therapy: SourceTable | None,
    params: ResponseParams,
    *,
    engine: Literal["duckdb", "pandas"] = "duckdb",
    date_format: str = "%Y-%m-%d",
    decimal: str = ".",
) -> ResponseDerivation:
    """Derive IMWG 2016 response and progression, lines of therapy and refractoriness.

    Parameters
    ----------
    patients : pandas.DataFrame
        ``patient_id`` (str), ``start_date`` (datetime64, day 0); ``death_date`` and
        ``last_followup_date`` (datetime64); optional ``progression_date`` (the recorded
        one, compared with the derived date) and ``center`` (per-center unit check).
    labs : SourceTable
        Long lab table (contract section 2b), as read by :func:`mmrwe.io.read_table`.
    therapy : SourceTable or None
        Therapy table (contract section 2b); without it, no lines or refractoriness are
        derived and assessments are not cut at a next line.
    params : ResponseParams
        Rule parameters (spec ``[response]``).
    engine : {"duckdb", "pandas"}
        DuckDB SQL window functions (default) or pandas group operations; identical results.
    date_format : str
        strptime format of dates written as text in the lab and therapy tables.
    decimal : {".", ","}
        Decimal mark of lab values written as text.

    Returns
    -------
    ResponseDerivation

    Raises
    ------
    DerivationError
        The patient table lacks ``patient_id`` or ``start_date``.
    mmrwe.core.errors.SchemaError
        The lab or therapy table lacks a required column.

    Notes
    -----
    No R equivalent exists; the rules are those of ``docs/clinical.md`` sections 1-4 (IMWG 2016,
    Rajkumar 2015 lines of therapy, IMWG 2011 refractoriness), restated in the docstrings
    of :mod:`mmrwe.derive.imwg` and :mod:`mmrwe.derive.therapy`. Rows with errors are
    left out of the derivation and listed in ``issues``; nothing is guessed.

    Examples
    --------
    >>> import pathlib
    >>> pts = pd.DataFrame({"patient_id": ["p1"], "start_date": pd.to_datetime(["2021-01-10"]),
    ...     "death_date": pd.to_datetime([None]), "last_followup_date": pd.to_datetime(["2022-01-01"])})
    >>> f = pd.DataFrame({"patient_id": ["p1"] * 3, "test": ["serum_m_protein"] * 3,
    ...     "date": ["2021-01-05", "2021-02-05", "2021-03-05"], "value": ["3.0", "1.2", "1.1"],
    ...     "unit": ["g/dL"] * 3}, dtype=object)
    >>> labs = SourceTable(pathlib.Path("labs.csv"), "csv", f, (2, 3, 4), "")
    >>> r = derive_response(pts, labs, None, ResponseParams())
    >>> r.per_patient.loc[0, ["best_response", "measurable_by"]].tolist()
    ['PR', 'serum']
    """
    for c in ("patient_id", "start_date"):
        if c not in patients.columns:
            raise DerivationError(
                f"the patient table passed to the response derivation has no {c!r} column",
                fix="pass the validated canonical patient table",
            )
    n = len(patients)
    pts = patients.reset_index(drop=True)
    day0 = _days(pts["start_date"])
    lfu = _days(pts["last_followup_date"]) if "last_followup_date" in pts else np.full(n, np.nan)
    death = _days(pts["death_date"]) if "death_date" in pts else np.full(n, np.nan)
    lfu_eff = np.where(np.isnan(lfu), _FAR_FUTURE, lfu)

    lab_pts = pd.DataFrame({"patient_id": pts["patient_id"].astype(str),
                            "last_followup_date": pd.to_datetime(lfu_eff, unit="D")})  # fmt: skip
    if "center" in pts.columns:
        lab_pts["center"] = pts["center"].to_numpy()
    clock = time.perf_counter()
    stage_seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stage_seconds[name] = now - clock
        clock = now

    hl = harmonize_labs(labs, lab_pts, date_format=date_format, decimal=decimal)
    lap("harmonize_labs")

    if engine not in ("duckdb", "pandas"):
        raise ValueError(f"engine must be 'duckdb' or 'pandas', got {engine!r}")
    # each DuckDB stage opens and closes its own in-memory connection, so the memory of one
    # stage is given back before the next starts
    tt = None
    th_issues: tuple[Issue, ...] = ()
    ht = None
    if therapy is not None:
        ht = _th.harmonize_therapy(therapy, pts, params, date_format=date_format)
        th_issues = ht.issues
        tt = _th.derive_therapy(ht, day0, params, engine=engine)
    next_start = tt.patients["next_start"].to_numpy() if tt is not None else np.full(n, np.nan)
    lap("therapy")
    pt = pd.DataFrame({"start": day0, "lfu": lfu_eff, "death": death, "next_start": next_start})
    it = _imwg.derive_imwg(hl.rows, pt, params, engine=engine)
    lap("imwg")

    extra = _line_extras(pts, day0, hl, it.patients, ht, tt, params)
    per = _assemble(pts, day0, it.patients, tt, params, extra)
    pissues = _patient_issues(pts, hl, it.patients, params, labs)
    if tt is not None and therapy is not None:
        pissues += _line_issues(pts, tt, therapy)
    issues = tuple(hl.issues) + tuple(th_issues) + pissues
    parameters = params.to_dict()
    parameters.update(
        engine=engine,
        canonical_units={t.name: t.canonical_unit or "positive/negative" for t in TESTS},
        units_seen=hl.units_seen,
        lab_rows={"read": hl.n_input, "used": hl.n_used},
        audit_fail_codes={name: f"{cat}: {text}" for name, cat, text in FAIL_BITS},
        anti_cd38_interference=ANTI_CD38_RULE,
        next_line_progression="earliest progression_date of the rows of the next line",
        line_rules={str(k): v for k, v in _th.LINE_REASONS.items()},
        refractory_rules={str(k): v for k, v in _th.REF_RULES.items()},
        scr_note=(
            "sCR needs a normal FLC ratio and no clonal marrow plasma cells "
            "(lab test bm_clonal_plasma_cells); "
            + (
                "without a clonality result the call is CR"
                if params.scr_without_clonality == "CR"
                else "without a clonality result the FLC ratio alone decides"
            )
        ),
    )
    therapy_table = _therapy_for_audit(ht, tt)
    audit = AuditTrail(
        per_patient=per,
        internal=it.patients,
        assessments=it.assessments,
        therapy=therapy_table,
        day0=day0,
        params=params,
    )
    lap("assemble")
    return ResponseDerivation(
        per_patient=per,
        audit=audit,
        issues=issues,
        parameters=parameters,
        assessments=it.assessments,
        therapy_rows=None if tt is None else tt.rows,
        therapy=therapy_table,
        stage_seconds=stage_seconds,
    )


def _days(s: pd.Series) -> np.ndarray:
    d = pd.to_datetime(s)
    out = d.to_numpy(dtype="datetime64[D]").astype(np.float64)
    out[d.isna().to_numpy()] = np.nan
    return out


def _to_dt(days: np.ndarray) -> pd.Series:
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = ~np.isnan(days)
    out[ok] = days[ok].astype(np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    return pd.Series(out)


def _yes_no(x: np.ndarray, present: np.ndarray) -> np.ndarray:
    return np.where(present, np.where(x, "yes", "no"), "")


def _line_extras(
    pts: pd.DataFrame,
    day0: np.ndarray,
    hl: HarmonizedLabs,
    P: pd.DataFrame,
    ht: _th.HarmonizedTherapy | None,
    tt: _th.TherapyTables | None,
    params: ResponseParams,
) -> dict[str, np.ndarray]:
    """Progression on the next line (PFS2) and the anti-CD38 interference flag, per patient.

    * ``next_line_progression_date``: the earliest own progression date of the rows of the
      next line (the line after the one running at day 0), as the therapy table records it
      (a row's progression is on or after its start and before the following line).
    * ``anti_cd38_interference``: see ``ANTI_CD38_RULE``; the smallest on-treatment serum
      M-spike in (0, 0.25) g/dL is kept for the audit.
    """
    n = len(pts)
    next_pd = np.full(n, np.nan)
    cd38 = np.zeros(n, dtype=bool)
    if ht is not None and tt is not None and len(ht.rows):
        R = ht.rows[["tid", "pid", "start", "pd", "supportive_only"]].merge(
            tt.rows[["tid", "line_eff"]], on="tid"
        )
        pid = R["pid"].to_numpy()
        start = R["start"].to_numpy()
        line = R["line_eff"].to_numpy()
        lines = ~R["supportive_only"].to_numpy() & ~np.isnan(line)
        d0 = day0[pid]
        cur = _th._gmax(pid[lines & (start <= d0)], line[lines & (start <= d0)], n)
        later = lines & (start > d0) & ~(line <= cur[pid])
        nxt = _th._gmin(pid[later], line[later], n)
        on_next = lines & (line == nxt[pid])
        next_pd = _th._gmin(pid[on_next], R["pd"].to_numpy()[on_next], n)
        # anti-CD38 agents in a row of the line running at day 0, from day 0 on
        idx = lines & (line == cur[pid]) & (start >= d0)
        A = ht.agents
        tid = R["tid"].to_numpy(dtype=np.int64)
        by_tid = np.zeros(int(tid.max()) + 1 if len(tid) else 0, dtype=bool)
        by_tid[tid] = idx
        a_tid = A["tid"].to_numpy(dtype=np.int64)
        a_idx = by_tid[a_tid] & (A["cls"].to_numpy() == "anti-CD38")
        cd38[A["pid"].to_numpy()[a_idx]] = True
    # smallest serum M-spike in (0, 0.25) g/dL after day 0 within the response window
    L = hl.rows
    lp = L["pid"].to_numpy(dtype=np.int64)
    lv = L["value"].to_numpy(dtype=np.float64)
    ld = L["day"].to_numpy(dtype=np.float64)
    end = P["end_day"].to_numpy()
    small = (
        (L["test"].to_numpy() == SERUM_M) & (lv > 0) & (lv < ANTI_CD38_BAND_G_DL)
        & (ld > day0[lp]) & (ld <= end[lp])
    )  # fmt: skip
    band = _th._gmin(lp[small], lv[small], n)
    iso = _isotype_igg_kappa(pts, params.isotype_column)
    below_cr = P["bor"].to_numpy() < _imwg.CR
    hit = cd38 & ~np.isnan(band) & below_cr
    # without therapy rows the agents of the line are unknown: not assessable ("")
    known = (tt.patients["n_rows"].to_numpy() > 0) if tt is not None else np.zeros(n, bool)
    flag = np.where(hit & (iso == 1), "yes", np.where(hit & (iso < 0), "possible", "no"))
    flag = np.where(known, flag, "").astype(object)
    in_line = np.where(known, np.where(cd38, "yes", "no"), "").astype(object)
    return {
        "next_line_progression_date": next_pd,
        "anti_cd38_in_line": in_line,
        "anti_cd38_band_g_dl": np.where(cd38, band, np.nan),
        "anti_cd38_interference": flag,
    }


def _isotype_igg_kappa(pts: pd.DataFrame, column: str) -> np.ndarray:
    """1 where the M-protein isotype is IgG kappa, 0 where it is another, -1 where unknown."""
    n = len(pts)
    if column not in pts.columns:
        return np.full(n, -1, dtype=np.int64)
    codes, uniq = pd.factorize(pd.Series(pts[column].to_numpy(), dtype=object))
    table = []
    for v in uniq.tolist():  # one parse per distinct text
        t = re.sub(r"[^a-zκλ]", "", str(v).lower())
        table.append(-1 if t in ("", "nan", "none", "unknown", "na") else
                     int(t in ("iggkappa", "iggk", "iggκ")))  # fmt: skip
    lookup = np.array([*table, -1], dtype=np.int64)  # code -1 (missing) -> unknown
    return lookup[codes]


def _assemble(
    pts: pd.DataFrame,
    day0: np.ndarray,
    P: pd.DataFrame,
    tt: _th.TherapyTables | None,
    params: ResponseParams,
    extra: dict[str, np.ndarray],
) -> pd.DataFrame:
    n = len(pts)
    bor = P["bor"].to_numpy()
    names = np.array([*list(LEVELS), "NE"], dtype=object)  # index -1 -> "NE"
    best = names[bor]
    route = P["route"].to_numpy()
    is_s, is_u = P["is_s"].to_numpy(), P["is_u"].to_numpy()
    meas_by = np.select(
        [is_s, is_u, route == R_FLC, route == R_MARROW, route == R_SPD],
        ["serum", "urine", "flc", "marrow", "plasmacytoma"],
        "none",
    )
    comp = np.select([is_s & is_u], ["serum;urine"], meas_by)
    pd_bits = P["pd_bits"].to_numpy()
    crit = np.full(n, "", dtype=object)
    for i, (name, _) in enumerate(PD_BITS):
        short = name.removeprefix("PD_").lower()
        has = ~np.isnan(pd_bits) & ((np.nan_to_num(pd_bits).astype(np.int64) >> i) & 1 == 1)
        crit = np.where(has, np.where(crit == "", short, crit + ";" + short), crit)
    kind = P["pd_kind"].to_numpy()
    conf = np.select(
        [kind == PDK_NEXT, kind == PDK_DEATH, kind == PDK_NOCONF, kind == PDK_SIMUL, kind == 0],
        ["next assessment", "death", "not needed (imaging or marrow)",
         "two markers at one assessment", "unconfirmed, counted as event"],
        "",
    ).astype(object)  # fmt: skip
    pdd = P["pd_day"].to_numpy()
    rec = _days(pts["progression_date"]) if "progression_date" in pts else np.full(n, np.nan)
    agree = np.select(
        [np.isnan(pdd) & np.isnan(rec), np.isnan(rec), np.isnan(pdd), pdd == rec],
        ["neither", "derived only", "recorded only", "same"],
        "different",
    ).astype(object)
    diff = np.where(np.isnan(pdd) | np.isnan(rec), np.nan, pdd - rec)
    out = pd.DataFrame(
        {
            "patient_id": pts["patient_id"].astype(str).to_numpy(),
            "best_response": best,
            "best_response_date": _to_dt(P["bor_day"].to_numpy()),
            "first_response_date": _to_dt(P["first_resp_day"].to_numpy()),
            "progression_date": _to_dt(pdd),
            "measurable_by": meas_by.astype(object),
            "measurable_compartments": comp.astype(object),
        }
    )
    if tt is not None:
        T = tt.patients
        has = T["n_rows"].to_numpy() > 0
        prior = pd.array(np.where(has, T["prior_lines"].to_numpy(), np.nan), dtype="Float64")
        out["prior_lines"] = prior.astype("Int64")
        out["refractory_classes"] = T["refractory_classes"].to_numpy()
        out["tcr"] = _yes_no(T["tcr"].to_numpy(), has)
        out["penta_refractory"] = _yes_no(T["penta"].to_numpy(), has)
        out["refractory_agents"] = T["refractory_agents"].to_numpy()
        out["tce"] = _yes_no(T["tce"].to_numpy(), has)
        cref = T["cd38_ref_date"].to_numpy()
        clast = T["cd38_last_dose"].to_numpy()
        out["dara_refractory_date"] = _to_dt(cref)
        out["months_from_dara_refractory"] = (day0 - cref) / DAYS_PER_MONTH
        out["last_dara_dose_date"] = _to_dt(clast)
        out["months_from_last_dara_dose"] = (day0 - clast) / DAYS_PER_MONTH
        out["next_line_date"] = _to_dt(T["next_start"].to_numpy())
        out["prior_lines_derived"] = pd.array(
            np.where(has, T["prior_lines_derived"].to_numpy(), np.nan), dtype="Float64"
        ).astype("Int64")
        out["prior_lines_entered"] = pd.array(
            T["prior_lines_entered"].to_numpy(), dtype="Float64"
        ).astype("Int64")
    else:
        out["prior_lines"] = pd.array([pd.NA] * n, dtype="Int64")
        for c in ("refractory_classes", "tcr", "penta_refractory", "refractory_agents", "tce"):
            out[c] = ""
        for c in ("dara_refractory_date", "last_dara_dose_date", "next_line_date"):
            out[c] = pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"))
        out["months_from_dara_refractory"] = np.nan
        out["months_from_last_dara_dose"] = np.nan
        out["prior_lines_derived"] = pd.array([pd.NA] * n, dtype="Int64")
        out["prior_lines_entered"] = pd.array([pd.NA] * n, dtype="Int64")
    out["unconfirmed_pd_date"] = _to_dt(P["unconf_day"].to_numpy())
    out["best_response_pd_unconfirmed"] = np.where(P["bor_pd_unconfirmed"].to_numpy(), "yes", "no")
    out["pd_criteria"] = crit
    out["pd_confirmation"] = np.where(np.isnan(pdd), "", conf)
    out["pd_date_recorded"] = _to_dt(rec)
    out["pd_date_agreement"] = agree
    out["pd_date_difference_days"] = pd.array(diff, dtype="Float64").astype("Int64")
    end_day = P["end_day"].to_numpy()
    out["response_window_end"] = _to_dt(np.where(end_day >= _FAR_FUTURE, np.nan, end_day))
    out["n_assessments"] = P["n_assess"].to_numpy(dtype=np.int64)
    out["next_line_progression_date"] = _to_dt(extra["next_line_progression_date"])
    for c in ("anti_cd38_in_line", "anti_cd38_band_g_dl", "anti_cd38_interference"):
        out[c] = extra[c]
    return out[list(PER_PATIENT_COLUMNS)]


def _patient_issues(
    pts: pd.DataFrame,
    hl: HarmonizedLabs,
    P: pd.DataFrame,
    params: ResponseParams,
    labs: SourceTable,
) -> tuple[Issue, ...]:
    n = len(pts)
    has_lab = np.bincount(hl.rows["pid"].to_numpy(dtype=np.int64), minlength=n) > 0
    route = P["route"].to_numpy()
    no_base = np.isnan(P[["b_sm", "b_um", "b_kap", "b_bm", "b_spd"]].to_numpy()).all(axis=1)
    ids = pts["patient_id"].astype(str).to_numpy()
    out: list[Issue] = []

    def emit(code: str, idx: np.ndarray, what: Any, fix: str) -> None:
        for i in idx[:MAX_PATIENT_ISSUES]:
            out.append(Issue(code, "warning", what(i),
                             Location(file=labs.path.name, patient_id=ids[i]), fix))  # fmt: skip
        if len(idx) > MAX_PATIENT_ISSUES:
            more = ", ".join(ids[i] for i in idx[MAX_PATIENT_ISSUES : MAX_PATIENT_ISSUES + 10])
            out.append(Issue(code, "warning",
                             f"{len(idx) - MAX_PATIENT_ISSUES} more patient(s) with the same "
                             f"finding ({more}{', ...' if len(idx) > MAX_PATIENT_ISSUES + 10 else ''})",
                             Location(file=labs.path.name), fix))  # fmt: skip

    W = params.baseline_window_days
    emit(
        "MML015",
        np.flatnonzero(~has_lab),
        lambda i: "no usable lab row for this patient; best response NE",
        "add the patient's lab results, or check the rows reported for this patient",
    )
    emit(
        "MML013",
        np.flatnonzero(has_lab & (route == R_NONE)),
        lambda i: (f"no lab value in the baseline window ({W} days up to start_date)"
                   if no_base[i] else
                   "no measurable disease at baseline (serum M < threshold, urine M < 200 "
                   "mg/24h, FLC not measurable, BMPC < 30 %, no plasmacytoma)")
        + "; best response NE",
        f"check the baseline labs; baseline_window_days = {W} under [response] sets the "
        "look-back window",
    )  # fmt: skip
    un = P["unconf_day"].to_numpy()
    emit(
        "MML014",
        np.flatnonzero(~np.isnan(un)),
        lambda i: f"PD reading on {_iso(float(un[i]))} at the last assessment is not confirmed; "
        + ("counted as progression (unconfirmed_pd_is_event = true)"
           if params.unconfirmed_pd_is_event else "not counted as progression"),
        "add the next assessment if there is one; unconfirmed_pd_is_event under [response] "
        "sets the sensitivity analysis",
    )  # fmt: skip
    return tuple(out)


def _line_issues(
    pts: pd.DataFrame, tt: _th.TherapyTables, therapy: SourceTable
) -> tuple[Issue, ...]:
    """MML027: entered line numbers disagree with the lines derived by rule."""
    T = tt.patients
    ent = T["prior_lines_entered"].to_numpy()
    der = T["prior_lines_derived"].to_numpy()
    bad = np.flatnonzero(T["lines_entered"].to_numpy() & ~np.isnan(ent) & (ent != der))
    ids = pts["patient_id"].astype(str).to_numpy()
    return tuple(
        Issue(
            "MML027",
            "warning",
            f"entered line numbers give {int(ent[i])} prior line(s); the rules of docs/clinical.md "
            f"section 4 give {int(der[i])}; the entered numbers are used",
            Location(file=therapy.path.name, sheet=therapy.sheet, column="line", patient_id=ids[i]),
            "check the line column against the regimens (see the audit's line_rule per row)",
        )
        for i in bad
    )


def _iso(day: float) -> str:
    return str(np.datetime64(int(day), "D"))


def _therapy_for_audit(
    ht: _th.HarmonizedTherapy | None, tt: _th.TherapyTables | None
) -> pd.DataFrame | None:
    if ht is None or tt is None:
        return None
    T = ht.rows[["tid", "pid", "row", "regimen", "agents", "start", "end", "pd", "pd_from_end",
                 "reason", "line_entered"]]  # fmt: skip
    return T.merge(tt.rows.drop(columns=["pid"]), on="tid").assign(
        prior_lines=lambda d: tt.patients["prior_lines"].to_numpy()[d["pid"].to_numpy()]
    )


# --------------------------------------------------------------------------------------
# Audit trail
# --------------------------------------------------------------------------------------


class AuditTrail(Sequence[dict[str, Any]]):
    """One JSON-ready dict per patient, formatted on demand.

    The objects are built set-based by DuckDB (``to_json`` over the per-assessment table),
    in chunks, so 100,000 patients do not need 100,000 dicts in memory at once.
    ``write_jsonl`` writes ``response_audit.jsonl``; indexing and iteration return dicts.
    """

    CHUNK = 5_000

    def __init__(
        self,
        *,
        per_patient: pd.DataFrame,
        internal: pd.DataFrame,
        assessments: pd.DataFrame,
        therapy: pd.DataFrame | None,
        day0: np.ndarray,
        params: ResponseParams,
    ) -> None:
        self._per = per_patient
        self._int = internal
        self._asm = assessments
        self._th = therapy
        self._day0 = day0
        self._params = params
        self._con: Any = None

    def __len__(self) -> int:
        return len(self._per)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [json.loads(s) for s in self._lines(*_slice_range(i, len(self)))]
        k = i + len(self) if i < 0 else i
        if not 0 <= k < len(self):
            raise IndexError(i)
        return json.loads(self._lines(k, k + 1)[0])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for lo in range(0, len(self), self.CHUNK):
            for s in self._lines(lo, min(lo + self.CHUNK, len(self))):
                yield json.loads(s)

    def lines(self) -> Iterator[str]:
        """JSON text of each patient's object, in patient order."""
        for lo in range(0, len(self), self.CHUNK):
            yield from self._lines(lo, min(lo + self.CHUNK, len(self)))

    def write_jsonl(self, path: str | Path, *, mode: int = 0o666) -> Path:
        """Write one JSON object per line (UTF-8, ``\\n``), in patient order.

        The file is created with ``mode`` (less the umask; ``0o600`` in ``restricted/``),
        never through a symbolic link planted at ``path``.
        """
        p = Path(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(p, flags, mode)
        if mode != 0o666:
            os.fchmod(fd, mode)  # an existing file keeps its bits through O_CREAT
        with open(fd, "w", encoding="utf-8", newline="\n") as fh:
            for s in self.lines():
                fh.write(s)
                fh.write("\n")
        return p

    def _connect(self) -> Any:
        if self._con is None:
            from mmrwe.derive.sandbox import private_duckdb

            con = private_duckdb()
            per = self._per.copy()
            for c in per.columns:
                if str(per[c].dtype).startswith("datetime64"):
                    per[c] = per[c].dt.strftime("%Y-%m-%d")
            per.insert(0, "pid", np.arange(len(per), dtype=np.int64))
            con.register("a_per", per)
            ip = self._int.copy()
            ip["day0"] = self._day0
            con.register("a_int", ip)
            con.register("a_asm", self._asm)
            if self._th is not None:
                con.register("a_th", self._th)
            self._con = con
        return self._con

    def _lines(self, lo: int, hi: int) -> list[str]:
        if hi <= lo:
            return []
        con = self._connect()
        sql = _audit_sql(self._params, self._th is not None)
        rows = con.execute(sql, [lo, hi]).fetchall()
        return [r[0] for r in rows]


def _slice_range(s: slice, n: int) -> tuple[int, int]:
    lo, hi, step = s.indices(n)
    if step != 1:
        raise ValueError("AuditTrail slices take step 1")
    return lo, max(lo, hi)


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _date(col: str) -> str:
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE strftime(DATE '1970-01-01' + CAST({col} AS INTEGER), '%Y-%m-%d') END"


def _level(col: str) -> str:
    names = ", ".join(_q(x) for x in LEVELS)
    return f"CASE WHEN {col} IS NULL OR {col} < 0 THEN NULL ELSE [{names}][CAST({col} AS INTEGER) + 1] END"


def _audit_sql(params: ResponseParams, with_therapy: bool) -> str:
    fail_list = ", ".join(
        f"CASE WHEN (x.fail_bits & {1 << i}) <> 0 THEN {_q(f'{cat}: {text}')} END"
        for i, (_, cat, text) in enumerate(FAIL_BITS)
    )
    pd_list = ", ".join(
        f"CASE WHEN (x.pd_bits & {1 << i}) <> 0 THEN {_q(text)} END"
        for i, (_, text) in enumerate(PD_BITS)
    )
    cat_rank = {c: i for i, c in enumerate(LEVELS)}
    # per patient, how often each requirement failed among the assessments in the window
    bit_counts = ",\n    ".join(
        f"count(*) FILTER (WHERE x.conf IS NOT NULL AND (x.fail_bits & {1 << i}) <> 0) AS c{i}"
        for i in range(len(FAIL_BITS))
    )
    not_reached = ", ".join(
        f"CASE WHEN k.c{i} > 0 AND coalesce(i.bor, -1) < {cat_rank[cat]} THEN "
        f"{{'category': {_q(cat)}, 'requirement_not_met': {_q(text)}, 'assessments': k.c{i}}} END"
        for i, (_, cat, text) in enumerate(FAIL_BITS)
    )
    route_rule = f"""CASE i.route
      WHEN {R_SU} THEN concat_ws('; ',
        CASE WHEN i.is_s THEN 'serum M-protein ' || i.b_sm || ' g/dL >= ' || {params.measurable_serum_g_dl} || ' g/dL' END,
        CASE WHEN i.is_u THEN 'urine M-protein ' || i.b_um || ' mg/24h >= 200 mg/24h' END)
      WHEN {R_FLC} THEN 'serum and urine M-protein not measurable; involved FLC ' ||
        (CASE WHEN i.kinv = 1 THEN 'kappa ' || i.b_kap ELSE 'lambda ' || i.b_lam END) ||
        ' mg/dL >= 10 mg/dL with abnormal kappa/lambda ratio ' || round(i.b_kap / nullif(i.b_lam, 0), 4)
      WHEN {R_MARROW} THEN 'no serum, urine or FLC measurable disease; bone-marrow plasma cells ' || i.b_bm || ' % >= 30 %'
      WHEN {R_SPD} THEN 'only a soft-tissue plasmacytoma is measurable (SPD ' || i.b_spd || ' cm2)'
      ELSE 'no measurable disease at baseline: response not evaluable (NE)' END"""
    bor_rule = f"""CASE
      WHEN i.bor >= 1 AND i.route IN ({R_SU}, {R_FLC}) AND i.bor_confirm_day IS NOT NULL AND i.bor_confirm_day <> i.bor_day
        THEN {_level("i.bor")} || ' confirmed by two consecutive assessments (' || {_date("i.bor_day")} || ', ' || {_date("i.bor_confirm_day")} || '); the confirmed category is the lower of the two readings'
      WHEN i.bor >= 2 AND i.route IN ({R_SU}, {R_FLC}) AND {"true" if params.profile == "relaxed" else "false"}
        THEN {_level("i.bor")} || ' on ' || {_date("i.bor_day")} || ' (profile relaxed: one assessment suffices)'
      WHEN i.bor = 1 THEN 'SD: an assessment without progression; SD needs no confirmation'
      WHEN i.bor >= 2 THEN {_level("i.bor")} || ' on ' || {_date("i.bor_day")} || ' (marrow or plasmacytoma route: no confirmation needed)'
      WHEN i.bor = 0 AND i.bor_pd_unconfirmed THEN 'PD: the only evaluable reading is an unconfirmed PD (unconfirmed_pd_bor = PD); not a progression event'
      WHEN i.bor = 0 THEN 'PD: progression before any assessment without progression'
      WHEN i.route = {R_NONE} THEN 'NE: no measurable disease at baseline'
      WHEN i.n_assess = 0 THEN 'NE: no assessment after day 0 within the response window'
      ELSE 'NE: no evaluable assessment' END"""
    pd_conf = f"""CASE i.pd_kind
      WHEN {PDK_NEXT} THEN 'confirmed by the next assessment on ' || {_date("i.pd_confirm_day")} || '; dated at the first of the two'
      WHEN {PDK_DEATH} THEN 'confirmed by death before any further assessment'
      WHEN {PDK_NOCONF} THEN 'imaging or marrow progression: no confirmation needed'
      WHEN {PDK_SIMUL} THEN 'confirmed by two markers progressing at the same assessment (profile simultaneous_pd)'
      WHEN 0 THEN 'unconfirmed PD at the last assessment, counted because unconfirmed_pd_is_event = true'
      END"""
    therapy_cte = ""
    therapy_json = "NULL"
    if with_therapy:
        therapy_cte = f""",
th AS (
  SELECT t.pid, list({{
      'row': t."row", 'regimen': t.regimen, 'agents': t.agents,
      'start': {_date("t.start")}, 'end': {_date('t."end"')},
      'progression': {_date("t.pd")}, 'progression_from_end_date': t.pd_from_end,
      'reason_end': nullif(t.reason, ''), 'line_entered': t.line_entered,
      'line_derived': t.line_derived, 'line_used': t.line_eff,
      'line_rule': CASE t.line_reason {" ".join(f"WHEN {k} THEN {_q(v)}" for k, v in _th.LINE_REASONS.items())} END,
      'refractory': t.refractory,
      'refractory_rule': CASE CAST(t.ref_rule AS INTEGER) {" ".join(f"WHEN {k} THEN {_q(v)}" for k, v in _th.REF_RULES.items())} END,
      'refractory_date': {_date("t.ref_date")}
    }} ORDER BY t.start, t."row") AS rows
  FROM a_th t WHERE t.pid >= $1 AND t.pid < $2 GROUP BY t.pid)"""
        therapy_json = """CASE WHEN th.rows IS NULL THEN NULL ELSE {
      'regimens': th.rows, 'prior_lines': p.prior_lines,
      'prior_lines_derived': p.prior_lines_derived, 'prior_lines_entered': p.prior_lines_entered,
      'prior_lines_rule': 'lines starting before day 0 (derived by rule unless every row has an entered line number; then entered line of the regimen under study - 1)',
      'refractory_agents': p.refractory_agents, 'refractory_classes': p.refractory_classes,
      'triple_class_exposed': p.tce, 'triple_class_refractory': p.tcr,
      'penta_refractory': p.penta_refractory,
      'anti_cd38_refractory_date': p.dara_refractory_date,
      'months_from_anti_cd38_refractory': p.months_from_dara_refractory,
      'last_anti_cd38_dose': p.last_dara_dose_date,
      'months_from_last_anti_cd38_dose': p.months_from_last_dara_dose,
      'next_line_starts': p.next_line_date,
      'next_line_progression': p.next_line_progression_date} END"""
    return f"""
WITH x AS (SELECT * FROM a_asm WHERE pid >= $1 AND pid < $2),
asm AS (
  SELECT x.pid, list({{
      'date': {_date("x.day")},
      'is_response_assessment': x.is_assess,
      'values': json_merge_patch('{{}}', to_json({{
        'serum_m_protein_g_dl': x.sm, 'urine_m_protein_mg_24h': x.um,
        'flc_kappa_mg_dl': x.kap, 'flc_lambda_mg_dl': x.lam, 'dflc_mg_dl': x.d,
        'serum_ife': CASE x.sife WHEN 1 THEN 'positive' WHEN 0 THEN 'negative' END,
        'urine_ife': CASE x.uife WHEN 1 THEN 'positive' WHEN 0 THEN 'negative' END,
        'bm_plasma_cells_percent': x.bm, 'plasmacytoma_spd_cm2': x.spd,
        'new_lesion': CASE x.newl WHEN 1 THEN 'yes' WHEN 0 THEN 'no' END,
        'bm_clonal_plasma_cells': CASE x.clon WHEN 1 THEN 'positive' WHEN 0 THEN 'negative' END}})),
      'carried_forward': json_merge_patch('{{}}', to_json({{
        'bm_plasma_cells_percent': x.bm_cf, 'plasmacytoma_spd_cm2': x.spd_cf,
        'bm_clonal_plasma_cells': CASE x.clon_cf WHEN 1 THEN 'positive' WHEN 0 THEN 'negative' END}})),
      'nadir': json_merge_patch('{{}}', to_json({{
        'serum_m_protein_g_dl': x.nad_sm, 'urine_m_protein_mg_24h': x.nad_um,
        'dflc_mg_dl': x.nad_d, 'bm_plasma_cells_percent': x.nad_bm,
        'plasmacytoma_spd_cm2': x.nad_spd}})),
      'reading': {_level("x.level")},
      'not_reached': list_filter([{fail_list}], lambda v: v IS NOT NULL),
      'progression_signs': list_filter([{pd_list}], lambda v: v IS NOT NULL),
      'next_assessment': {_date("x.next_day")},
      'pair_category': {_level("x.pair_lvl")},
      'confirmed_category': {_level("x.conf")}
    }} ORDER BY x.day) AS items,
    {bit_counts}
  FROM x GROUP BY x.pid){therapy_cte},
k AS (SELECT * FROM asm)
SELECT to_json({{
  'patient_id': p.patient_id,
  'criteria': {_q(CRITERIA)},
  'profile': {{'name': {_q(params.profile)}, 'rules': {_q(PROFILE_RULES[params.profile])}}},
  'day0': {_date("i.day0")},
  'baseline': {{
    'window': [{_date(f"i.day0 - {int(params.baseline_window_days)}")}, {_date("i.day0")}],
    'serum_m_protein_g_dl': i.b_sm, 'serum_m_protein_date': {_date("i.b_sm_day")},
    'urine_m_protein_mg_24h': i.b_um, 'urine_m_protein_date': {_date("i.b_um_day")},
    'flc_kappa_mg_dl': i.b_kap, 'flc_lambda_mg_dl': i.b_lam, 'flc_date': {_date("i.b_flc_day")},
    'involved_chain': CASE WHEN i.kinv = 1 THEN 'kappa' WHEN i.kinv = 0 THEN 'lambda' END,
    'dflc_mg_dl': i.b_d,
    'bm_plasma_cells_percent': i.b_bm, 'bm_plasma_cells_date': {_date("i.b_bm_day")},
    'plasmacytoma_spd_cm2': i.b_spd, 'plasmacytoma_spd_date': {_date("i.b_spd_day")}}},
  'measurable_by': p.measurable_by,
  'measurable_compartments': p.measurable_compartments,
  'route_rule': {route_rule},
  'response_window': {{
    'after': {_date("i.day0")},
    'up_to': CASE WHEN i.end_day >= {_FAR_FUTURE} THEN NULL ELSE {_date("i.end_day")} END,
    'ends_because': CASE WHEN p.next_line_date IS NOT NULL AND i.end_day < {_FAR_FUTURE}
        AND strftime(DATE '1970-01-01' + CAST(i.end_day + 1 AS INTEGER), '%Y-%m-%d') = p.next_line_date
      THEN 'the next line starts on ' || p.next_line_date
      ELSE 'last follow-up' END}},
  'assessments': coalesce(k.items, []),
  'best_response': {{
    'call': p.best_response, 'date': p.best_response_date,
    'confirmed_by': {_date("i.bor_confirm_day")},
    'rule': {bor_rule},
    'first_response_date': p.first_response_date,
    'highest_reading': {_level("i.max_level")},
    'highest_reading_date': {_date("i.max_level_day")},
    'highest_reading_not_confirmed': coalesce(i.max_level > i.bor AND i.bor >= 0, false),
    'why_not_higher': list_filter([{not_reached}], lambda v: v IS NOT NULL)}},
  'progression': {{
    'date': p.progression_date,
    'criteria': CASE WHEN i.pd_bits IS NULL THEN [] ELSE list_filter([{pd_list.replace("x.pd_bits", "CAST(i.pd_bits AS BIGINT)")}], lambda v: v IS NOT NULL) END,
    'confirmation': {pd_conf},
    'unconfirmed_pd_date': p.unconfirmed_pd_date,
    'recorded_date': p.pd_date_recorded,
    'agreement_with_recorded': p.pd_date_agreement,
    'rule': 'nadir = lowest value from baseline to the assessment; biochemical PD needs two consecutive assessments (or death before any further one) and is dated at the first; progression after the next line starts belongs to that line'}},
  'therapy': {therapy_json},
  'anti_cd38_interference': CASE WHEN p.anti_cd38_interference = '' THEN NULL ELSE {{
      'flag': p.anti_cd38_interference, 'anti_cd38_in_line': p.anti_cd38_in_line,
      'smallest_band_g_dl': p.anti_cd38_band_g_dl, 'best_response': p.best_response,
      'rule': {_q(ANTI_CD38_RULE)}}} END
}}) AS j
FROM a_per p JOIN a_int i ON i.pid = p.pid
LEFT JOIN k ON k.pid = p.pid
{"LEFT JOIN th ON th.pid = p.pid" if with_therapy else ""}
WHERE p.pid >= $1 AND p.pid < $2
ORDER BY p.pid"""
