"""Lines of therapy, prior lines and refractoriness from the therapy table (contract 2b).

Lines (Rajkumar, Richardson, San Miguel, Blood 2015; docs/clinical.md section 4), used when the
``line`` column is absent or incomplete for a patient:

1. Rows of one patient are sorted by start date. A row that starts within
   ``regimen_merge_days`` of the previous row while that row is still running (it has not
   ended) is given with it: one regimen (claims practice [20]).
2. A regimen opens a new line when it is the first; when it is the regimen under study
   (its start is day 0: by definition the index line); when it contains a stem-cell
   transplant not flagged as a planned phase (``planned_phase``); when the previous regimen
   ended by progression (``reason_end = progression`` or a progression date before this
   start); or when it adds or substitutes an agent (a non-steroid agent that the previous
   regimen did not contain). Otherwise it continues the line: planned phases
   (``planned_phase`` = consolidation, maintenance, asct, tandem_sct), the same agents
   resumed, or some agents stopped. Changing dexamethasone/prednisone alone does not open
   a line (``steroid_change_opens_line``); supportive drugs (bisphosphonates, denosumab)
   and radiotherapy are not lines.
3. ``prior_lines`` = lines starting before day 0; with entered ``line`` numbers for every
   row of the patient, ``prior_lines`` = entered line of the index regimen - 1, and a
   disagreement with the derived count is reported (MML027).

Refractoriness (docs/clinical.md section 3): a regimen row started before day 0 is refractory when
progression occurred while on it or ``progression_date - end_date <= refractory_window_days``
(inclusive), or, if the table has a ``best_response`` column, when the best response on it
was below ``refractory_threshold`` (nonresponsive). The progression of a row is its own
``progression_date``; else ``end_date`` when ``reason_end = progression`` (flagged MML028);
else the earliest progression of a later row of the same line (a maintenance phase that
progressed makes its induction drugs refractory only within the window after their last
dose). Each agent of a refractory row is refractory from that date, provided the date is on
or before day 0. Classes: PI = bortezomib, carfilzomib, ixazomib; IMiD = thalidomide,
lenalidomide, pomalidomide; anti-CD38 = daratumumab, isatuximab. TCR = refractory to >= 1
of each; penta = anti-CD38 + bortezomib + carfilzomib + lenalidomide + pomalidomide. The
date of anti-CD38 refractoriness is the earliest such date (MAMMOTH's T0); the last
anti-CD38 dose before day 0 is kept too (docs/clinical.md section 3: store both variants).

Both engines (DuckDB SQL, pandas) give identical tables; neither loops over patients.

Issue codes (therapy rows)
--------------------------
MML021 error    date not readable
MML022 error    row for a patient_id not in the patient table
MML023 warning  agent name not recognised (kept; it has no class)
MML024 error    end_date before start_date, or progression_date before start_date
MML025 warning  no row starts on the patient's start_date (regimen under study missing)
MML026 warning  reason_end not one of progression, toxicity, completed, other
MML027 warning  entered line numbers disagree with lines derived by rule
MML028 warning  reason_end = progression without progression_date (end_date used)
MML029 warning  regimen before day 0 without end_date (progression on it counts as on therapy)
MML030 error    agents empty
MML031 error    best_response not an IMWG category
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mmrwe.core.errors import Issue, Location
from mmrwe.core.sources import SourceTable
from mmrwe.derive.imwg import LEVELS, ResponseParams
from mmrwe.derive.labs import IssueSink, day_to_iso, parse_dates, require_columns

THERAPY_REQUIRED = ("patient_id", "agents", "start_date", "end_date", "progression_date")
REASONS = ("progression", "toxicity", "completed", "other")
CONTINUATION_PHASES = frozenset({"consolidation", "maintenance", "asct", "tandem_sct", "sct"})

#: Generic agent -> class. Unknown agents are kept (class "other") and reported (MML023).
AGENT_CLASS: dict[str, str] = {
    "bortezomib": "PI", "carfilzomib": "PI", "ixazomib": "PI",
    "thalidomide": "IMiD", "lenalidomide": "IMiD", "pomalidomide": "IMiD",
    "daratumumab": "anti-CD38", "isatuximab": "anti-CD38",
    "elotuzumab": "anti-SLAMF7",
    "belantamab_mafodotin": "anti-BCMA", "teclistamab": "anti-BCMA", "elranatamab": "anti-BCMA",
    "linvoseltamab": "anti-BCMA", "idecabtagene_vicleucel": "anti-BCMA",
    "ciltacabtagene_autoleucel": "anti-BCMA",
    "talquetamab": "anti-GPRC5D",
    "selinexor": "XPO1 inhibitor", "venetoclax": "BCL2 inhibitor",
    "panobinostat": "HDAC inhibitor",
    "melphalan": "alkylator", "cyclophosphamide": "alkylator", "bendamustine": "alkylator",
    "melphalan_flufenamide": "alkylator",
    "doxorubicin": "anthracycline", "pegylated_liposomal_doxorubicin": "anthracycline",
    "cisplatin": "chemotherapy", "etoposide": "chemotherapy",
    "dexamethasone": "steroid", "prednisone": "steroid", "prednisolone": "steroid",
    "methylprednisolone": "steroid",
    "asct": "SCT", "allogeneic_sct": "SCT",
    "zoledronic_acid": "supportive", "pamidronate": "supportive", "denosumab": "supportive",
    "radiotherapy": "supportive",
}  # fmt: skip
SYNONYMS: dict[str, str] = {
    "velcade": "bortezomib", "kyprolis": "carfilzomib", "ninlaro": "ixazomib",
    "thalomid": "thalidomide", "revlimid": "lenalidomide", "pomalyst": "pomalidomide",
    "imnovid": "pomalidomide", "darzalex": "daratumumab", "daratumumab_sc": "daratumumab",
    "daratumumab_iv": "daratumumab", "dara": "daratumumab", "dara_sc": "daratumumab", "sarclisa": "isatuximab", "empliciti": "elotuzumab",
    "blenrep": "belantamab_mafodotin", "belantamab": "belantamab_mafodotin",
    "tecvayli": "teclistamab", "elrexfio": "elranatamab", "talvey": "talquetamab",
    "abecma": "idecabtagene_vicleucel", "ide_cel": "idecabtagene_vicleucel",
    "carvykti": "ciltacabtagene_autoleucel", "cilta_cel": "ciltacabtagene_autoleucel",
    "xpovio": "selinexor", "farydak": "panobinostat", "melflufen": "melphalan_flufenamide",
    "dex": "dexamethasone", "dexa": "dexamethasone", "pred": "prednisone",
    "auto_sct": "asct", "autologous_sct": "asct", "autologous_stem_cell_transplant": "asct",
    "allo_sct": "allogeneic_sct", "allogeneic_stem_cell_transplant": "allogeneic_sct",
    "zoledronate": "zoledronic_acid", "rt": "radiotherapy",
}  # fmt: skip
#: Order of classes in ``refractory_classes``.
CLASS_ORDER = ("PI", "IMiD", "anti-CD38", "anti-SLAMF7", "anti-BCMA", "anti-GPRC5D",
               "XPO1 inhibitor", "BCL2 inhibitor", "HDAC inhibitor", "alkylator",
               "anthracycline", "chemotherapy", "other")  # fmt: skip
NOT_REFRACTORY_CLASSES = frozenset({"steroid", "SCT", "supportive"})
PENTA = ("bortezomib", "carfilzomib", "lenalidomide", "pomalidomide")

# Why a regimen opens (or does not open) a line; the audit spells them out.
LINE_REASONS = {
    1: "first regimen in the table: line 1",
    2: "regimen under study (starts on day 0): opens a line",
    3: "stem-cell transplant not flagged as a planned phase: new line",
    4: "previous regimen ended by progression: new line",
    5: "agent added or substituted: new line",
    10: "planned phase of the same plan (planned_phase): same line",
    11: "same agents, or some stopped: same line",
    12: "given together with the previous row (overlapping, started within the merge "
        "window): same regimen",
    13: "supportive treatment only: not a line",
}  # fmt: skip
REF_RULES = {
    1: "progression while on it",
    2: "progression within the window after the last dose",
    3: "nonresponsive (best response below the threshold)",
}


def normalise_agent(name: str) -> str:
    """Generic lower-case name with underscores; brand names and abbreviations mapped."""
    s = name.strip().lower().replace("-", "_").replace(" ", "_")
    while "__" in s:
        s = s.replace("__", "_")
    return SYNONYMS.get(s, s)


@dataclass(frozen=True, slots=True)
class HarmonizedTherapy:
    """Therapy rows ready for the engines.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per usable source row, sorted by pid, start, row: ``tid``, ``pid``,
        ``start``, ``end``, ``pd`` (own progression, or end when reason_end = progression),
        ``pd_from_end`` (bool), ``reason`` (str), ``line_entered`` (float), ``planned``
        (bool), ``sct`` (bool), ``supportive_only`` (bool), ``bor`` (float level code or
        NaN), ``row``, ``regimen``, ``agents`` (normalised, ";"-joined).
    agents : pandas.DataFrame
        Long table: ``tid``, ``pid``, ``agent``, ``cls``, ``counted`` (counts for the
        "agent added" rule).
    issues : tuple of Issue
    has_line_column, has_best_response : bool
    """

    rows: pd.DataFrame
    agents: pd.DataFrame
    issues: tuple[Issue, ...]
    has_line_column: bool
    has_best_response: bool


def harmonize_therapy(
    therapy: SourceTable,
    patients: pd.DataFrame,
    params: ResponseParams,
    *,
    date_format: str = "%Y-%m-%d",
) -> HarmonizedTherapy:
    """Parse and check the therapy table (one row per line or regimen).

    Parameters
    ----------
    therapy : SourceTable
        Columns ``patient_id, agents, start_date, end_date, progression_date``; optional
        ``line, regimen, reason_end, planned_phase, best_response``.
    patients : pandas.DataFrame
        ``patient_id``, ``start_date`` (datetime64).
    params : ResponseParams
    date_format : str

    Returns
    -------
    HarmonizedTherapy
    """
    require_columns(therapy, THERAPY_REQUIRED, "therapy table")
    f = therapy.frame
    n = len(f)
    sink = IssueSink(therapy)
    bad = np.zeros(n, dtype=bool)

    pidx = pd.Index(patients["patient_id"].astype(str).to_numpy())
    raw_pid = np.array([str(v).strip() if v is not None else "" for v in f["patient_id"]],
                       dtype=object)  # fmt: skip
    pid = pidx.get_indexer(pd.Index(raw_pid)) if n else np.zeros(0, dtype=np.int64)
    pid = np.where(raw_pid == "", -1, pid)
    pids = [p or None for p in raw_pid]
    unk = np.flatnonzero(pid < 0)
    sink.add_rows(
        "MML022", "error", unk, column="patient_id",
        what=[f"therapy row for patient_id {raw_pid[i]!r}, which is not in the patient table"
              if raw_pid[i] else "therapy row without a patient_id" for i in unk],
        fix=["correct the patient_id, or add the patient to the patient table"] * len(unk),
        cause=[f"patient_id {raw_pid[i]!r}" for i in unk], patient_ids=[pids[i] for i in unk],
    )  # fmt: skip
    bad |= pid < 0

    def dates(col: str, required: bool) -> np.ndarray:
        cells = f[col] if col in f.columns else pd.Series([None] * n, dtype=object)
        dd = parse_dates(cells, date_format).astype(np.float64)
        present = cells.notna().to_numpy()
        wrong = np.flatnonzero((dd < 0) & (present | required) & ~bad)
        sink.add_rows(
            "MML021", "error", wrong, column=col,
            what=[f"{col} {cells.iloc[i]!r} is not a date in the format {date_format!r}"
                  if cells.iloc[i] is not None else f"{col} is empty" for i in wrong],
            fix=[f"write dates as {date_format}"] * len(wrong),
            cause=[f"{col} unreadable"] * len(wrong), patient_ids=[pids[i] for i in wrong],
        )  # fmt: skip
        bad[wrong] = True
        dd[dd < 0] = np.nan
        return dd

    start = dates("start_date", True)
    end = dates("end_date", False)
    prog = dates("progression_date", False)

    order_bad = np.flatnonzero(~bad & (end < start))
    sink.add_rows(
        "MML024", "error", order_bad, column="end_date",
        what=[f"end_date {day_to_iso(end[i])} is before start_date {day_to_iso(start[i])}"
              for i in order_bad],
        fix=["correct the dates"] * len(order_bad), cause=["end before start"] * len(order_bad),
        patient_ids=[pids[i] for i in order_bad],
    )  # fmt: skip
    bad[order_bad] = True
    pbad = np.flatnonzero(~bad & (prog < start))
    sink.add_rows(
        "MML024", "error", pbad, column="progression_date",
        what=[f"progression_date {day_to_iso(prog[i])} is before start_date "
              f"{day_to_iso(start[i])}; a row's progression is on or after its start"
              for i in pbad],
        fix=["put the progression on the row of the line during which it happened"]
        * len(pbad),
        cause=["progression before start"] * len(pbad), patient_ids=[pids[i] for i in pbad],
    )  # fmt: skip
    bad[pbad] = True

    # reason_end
    if "reason_end" in f.columns:
        reason = np.array([str(v).strip().lower() if v is not None else "" for v in
                           f["reason_end"]], dtype=object)  # fmt: skip
    else:
        reason = np.full(n, "", dtype=object)
    odd = np.flatnonzero(~bad & (reason != "") & ~np.isin(reason, REASONS))
    sink.add_rows(
        "MML026", "warning", odd, column="reason_end",
        what=[f"reason_end {reason[i]!r} is not one of {', '.join(REASONS)}; treated as other"
              for i in odd],
        fix=[f"use one of: {', '.join(REASONS)}"] * len(odd),
        cause=[f"reason_end {reason[i]!r}" for i in odd], patient_ids=[pids[i] for i in odd],
    )  # fmt: skip
    reason = np.where((reason != "") & ~np.isin(reason, REASONS), "other", reason)
    pd_from_end = (reason == "progression") & np.isnan(prog) & ~np.isnan(end) & ~bad
    w = np.flatnonzero(pd_from_end)
    sink.add_rows(
        "MML028", "warning", w, column="progression_date",
        what=[f"reason_end is progression but progression_date is empty; end_date "
              f"{day_to_iso(end[i])} is used as the progression date" for i in w],
        fix=["fill progression_date"] * len(w), cause=["progression without date"] * len(w),
        patient_ids=[pids[i] for i in w],
    )  # fmt: skip
    prog_eff = np.where(pd_from_end, end, prog)

    # agents: parsed once per distinct cell
    codes, uniq = pd.factorize(f["agents"].to_numpy(dtype=object))
    parsed = []
    for cell in uniq:
        parts = [normalise_agent(a) for a in str(cell).replace(",", ";").split(";")]
        parsed.append(sorted({a for a in parts if a}))
    agents_of = [parsed[c] if c >= 0 else [] for c in codes]
    empty = np.flatnonzero(~bad & np.array([len(a) == 0 for a in agents_of], dtype=bool))
    sink.add_rows(
        "MML030", "error", empty, column="agents", what=["agents is empty"] * len(empty),
        fix=["list the generic names, separated by ';' (e.g. "
             "isatuximab;pomalidomide;dexamethasone)"] * len(empty),
        cause=["agents empty"] * len(empty), patient_ids=[pids[i] for i in empty],
    )  # fmt: skip
    bad[empty] = True
    unknown_names = sorted({a for lst in parsed for a in lst if a not in AGENT_CLASS})
    for nm in unknown_names:
        rows_with = np.flatnonzero(~bad & np.array([nm in a for a in agents_of], dtype=bool))
        if len(rows_with) == 0:
            continue
        near = difflib.get_close_matches(nm, list(AGENT_CLASS), n=1)
        sink.add_rows(
            "MML023", "warning", rows_with, column="agents",
            what=[f"agent {nm!r} is not recognised; kept, without a drug class"] * len(rows_with),
            fix=[f"did you mean {near[0]!r}?" if near else
                 "write the generic name (e.g. daratumumab, not a brand or an abbreviation)"]
            * len(rows_with),
            cause=[f"agent {nm!r}"] * len(rows_with), patient_ids=[pids[i] for i in rows_with],
        )  # fmt: skip

    # planned phase, entered line, best response
    if "planned_phase" in f.columns:
        phase = np.array([normalise_agent(str(v)) if v is not None else "" for v in
                          f["planned_phase"]], dtype=object)  # fmt: skip
    else:
        phase = np.full(n, "", dtype=object)
    planned = np.isin(phase, list(CONTINUATION_PHASES))
    has_line = "line" in f.columns
    line_entered = np.full(n, np.nan)
    if has_line:
        line_entered = pd.to_numeric(f["line"], errors="coerce").to_numpy(dtype=np.float64)
    has_bor = "best_response" in f.columns
    bor = np.full(n, np.nan)
    if has_bor:
        lv: dict[str, float] = {k.lower(): float(i) for i, k in enumerate(LEVELS)}
        lv["ne"] = np.nan  # not evaluable: no nonresponsiveness call
        cells = f["best_response"].to_numpy(dtype=object)
        txt = np.array([str(c).strip().lower() if c is not None else "" for c in cells],
                       dtype=object)  # fmt: skip
        wrong = np.flatnonzero(~bad & (txt != "") & ~np.isin(txt, list(lv)))
        sink.add_rows(
            "MML031", "error", wrong, column="best_response",
            what=[f"best_response {cells[i]!r} is not an IMWG category" for i in wrong],
            fix=[f"use one of: {', '.join(LEVELS)}, NE"] * len(wrong),
            cause=["best_response unknown"] * len(wrong), patient_ids=[pids[i] for i in wrong],
        )  # fmt: skip
        bad[wrong] = True
        bor = np.array([lv.get(t, np.nan) if t else np.nan for t in txt], dtype=np.float64)

    regimen = (np.array([str(v) if v is not None else "" for v in f["regimen"]], dtype=object)
               if "regimen" in f.columns else np.full(n, "", dtype=object))  # fmt: skip
    keep = np.flatnonzero(~bad)
    classes = [[AGENT_CLASS.get(a, "other") for a in agents_of[i]] for i in range(n)]
    sct = np.array([any(c == "SCT" for c in cl) for cl in classes], dtype=bool)
    supp = np.array([len(cl) > 0 and all(c == "supportive" for c in cl) for cl in classes],
                    dtype=bool)  # fmt: skip
    T = pd.DataFrame(
        {
            "pid": pid[keep].astype(np.int64), "start": start[keep], "end": end[keep],
            "pd": prog_eff[keep], "pd_from_end": pd_from_end[keep], "reason": reason[keep],
            "line_entered": line_entered[keep], "planned": planned[keep], "sct": sct[keep],
            "supportive_only": supp[keep], "bor": bor[keep],
            "row": np.asarray(therapy.source_rows, dtype=np.int64)[keep] if n else
            np.zeros(0, dtype=np.int64),
            "regimen": regimen[keep],
            "agents": np.array([";".join(agents_of[i]) for i in keep], dtype=object),
            "_src": keep,
        }
    )  # fmt: skip
    T = T.sort_values(["pid", "start", "row"], kind="stable", ignore_index=True)
    T.insert(0, "tid", np.arange(len(T), dtype=np.int64))
    counts = np.array([len(agents_of[i]) for i in T["_src"]], dtype=np.int64)
    ag = [a for i in T["_src"] for a in agents_of[i]]
    cls = np.array([AGENT_CLASS.get(a, "other") for a in ag], dtype=object)
    steroid_counts = params.steroid_change_opens_line
    counted = ~np.isin(cls, ["SCT", "supportive"] + ([] if steroid_counts else ["steroid"]))
    A = pd.DataFrame(
        {
            "tid": np.repeat(T["tid"].to_numpy(), counts),
            "pid": np.repeat(T["pid"].to_numpy(), counts),
            "agent": np.array(ag, dtype=object),
            "cls": cls,
            "counted": counted,
        }
    )

    # regimens before day 0 without end date
    day0 = _days(patients["start_date"])
    noend = T[np.isnan(T["end"]) & (T["start"] < day0[T["pid"]])]
    if len(noend):
        sink.add_rows(
            "MML029", "warning", noend["_src"].to_numpy(), column="end_date",
            what=["regimen started before day 0 has no end_date; a progression after its "
                  "start counts as on therapy"] * len(noend),
            fix=["fill end_date with the date of the last dose"] * len(noend),
            cause=["no end date before day 0"] * len(noend),
            patient_ids=[pids[i] for i in noend["_src"]],
        )  # fmt: skip
    # regimen under study present?
    has_index = np.zeros(len(patients), dtype=bool)
    has_index[T["pid"][T["start"].to_numpy() == day0[T["pid"]]].to_numpy()] = True
    with_rows = np.zeros(len(patients), dtype=bool)
    with_rows[T["pid"].to_numpy()] = True
    for i in np.flatnonzero(with_rows & ~has_index):
        sink.add(
            Issue(
                "MML025", "warning",
                f"no therapy row starts on start_date {day_to_iso(day0[i])} (the regimen under "
                "study); lines are counted from the dates alone",
                Location(file=therapy.path.name, sheet=therapy.sheet, column="start_date",
                         patient_id=str(patients["patient_id"].iloc[i])),
                "add the regimen under study, with start_date equal to the patient table's",
            )
        )  # fmt: skip
    T = T.drop(columns=["_src"])
    issues = tuple(sorted(sink.issues, key=lambda i: (i.where.row or 0, i.code)))
    return HarmonizedTherapy(T, A, issues, has_line, has_bor)


def _days(s: pd.Series) -> np.ndarray:
    d = pd.to_datetime(s)
    out = d.to_numpy(dtype="datetime64[D]").astype(np.float64)
    out[d.isna().to_numpy()] = np.nan
    return out


# --------------------------------------------------------------------------------------
# engines
# --------------------------------------------------------------------------------------

#: Per-row columns of the engines' output.
ROW_COLUMNS = ("tid", "pid", "reg", "new_line", "line_reason", "n_added", "line_derived",
               "line_eff", "pd_row", "refractory", "ref_rule", "ref_date")  # fmt: skip
#: Per-patient columns.
THERAPY_PATIENT_COLUMNS = (
    "pid", "n_rows", "index_found", "prior_lines", "prior_lines_derived", "prior_lines_entered",
    "lines_entered", "next_start", "refractory_agents", "refractory_classes", "exposed_classes",
    "tce", "tcr", "penta", "cd38_ref_date", "cd38_last_dose",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TherapyTables:
    """Engine output: per-row line/refractoriness table and per-patient summary."""

    rows: pd.DataFrame
    patients: pd.DataFrame


def derive_therapy(
    ht: HarmonizedTherapy,
    day0: np.ndarray,
    params: ResponseParams,
    *,
    engine: Literal["duckdb", "pandas"] = "duckdb",
    con: Any = None,
) -> TherapyTables:
    """Lines of therapy and refractoriness, per row and per patient.

    Parameters
    ----------
    ht : HarmonizedTherapy
    day0 : numpy.ndarray
        Start of the regimen under study per patient (float days since 1970-01-01).
    params : ResponseParams
    engine : {"duckdb", "pandas"}
    con : duckdb connection, optional

    Returns
    -------
    TherapyTables
    """
    if engine == "pandas":
        rows, pats = _therapy_pandas(ht, day0, params)
    elif engine == "duckdb":
        rows, pats = _therapy_duckdb(ht, day0, params, con)
    else:
        raise ValueError(f"engine must be 'duckdb' or 'pandas', got {engine!r}")
    return TherapyTables(_canon_rows(rows), _canon_pats(pats, len(day0)))


def _canon_rows(R: pd.DataFrame) -> pd.DataFrame:
    R = R[list(ROW_COLUMNS)].copy()
    for c in ("tid", "pid", "line_reason", "n_added"):
        R[c] = R[c].astype(np.int64)
    for c in ("new_line", "refractory"):
        R[c] = R[c].astype(bool)
    for c in ("reg", "line_derived", "line_eff", "pd_row", "ref_rule", "ref_date"):
        R[c] = pd.to_numeric(R[c]).astype(np.float64)
    return R.sort_values("tid", ignore_index=True)


def _canon_pats(P: pd.DataFrame, n: int) -> pd.DataFrame:
    P = P[list(THERAPY_PATIENT_COLUMNS)].sort_values("pid", ignore_index=True)
    out = pd.DataFrame({"pid": np.arange(n, dtype=np.int64)}).merge(P, on="pid", how="left")
    out["n_rows"] = out["n_rows"].fillna(0).astype(np.int64)
    for c in ("index_found", "lines_entered", "tce", "tcr", "penta"):
        out[c] = out[c].astype("boolean").fillna(False).astype(bool)
    for c in ("prior_lines", "prior_lines_derived", "prior_lines_entered", "next_start",
              "cd38_ref_date", "cd38_last_dose"):  # fmt: skip
        out[c] = pd.to_numeric(out[c]).astype(np.float64)
    for c in ("refractory_agents", "refractory_classes", "exposed_classes"):
        out[c] = out[c].astype(object).where(out[c].notna(), "").astype(str)
    return out


def _therapy_pandas(
    ht: HarmonizedTherapy, day0: np.ndarray, params: ResponseParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    T = ht.rows
    A = ht.agents
    pid = T["pid"].to_numpy()
    start = T["start"].to_numpy()
    end = T["end"].to_numpy()
    d0 = day0[pid] if len(pid) else np.zeros(0)
    supp = T["supportive_only"].to_numpy()
    sct = T["sct"].to_numpy()

    # 1. regimens: merge a row into the previous (non-supportive) row of the patient
    L = np.flatnonzero(~supp)  # rows that take part in lines, in (pid, start, row) order
    lp, ls, le, lsct = pid[L], start[L], end[L], sct[L]
    same = np.r_[False, lp[1:] == lp[:-1]]
    prev_s = np.r_[np.nan, ls[:-1]]
    prev_e = np.r_[np.nan, le[:-1]]
    prev_sct = np.r_[False, lsct[:-1]]
    # the regimen under study never merges into a regimen started before day 0
    merge = (
        same & ~lsct & ~prev_sct & (ls - prev_s <= params.regimen_merge_days)
        & (np.isnan(prev_e) | (prev_e >= ls)) & ((ls != d0[L]) | (prev_s == d0[L]))
    )  # fmt: skip
    reg_of_l = np.cumsum(~merge) - 1
    reg = np.full(len(T), np.nan)
    reg[L] = reg_of_l
    n_reg = int(reg_of_l[-1] + 1) if len(L) else 0
    first = np.flatnonzero(~merge)
    r_pid = lp[first]
    r_start = ls[first]
    r_planned = T["planned"].to_numpy()[L][first]
    r_sct = np.zeros(n_reg, dtype=bool)
    np.logical_or.at(r_sct, reg_of_l, lsct)
    r_first = np.r_[True, r_pid[1:] != r_pid[:-1]] if n_reg else np.zeros(0, bool)
    r_index = r_start == day0[r_pid] if n_reg else np.zeros(0, bool)
    # previous regimen ended by progression: a row of it with reason progression or a
    # progression date on or before this regimen's start
    prog_flag = (T["reason"].to_numpy() == "progression") | ~np.isnan(T["pd"].to_numpy())
    prog_day = np.where(T["reason"].to_numpy() == "progression",
                        np.fmin(T["pd"].to_numpy(), end), T["pd"].to_numpy())  # fmt: skip
    # earliest progression evidence per regimen (NaN end with reason progression = ended
    # by progression at an unknown date: counts)
    r_prog_day = np.full(n_reg, np.inf)
    lr = reg_of_l
    pdl = prog_day[L]
    pfl = prog_flag[L]
    pdl_f = np.where(pfl & np.isnan(pdl), -np.inf, pdl)  # flagged without date: always before
    ok = pfl
    np.minimum.at(r_prog_day, lr[ok], pdl_f[ok])
    prev_prog = np.zeros(n_reg, dtype=bool)
    if n_reg > 1:
        prev_prog[1:] = ~r_first[1:] & (r_prog_day[:-1] <= r_start[1:])
    # agents added relative to the previous regimen
    a_reg = reg[A["tid"].to_numpy()]
    Ad = pd.DataFrame({"reg": a_reg, "agent": A["agent"].to_numpy(),
                       "counted": A["counted"].to_numpy()})  # fmt: skip
    Ad = Ad[Ad["counted"] & ~np.isnan(Ad["reg"])].drop_duplicates(["reg", "agent"])
    prev_set = Ad.assign(reg=Ad["reg"] + 1)[["reg", "agent"]].assign(inprev=True)
    m = Ad.merge(prev_set, on=["reg", "agent"], how="left")
    added = m[m["inprev"].isna()].groupby("reg").size()
    n_added = np.zeros(n_reg, dtype=np.int64)
    n_added[added.index.to_numpy(dtype=np.int64)] = added.to_numpy()
    n_added_eff = np.where(r_first, 0, n_added)
    reason = np.select(
        [r_first, r_index, r_sct & ~r_planned, prev_prog, r_planned, n_added_eff > 0],
        [1, 2, 3, 4, 10, 5],
        11,
    )
    new = reason < 10
    r_line = np.zeros(n_reg, dtype=np.int64)
    if n_reg:
        cs = np.cumsum(new)
        base = np.maximum.accumulate(np.where(r_first, cs - 1, 0))
        r_line = cs - base
    # per row
    line_reason = np.full(len(T), 13, dtype=np.int64)
    row_new = np.zeros(len(T), dtype=bool)
    n_add_row = np.zeros(len(T), dtype=np.int64)
    line_derived = np.full(len(T), np.nan)
    firsts = L[first]
    line_reason[L] = 12
    line_reason[firsts] = reason
    row_new[firsts] = new
    n_add_row[firsts] = n_added_eff
    line_derived[L] = r_line[reg_of_l]

    # 2. effective lines: entered when every row of the patient has one
    le_in = T["line_entered"].to_numpy()
    n_pat = len(day0)
    has_rows = np.bincount(pid, minlength=n_pat) > 0
    has_ns = np.bincount(pid[~supp], minlength=n_pat) > 0
    missing_entered = np.bincount(pid[np.isnan(le_in) & ~supp], minlength=n_pat) > 0
    entered = has_ns & ~missing_entered & ht.has_line_column
    line_eff = np.where(entered[pid], le_in, line_derived) if len(pid) else np.zeros(0)
    line_eff = np.where(supp, np.nan, line_eff)

    before = start < d0
    at0 = start == d0
    prior_derived = _group_nunique(pid[before & ~supp], line_derived[before & ~supp], n_pat)
    idx_line_entered = _gmin(pid[at0 & ~supp], le_in[at0 & ~supp], n_pat)
    prior_entered_cnt = _group_nunique(pid[before & ~supp], le_in[before & ~supp], n_pat)
    prior_entered = np.where(~np.isnan(idx_line_entered), idx_line_entered - 1,
                             prior_entered_cnt)  # fmt: skip
    prior = np.where(entered, prior_entered, prior_derived)
    prior = np.where(has_rows, prior, np.nan)
    prior_entered = np.where(entered, prior_entered, np.nan)
    index_found = np.bincount(pid[at0 & ~supp], minlength=n_pat) > 0
    cur_line = _gmax(pid[(start <= d0) & ~supp], line_eff[(start <= d0) & ~supp], n_pat)
    cur_line = np.where(np.isnan(cur_line), 0, cur_line)
    nxt = (start > d0) & ~supp & (line_eff > cur_line[pid])
    next_start = _gmin(pid[nxt], start[nxt], n_pat)

    # 3. refractoriness per row
    pdv = T["pd"].to_numpy()
    line_key = np.where(np.isnan(line_eff), -1, line_eff)
    lk = pd.DataFrame({"pid": pid, "lk": line_key, "start": start, "pd": pdv})
    # earliest progression of a row of the same line that starts at or after this row
    # (the row's own progression first)
    lk["_o"] = np.arange(len(lk))
    srt = lk.sort_values(["pid", "lk", "start", "_o"], ascending=[True, True, False, False])
    # +inf stands for "none": pandas' cummin leaves NaN at NaN positions, SQL's running min
    # does not
    later_min = srt["pd"].fillna(np.inf).groupby([srt["pid"], srt["lk"]], sort=False).cummin()
    later = np.empty(len(lk))
    later[srt["_o"].to_numpy()] = later_min.to_numpy()
    later[np.isinf(later)] = np.nan
    pd_row = np.where(~np.isnan(pdv), pdv, np.where(line_key >= 0, later, np.nan))
    pd_row = np.where(pd_row >= start, pd_row, np.nan)
    W = params.refractory_window_days
    on = ~np.isnan(pd_row) & (np.isnan(end) | (pd_row <= end))
    within = ~np.isnan(pd_row) & ~on & (pd_row - end <= W)
    thr = 2 if params.refractory_threshold == "MR" else 3
    bor_r = T["bor"].to_numpy()
    nonresp = ~np.isnan(bor_r) & (bor_r < thr)
    ref_rule = np.select([on, within, nonresp], [1, 2, 3], 0).astype(np.float64)
    ref_date = np.select(
        [on | within, nonresp],
        [pd_row, np.where(~np.isnan(pd_row), pd_row, np.where(np.isnan(end), start, end))],
        np.nan,
    )
    refractory = (ref_rule > 0) & before & (ref_date <= d0)
    ref_rule = np.where(refractory, ref_rule, np.nan)
    ref_date = np.where(refractory, ref_date, np.nan)

    rows = pd.DataFrame(
        {
            "tid": T["tid"].to_numpy(), "pid": pid, "reg": reg, "new_line": row_new,
            "line_reason": line_reason, "n_added": n_add_row, "line_derived": line_derived,
            "line_eff": line_eff, "pd_row": pd_row, "refractory": refractory,
            "ref_rule": ref_rule, "ref_date": ref_date,
        }
    )  # fmt: skip

    # 4. per patient: agents and classes
    at = A["tid"].to_numpy()
    a_ref = refractory[at]
    a_before = before[at]
    cls = A["cls"].to_numpy()
    agent = A["agent"].to_numpy()
    a_pid = A["pid"].to_numpy()
    countable = ~np.isin(cls, list(NOT_REFRACTORY_CLASSES))
    ref_agents = _join_per_patient(a_pid[a_ref & countable], agent[a_ref & countable], n_pat,
                                   order=None)  # fmt: skip
    ref_classes = _join_per_patient(a_pid[a_ref & countable], cls[a_ref & countable], n_pat,
                                    order=CLASS_ORDER)  # fmt: skip
    exp_classes = _join_per_patient(a_pid[a_before & countable], cls[a_before & countable],
                                    n_pat, order=CLASS_ORDER)  # fmt: skip

    def has(sel: np.ndarray) -> np.ndarray:
        return np.bincount(a_pid[sel], minlength=n_pat) > 0

    tce = (
        has(a_before & (cls == "PI"))
        & has(a_before & (cls == "IMiD"))
        & has(a_before & (cls == "anti-CD38"))
    )
    tcr = (
        has(a_ref & (cls == "PI"))
        & has(a_ref & (cls == "IMiD"))
        & has(a_ref & (cls == "anti-CD38"))
    )
    penta = has(a_ref & (cls == "anti-CD38"))
    for ag in PENTA:
        penta &= has(a_ref & (agent == ag))
    cd38 = cls == "anti-CD38"
    cd38_ref = _gmin(a_pid[a_ref & cd38], ref_date[at][a_ref & cd38], n_pat)
    cd38_last = _gmax(a_pid[a_before & cd38], end[at][a_before & cd38], n_pat)

    pats = pd.DataFrame(
        {
            "pid": np.arange(n_pat, dtype=np.int64),
            "n_rows": np.bincount(pid, minlength=n_pat),
            "index_found": index_found, "prior_lines": prior,
            "prior_lines_derived": np.where(has_rows, prior_derived, np.nan),
            "prior_lines_entered": prior_entered, "lines_entered": entered,
            "next_start": next_start, "refractory_agents": ref_agents,
            "refractory_classes": ref_classes, "exposed_classes": exp_classes,
            "tce": tce, "tcr": tcr, "penta": penta, "cd38_ref_date": cd38_ref,
            "cd38_last_dose": cd38_last,
        }
    )  # fmt: skip
    return rows, pats


def _gmin(g: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    ok = ~np.isnan(x)
    np.minimum.at(out, g[ok], x[ok])
    out[np.isinf(out)] = np.nan
    return out


def _gmax(g: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    ok = ~np.isnan(x)
    np.maximum.at(out, g[ok], x[ok])
    out[np.isinf(out)] = np.nan
    return out


def _group_nunique(g: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    ok = ~np.isnan(x)
    d = pd.DataFrame({"g": g[ok], "x": x[ok]}).drop_duplicates()
    return np.bincount(d["g"].to_numpy(dtype=np.int64), minlength=n).astype(np.float64)


def _join_per_patient(
    g: np.ndarray, names: np.ndarray, n: int, order: tuple[str, ...] | None
) -> np.ndarray:
    """';'-joined distinct names per patient, in ``order`` (alphabetical if None).

    Built from a patients x names indicator matrix, one vectorized string operation per
    distinct name (no loop over patients).
    """
    out = np.full(n, "", dtype=object)
    if len(g) == 0:
        return out
    uniq = sorted(set(names.tolist()))
    if order is not None:
        rank = {c: i for i, c in enumerate(order)}
        uniq = sorted(uniq, key=lambda c: (rank.get(c, len(order)), c))
    col = {c: i for i, c in enumerate(uniq)}
    M = np.zeros((n, len(uniq)), dtype=bool)
    M[g, np.array([col[x] for x in names], dtype=np.int64)] = True
    for j, c in enumerate(uniq):
        sep = np.where(out == "", "", ";")
        out = np.where(M[:, j], out + sep + c, out)
    return out


def _therapy_duckdb(
    ht: HarmonizedTherapy, day0: np.ndarray, params: ResponseParams, con: Any
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from mmrwe.derive.sandbox import private_duckdb

    own = con is None
    if own:
        con = private_duckdb()
    n_pat = len(day0)
    thr = 2 if params.refractory_threshold == "MR" else 3
    W = int(params.refractory_window_days)
    M = int(params.regimen_merge_days)
    order_case = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(CLASS_ORDER))
    try:
        T = ht.rows.drop(columns=["regimen", "agents"])
        con.register("t_in", T)
        con.register("a_in", ht.agents)
        con.register("d0_in", pd.DataFrame({"pid": np.arange(n_pat, dtype=np.int64),
                                            "day0": day0.astype(np.float64)}))  # fmt: skip
        stmts = [
            """CREATE OR REPLACE TEMP TABLE t0 AS
SELECT t.*, d.day0,
  t.start < d.day0 AS before, t.start = d.day0 AS at0,
  t.reason = 'progression' OR t.pd IS NOT NULL AS prog_flag,
  CASE WHEN t.reason = 'progression' THEN least(t.pd, t."end") ELSE t.pd END AS prog_day
FROM t_in t JOIN d0_in d ON t.pid = d.pid""",
            f"""CREATE OR REPLACE TEMP TABLE tl AS
WITH l0 AS (
  SELECT *,
    lag(pid) OVER w AS p_pid, lag(start) OVER w AS p_start, lag("end") OVER w AS p_end,
    lag(sct) OVER w AS p_sct
  FROM t0 WHERE NOT supportive_only
  WINDOW w AS (ORDER BY pid, start, "row")),
l1 AS (
  SELECT *,
    coalesce(p_pid = pid AND NOT sct AND NOT p_sct AND start - p_start <= {M}
      AND (p_end IS NULL OR p_end >= start) AND (start <> day0 OR p_start = day0), false)
      AS mrg
  FROM l0)
SELECT *, sum(CASE WHEN mrg THEN 0 ELSE 1 END) OVER (ORDER BY pid, start, "row"
  ROWS UNBOUNDED PRECEDING) - 1 AS reg
FROM l1""",
            """CREATE OR REPLACE TEMP TABLE rg AS
WITH r0 AS (
  SELECT reg, any_value(pid) AS pid, min(start) AS r_start,
    bool_or(sct) AS r_sct,
    arg_min(planned, "row") FILTER (WHERE NOT mrg) AS r_planned,
    min(CASE WHEN prog_flag THEN coalesce(prog_day, '-infinity'::DOUBLE) END) AS r_prog_day,
    any_value(day0) AS day0
  FROM tl GROUP BY reg),
ag AS (
  SELECT DISTINCT tl.reg, a.agent FROM a_in a JOIN tl ON a.tid = tl.tid WHERE a.counted),
added AS (
  SELECT c.reg, count(*) AS n_added FROM ag c
  LEFT JOIN ag p ON p.reg = c.reg - 1 AND p.agent = c.agent
  WHERE p.agent IS NULL GROUP BY c.reg),
r1 AS (
  SELECT r0.*, coalesce(added.n_added, 0) AS n_added0,
    lag(pid) OVER w IS DISTINCT FROM pid AS r_first,
    lag(r_prog_day) OVER w AS p_prog_day
  FROM r0 LEFT JOIN added ON added.reg = r0.reg
  WINDOW w AS (ORDER BY r0.reg)),
r2 AS (
  SELECT *,
    CASE WHEN r_first THEN 0 ELSE n_added0 END AS n_added,
    CASE WHEN r_first THEN 1
         WHEN r_start = day0 THEN 2
         WHEN r_sct AND NOT r_planned THEN 3
         WHEN coalesce(p_prog_day <= r_start, false) THEN 4
         WHEN r_planned THEN 10
         WHEN n_added0 > 0 THEN 5
         ELSE 11 END AS line_reason
  FROM r1)
SELECT *, line_reason < 10 AS new_line,
  sum(CASE WHEN line_reason < 10 THEN 1 ELSE 0 END) OVER (PARTITION BY pid ORDER BY reg
    ROWS UNBOUNDED PRECEDING) AS r_line
FROM r2""",
            f"""CREATE OR REPLACE TEMP TABLE tr AS
WITH j AS (
  SELECT t0.*, tl.reg, tl.mrg, rg.r_line AS line_derived,
    CASE WHEN tl.tid IS NULL THEN 13 WHEN tl.mrg THEN 12 ELSE rg.line_reason END
      AS line_reason,
    coalesce(NOT tl.mrg AND rg.new_line, false) AS new_line,
    CASE WHEN tl.tid IS NOT NULL AND NOT tl.mrg THEN rg.n_added ELSE 0 END AS n_added
  FROM t0 LEFT JOIN tl ON tl.tid = t0.tid LEFT JOIN rg ON rg.reg = tl.reg),
pe AS (
  SELECT pid,
    {
                "bool_and(line_entered IS NOT NULL) FILTER (WHERE NOT supportive_only)"
                if ht.has_line_column
                else "false"
            } AS entered
  FROM j GROUP BY pid),
j2 AS (
  SELECT j.*, coalesce(pe.entered, false) AS entered,
    CASE WHEN supportive_only THEN NULL
         WHEN coalesce(pe.entered, false) THEN line_entered ELSE line_derived END AS line_eff
  FROM j JOIN pe ON pe.pid = j.pid),
j3 AS (
  SELECT *,
    min(pd) OVER (PARTITION BY pid, coalesce(line_eff, -1) ORDER BY start DESC, tid DESC
      ROWS UNBOUNDED PRECEDING) AS later_pd
  FROM j2),
j4 AS (
  SELECT *,
    CASE WHEN coalesce(pd, CASE WHEN line_eff IS NOT NULL THEN later_pd END) >= start
         THEN coalesce(pd, CASE WHEN line_eff IS NOT NULL THEN later_pd END) END AS pd_row
  FROM j3),
j5 AS (
  SELECT *,
    pd_row IS NOT NULL AND ("end" IS NULL OR pd_row <= "end") AS on_t,
    pd_row IS NOT NULL AND NOT ("end" IS NULL OR pd_row <= "end")
      AND pd_row - "end" <= {W} AS within,
    coalesce(bor < {thr}, false) AS nonresp
  FROM j4),
j6 AS (
  SELECT *,
    CASE WHEN on_t THEN 1 WHEN within THEN 2 WHEN nonresp THEN 3 ELSE 0 END AS rule0,
    CASE WHEN on_t OR within THEN pd_row
         WHEN nonresp THEN coalesce(pd_row, "end", start) END AS date0
  FROM j5)
SELECT *,
  rule0 > 0 AND before AND date0 <= day0 AS refractory,
  CASE WHEN rule0 > 0 AND before AND date0 <= day0 THEN rule0 END AS ref_rule,
  CASE WHEN rule0 > 0 AND before AND date0 <= day0 THEN date0 END AS ref_date
FROM j6""",
            f"""CREATE OR REPLACE TEMP TABLE tp AS
WITH pl AS (
  SELECT pid, count(*) AS n_rows,
    bool_or(at0 AND NOT supportive_only) AS index_found,
    count(DISTINCT line_derived) FILTER (WHERE before AND NOT supportive_only)
      AS prior_derived,
    min(line_entered) FILTER (WHERE at0 AND NOT supportive_only) AS idx_entered,
    count(DISTINCT line_entered) FILTER (WHERE before AND NOT supportive_only)
      AS prior_entered_cnt,
    bool_or(entered) AS entered,
    coalesce(max(line_eff) FILTER (WHERE start <= day0 AND NOT supportive_only), 0)
      AS cur_line
  FROM tr GROUP BY pid),
nx AS (
  SELECT tr.pid, min(tr.start) AS next_start FROM tr JOIN pl ON pl.pid = tr.pid
  WHERE tr.start > tr.day0 AND NOT tr.supportive_only AND tr.line_eff > pl.cur_line
  GROUP BY tr.pid),
aa AS (
  SELECT a.pid, a.agent, a.cls, tr.refractory, tr.before, tr.ref_date, tr."end",
    CASE a.cls {order_case} ELSE {len(CLASS_ORDER)} END AS cls_rank
  FROM a_in a JOIN tr ON tr.tid = a.tid
  WHERE a.cls NOT IN ({", ".join(f"'{c}'" for c in sorted(NOT_REFRACTORY_CLASSES))})),
ra AS (
  SELECT pid, string_agg(agent, ';' ORDER BY agent) AS refractory_agents
  FROM (SELECT DISTINCT pid, agent FROM aa WHERE refractory) GROUP BY pid),
rc AS (
  SELECT pid, string_agg(cls, ';' ORDER BY cls_rank, cls) AS refractory_classes
  FROM (SELECT DISTINCT pid, cls, cls_rank FROM aa WHERE refractory) GROUP BY pid),
ec AS (
  SELECT pid, string_agg(cls, ';' ORDER BY cls_rank, cls) AS exposed_classes
  FROM (SELECT DISTINCT pid, cls, cls_rank FROM aa WHERE before) GROUP BY pid),
fl AS (
  SELECT pid,
    bool_or(before AND cls = 'PI') AND bool_or(before AND cls = 'IMiD')
      AND bool_or(before AND cls = 'anti-CD38') AS tce,
    bool_or(refractory AND cls = 'PI') AND bool_or(refractory AND cls = 'IMiD')
      AND bool_or(refractory AND cls = 'anti-CD38') AS tcr,
    bool_or(refractory AND cls = 'anti-CD38')
      {"".join(f" AND bool_or(refractory AND agent = '{a}')" for a in PENTA)} AS penta,
    min(ref_date) FILTER (WHERE refractory AND cls = 'anti-CD38') AS cd38_ref_date,
    max("end") FILTER (WHERE before AND cls = 'anti-CD38') AS cd38_last_dose
  FROM aa GROUP BY pid)
SELECT pl.pid, pl.n_rows, pl.index_found,
  CASE WHEN pl.entered THEN coalesce(pl.idx_entered - 1, pl.prior_entered_cnt)
       ELSE pl.prior_derived END AS prior_lines,
  pl.prior_derived AS prior_lines_derived,
  CASE WHEN pl.entered THEN coalesce(pl.idx_entered - 1, pl.prior_entered_cnt) END
    AS prior_lines_entered,
  pl.entered AS lines_entered, nx.next_start, ra.refractory_agents, rc.refractory_classes,
  ec.exposed_classes, fl.tce, fl.tcr, fl.penta, fl.cd38_ref_date, fl.cd38_last_dose
FROM pl LEFT JOIN nx ON nx.pid = pl.pid LEFT JOIN ra ON ra.pid = pl.pid
LEFT JOIN rc ON rc.pid = pl.pid LEFT JOIN ec ON ec.pid = pl.pid
LEFT JOIN fl ON fl.pid = pl.pid""",
        ]
        for s in stmts:
            con.execute(s)
        rows = con.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM tr ORDER BY tid").df()
        pats = con.execute("SELECT * FROM tp ORDER BY pid").df()
    finally:
        for t in ("t_in", "a_in", "d0_in"):
            with contextlib.suppress(Exception):
                con.unregister(t)
        if own:
            con.close()
    return rows, pats
