"""IMWG 2016 response and progression from harmonized lab rows, as set-based operations.

Two engines implement the same rules: DuckDB SQL with window functions (default) and pandas
vectorized group operations (``engine="pandas"``). Neither loops over patients or visits in
Python. They are independent implementations of one specification (double programming, as in
clinical-trial derivations); the tests require identical per-patient calls and identical
per-assessment tables. The rules, all from ``docs/clinical.md`` sections 1-2:

Baseline and route (section 1.1)
    Baseline of each test = last value dated in ``[start - baseline_window_days, start]``
    (FLC: last date with both chains). Route, fixed once: ``serum`` if serum M >=
    ``measurable_serum_g_dl``; ``urine`` if urine M >= 200 mg/24h (both may hold: the
    patient is followed on both); else ``flc`` if iFLC >= 10 mg/dL with an abnormal
    kappa/lambda ratio (normal 0.26-1.65); else ``marrow`` if BMPC >= 30 %; else
    ``plasmacytoma`` if a soft-tissue plasmacytoma SPD > 0; else ``none`` (response NE).

Assessments (section 1.2)
    Dates after day 0, up to the earliest of last follow-up and the day before the next line
    starts, where a route measure was taken (serum/urine M for those routes, both FLC chains
    for the FLC route, BMPC for the marrow route, SPD for the plasmacytoma route). Each
    assessment reaches the lowest level that every assessed parameter satisfies; a missing
    requirement downgrades to the best level whose requirements are present. Marrow (BMPC,
    clonality) and imaging (SPD) values are carried forward from earlier post-baseline dates.
    Each failed requirement is recorded as one bit (``FAIL_BITS``) for the audit trail.

Confirmation and best response (sections 1.3-1.4)
    Serum, urine and FLC routes: a category other than SD is confirmed by two consecutive
    assessments; the confirmed category is the lower of the two readings, with the marrow and
    imaging requirements taken as of the confirming (second) assessment (marrow and imaging
    need no confirmation of their own). A non-PD assessment counts as SD on its own. Marrow
    and plasmacytoma routes need no confirmation. Best response = best confirmed category up
    to the progression date; its date is the first of the two confirming assessments.

Progression (section 2)
    Serum: rise from nadir >= 0.5 g/dL and >= 25 % (nadir >= 5 g/dL: rise >= 1 g/dL); urine:
    >= 200 mg/24h and >= 25 %; dFLC (FLC route only): > 10 mg/dL and >= 25 %; BMPC (marrow
    route only): >= 10 points and >= 25 %; new lesion, or SPD >= 50 % above its nadir:
    always. Nadir = lowest value from baseline to the assessment (inclusive). Biochemical PD
    needs the next assessment to be a biochemical PD reading too, or death before any further
    assessment and before a next line; it is dated at the first of the two. New lesion, SPD
    and marrow PD need no confirmation. A PD reading at the last assessment that is not
    confirmed is reported (``unconfirmed_pd_date``), and is an event only when
    ``unconfirmed_pd_is_event``.

Comparisons against thresholds use a tolerance of 1e-9 in the canonical unit, so a value on
a boundary (a rise of exactly 0.5 g/dL) is on the inclusive side however its unit was written.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mmrwe.derive.labs import (
    BMPC,
    CLONAL,
    KAPPA,
    LAMBDA,
    NEW_LESION,
    SERUM_IFE,
    SERUM_M,
    SPD,
    URINE_IFE,
    URINE_M,
)

CRITERIA = (
    "IMWG 2016 (Kumar et al., Lancet Oncol 2016), as specified in docs/clinical.md sections 1-2"
)

#: Ordered categories; the index is the level code used by both engines.
LEVELS = ("PD", "SD", "MR", "PR", "VGPR", "CR", "sCR")
PD, SD, MR, PR, VGPR, CR, SCR = range(7)
NE = -1

EPS = 1e-9

# Measurability and response thresholds (docs/clinical.md 1.1, 1.2, 2.1).
URINE_MEASURABLE_MG = 200.0
IFLC_MEASURABLE_MG_DL = 10.0
FLC_RATIO_LOW, FLC_RATIO_HIGH = 0.26, 1.65
BMPC_MEASURABLE = 30.0
BMPC_CR_BELOW = 5.0

Profile = Literal["strict", "relaxed", "simultaneous_pd"]
PROFILES: tuple[str, ...] = ("strict", "relaxed", "simultaneous_pd")
#: What each derivation profile changes, in words (results.json and the audit).
PROFILE_RULES: dict[str, str] = {
    "strict": "IMWG 2016 as written: every category but SD confirmed by two consecutive "
    "assessments; CR needs a bone-marrow result < 5 %; biochemical progression confirmed by "
    "the next assessment or death",
    "relaxed": "real-world derived response: a response category (MR to sCR) is called from "
    "one assessment on the serum, urine and FLC routes (no confirming second assessment), "
    "and a missing bone-marrow result no longer blocks CR (a result >= 5 % still does); "
    "every other rule, progression included, as strict",
    "simultaneous_pd": "strict, and a biochemical progression met by two markers at one "
    "assessment (serum and urine M-protein) is confirmed by that assessment",
}

ROUTES = ("none", "serum/urine", "flc", "marrow", "plasmacytoma")
R_NONE, R_SU, R_FLC, R_MARROW, R_SPD = range(5)


@dataclass(frozen=True)
class ResponseParams:
    """Rule parameters, from the spec's ``[response]`` table (contract section 3).

    Attributes
    ----------
    baseline_window_days : int
        Baseline = last value in ``[start - window, start]``.
    measurable_serum_g_dl : float
        Serum M-protein measurable from this value (IMWG 1.0; some protocols 0.5).
    refractory_threshold : {"MR", "PR"}
        Nonresponsive = best response below this on a regimen (IMWG: MR).
    refractory_window_days : int
        Refractory if progression <= this many days after the last dose (inclusive).
    unconfirmed_pd_is_event : bool
        A PD reading at the last assessment, not confirmed, counts as progression.
    unconfirmed_pd_bor : {"PD", "NE"}
        Best response of a patient whose only evaluable reading is an unconfirmed PD
        (addition; default PD: the lowest category is not "improved" to NE by a missing
        confirmation). It is never a progression event unless ``unconfirmed_pd_is_event``.
    scr_without_clonality : {"CR", "flc_ratio"}
        sCR needs a normal FLC ratio and no clonal marrow plasma cells (immunohistochemistry,
        lab test ``bm_clonal_plasma_cells``). "CR": without a clonality result the patient is
        downgraded to CR (IMWG's missing-data rule). "flc_ratio": the FLC ratio alone decides
        (common in real-world data; then every FLC-route CR is an sCR).
    steroid_change_opens_line : bool
        Adding or dropping dexamethasone/prednisone alone opens a new line (default no).
    regimen_merge_days : int
        Overlapping therapy rows starting within this many days are one regimen.
    profile : {"strict", "relaxed", "simultaneous_pd"}
        Derivation profile (``PROFILE_RULES``): "strict" applies IMWG as written;
        "relaxed" is the real-world "derived response" when confirmations or marrow results
        are missing (one assessment suffices for a response category on the serum, urine and
        FLC routes; a missing marrow result no longer blocks CR, a marrow result >= 5 %
        still does); "simultaneous_pd" is strict, and a biochemical progression met by two
        markers (serum and urine M-protein) at one assessment is confirmed by it.
    isotype_column : str
        Patient-table column with the M-protein isotype, for the anti-CD38 interference flag.
    """

    baseline_window_days: int = 30
    measurable_serum_g_dl: float = 1.0
    refractory_threshold: Literal["MR", "PR"] = "MR"
    refractory_window_days: int = 60
    unconfirmed_pd_is_event: bool = False
    unconfirmed_pd_bor: Literal["PD", "NE"] = "PD"
    scr_without_clonality: Literal["CR", "flc_ratio"] = "CR"
    steroid_change_opens_line: bool = False
    regimen_merge_days: int = 30
    profile: Profile = "strict"
    isotype_column: str = "isotype"

    def __post_init__(self) -> None:
        checks = [
            (self.baseline_window_days >= 0, "baseline_window_days must be >= 0"),
            (0 < self.measurable_serum_g_dl <= 5, "measurable_serum_g_dl must be in (0, 5]"),
            (self.refractory_threshold in ("MR", "PR"), "refractory_threshold is MR or PR"),
            (self.refractory_window_days >= 0, "refractory_window_days must be >= 0"),
            (self.unconfirmed_pd_bor in ("PD", "NE"), "unconfirmed_pd_bor is PD or NE"),
            (self.scr_without_clonality in ("CR", "flc_ratio"),
             "scr_without_clonality is CR or flc_ratio"),
            (self.regimen_merge_days >= 0, "regimen_merge_days must be >= 0"),
            (self.profile in PROFILES, f"profile is one of {', '.join(PROFILES)}"),
        ]  # fmt: skip
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters plus the fixed thresholds and the criteria version."""
        d: dict[str, Any] = asdict(self)
        d.update(
            criteria=CRITERIA,
            profile_rules=PROFILE_RULES[self.profile],
            confirmation=(
                "one assessment suffices for a response category (profile relaxed); "
                "progression: two consecutive assessments (marrow, imaging: none); date = first"
                if self.profile == "relaxed"
                else "two consecutive assessments (marrow, imaging: none); date = first"
                + (
                    "; or two markers progressing at one assessment"
                    if self.profile == "simultaneous_pd"
                    else ""
                )
            ),
            measurable_urine_mg_24h=URINE_MEASURABLE_MG,
            measurable_iflc_mg_dl=IFLC_MEASURABLE_MG_DL,
            flc_ratio_normal=[FLC_RATIO_LOW, FLC_RATIO_HIGH],
            measurable_bmpc_percent=BMPC_MEASURABLE,
            cr_bmpc_below_percent=BMPC_CR_BELOW,
            pd_serum="rise from nadir >= 0.5 g/dL and >= 25 %; nadir >= 5 g/dL: rise >= 1 g/dL",
            pd_urine="rise from nadir >= 200 mg/24h and >= 25 %",
            pd_flc="dFLC rise from nadir > 10 mg/dL and >= 25 % (FLC route only)",
            pd_marrow="BMPC rise from nadir >= 10 points and >= 25 % (marrow route only)",
            pd_imaging="new lesion, or plasmacytoma SPD >= 50 % above nadir (no confirmation)",
            nadir="lowest value from baseline to the assessment, inclusive",
            refractory_window_inclusive=True,
            months_per_day=1 / 30.4375,
            comparison_tolerance=EPS,
        )
        return d


# Failed requirements, one bit each: (name, category it blocks, text for the audit).
FAIL_BITS: tuple[tuple[str, str, str], ...] = (
    ("SM_MISSING", "MR", "serum M-protein (measurable at baseline) not measured"),
    ("SM_LT25", "MR", "serum M-protein reduced < 25 % from baseline"),
    ("SM_LT50", "PR", "serum M-protein reduced < 50 % from baseline"),
    ("SM_LT90", "VGPR", "serum M-protein reduced < 90 % and still seen on electrophoresis"),
    ("SM_VISIBLE", "CR", "serum M-protein still seen on electrophoresis"),
    ("UM_MISSING", "MR", "urine M-protein (measurable at baseline) not measured"),
    ("UM_LT50", "MR", "urine M-protein reduced < 50 % and >= 200 mg/24h"),
    ("UM_LT90", "PR", "urine M-protein reduced < 90 % and >= 200 mg/24h"),
    ("UM_GE100", "VGPR", "urine M-protein >= 100 mg/24h"),
    ("UM_VISIBLE", "CR", "urine M-protein still seen on electrophoresis"),
    ("DFLC_LT50", "PR", "dFLC reduced < 50 % from baseline (MR is not defined on the FLC route)"),
    ("DFLC_LT90", "VGPR", "dFLC reduced < 90 % from baseline"),
    ("FLC_RATIO_ABN", "CR", "FLC ratio abnormal (FLC route: CR needs 0.26-1.65)"),
    ("SIFE_MISSING", "CR", "serum immunofixation not done"),
    ("SIFE_POS", "CR", "serum immunofixation positive"),
    ("UIFE_MISSING", "CR", "urine immunofixation not done"),
    ("UIFE_POS", "CR", "urine immunofixation positive"),
    ("BM_MISSING", "CR", "no bone-marrow plasma-cell count since day 0"),
    ("BM_GE5", "CR", "bone-marrow plasma cells >= 5 %"),
    ("SPD_MISSING", "MR", "baseline plasmacytoma not re-measured since day 0"),
    ("SPD_LT25", "MR", "plasmacytoma SPD reduced < 25 %"),
    ("SPD_LT50", "PR", "plasmacytoma SPD reduced < 50 %"),
    ("SPD_PRESENT", "CR", "soft-tissue plasmacytoma still present"),
    ("SCR_FLC_MISSING", "sCR", "FLC ratio not measured (sCR needs a normal ratio)"),
    ("SCR_FLC_ABN", "sCR", "FLC ratio abnormal (sCR needs 0.26-1.65)"),
    ("CLON_MISSING", "sCR", "marrow clonality (immunohistochemistry) not available"),
    ("CLON_POS", "sCR", "clonal plasma cells in the marrow"),
    ("BM_LT50", "PR", "bone-marrow plasma cells reduced < 50 % (marrow route)"),
    ("ROUTE_CAP", "VGPR", "categories above PR are not defined on this route"),
)
BIT = {name: 1 << i for i, (name, _, _) in enumerate(FAIL_BITS)}

PD_BITS: tuple[tuple[str, str], ...] = (
    ("PD_SERUM", "serum M-protein rise from nadir (>= 0.5 g/dL and >= 25 %, or >= 1 g/dL "
                 "when nadir >= 5 g/dL)"),
    ("PD_URINE", "urine M-protein rise from nadir (>= 200 mg/24h and >= 25 %)"),
    ("PD_FLC", "dFLC rise from nadir (> 10 mg/dL and >= 25 %)"),
    ("PD_MARROW", "bone-marrow plasma cells rise from nadir (>= 10 points and >= 25 %)"),
    ("PD_NEW_LESION", "new bone lesion or plasmacytoma"),
    ("PD_SPD", "plasmacytoma SPD >= 50 % above its nadir"),
)  # fmt: skip
PDBIT = {name: 1 << i for i, (name, _) in enumerate(PD_BITS)}
PD_BIO_MASK = PDBIT["PD_SERUM"] | PDBIT["PD_URINE"] | PDBIT["PD_FLC"]

# PD kinds (how a progression was established)
PDK_NEXT, PDK_DEATH, PDK_NOCONF, PDK_SIMUL = 1, 2, 3, 4

#: Columns of the wide per-date table, in test-code order.
WIDE = ("sm", "um", "kap", "lam", "sife", "uife", "bm", "spd", "newl", "clon")
_WIDE_CODES = (SERUM_M, URINE_M, KAPPA, LAMBDA, SERUM_IFE, URINE_IFE, BMPC, SPD, NEW_LESION, CLONAL)
assert tuple(range(10)) == _WIDE_CODES

#: Columns of the per-assessment table (both engines, same order and dtypes).
ASSESSMENT_COLUMNS = (
    "pid", "day", "is_assess", "sm", "um", "kap", "lam", "sife", "uife", "bm", "spd", "newl",
    "clon", "bm_cf", "spd_cf", "clon_cf", "d", "nad_sm", "nad_um", "nad_d", "nad_bm",
    "nad_spd", "b_lvl", "c_lvl", "level", "fail_bits", "pd_bits", "next_day", "pair_lvl",
    "conf",
)  # fmt: skip

#: Per-patient columns produced by both engines.
PATIENT_COLUMNS = (
    "pid", "route", "is_s", "is_u", "kinv", "b_sm", "b_sm_day", "b_um", "b_um_day", "b_kap",
    "b_lam", "b_flc_day", "b_bm", "b_bm_day", "b_spd", "b_spd_day", "b_clon", "b_d", "end_day",
    "n_assess", "bor", "bor_day", "bor_confirm_day", "first_resp_day", "pd_day", "pd_kind",
    "pd_bits", "pd_confirm_day", "unconf_day", "bor_pd_unconfirmed", "max_level",
    "max_level_day",
)  # fmt: skip


#: Output dtypes of the per-assessment table (both engines).
ASSESSMENT_DTYPES: dict[str, Any] = {
    "pid": np.int32, "day": np.int32, "is_assess": bool, "b_lvl": np.int8, "c_lvl": np.int8,
    "level": np.int8, "fail_bits": np.int32, "pd_bits": np.int8, "next_day": np.float32,
    "pair_lvl": np.float32, "conf": np.float32,
}  # fmt: skip
_ASSESSMENT_SQL = [
    f"CAST({c} AS FLOAT) AS {c}" if ASSESSMENT_DTYPES.get(c) is np.float32 else c
    for c in ASSESSMENT_COLUMNS
]


def _f(x: float) -> str:
    """A float literal that DuckDB parses as exactly this double."""
    return f"{x:.17e}"


@dataclass(frozen=True, slots=True)
class ImwgTables:
    """Engine output: per-patient calls (numeric codes) and the per-assessment table."""

    patients: pd.DataFrame  # PATIENT_COLUMNS; days as float64 (NaN = none)
    assessments: pd.DataFrame  # ASSESSMENT_COLUMNS, sorted by pid, day


def derive_imwg(
    labs: pd.DataFrame,
    pt: pd.DataFrame,
    params: ResponseParams,
    *,
    engine: Literal["duckdb", "pandas"] = "duckdb",
    con: Any = None,
) -> ImwgTables:
    """Baseline, route, per-assessment levels, confirmation, best response and progression.

    Parameters
    ----------
    labs : pandas.DataFrame
        Harmonized rows (``pid``, ``day``, ``test``, ``value``), one per (pid, day, test).
    pt : pandas.DataFrame
        One row per patient, ``pid`` = 0..n-1 in order: ``start``, ``lfu``, ``death``,
        ``next_start`` as float64 days since 1970-01-01 (NaN = none).
    params : ResponseParams
    engine : {"duckdb", "pandas"}
    con : duckdb.DuckDBPyConnection, optional
        Connection to use (a new in-memory one by default).

    Returns
    -------
    ImwgTables
    """
    if engine == "duckdb":
        return _imwg_duckdb(labs, pt, params, con)
    if engine == "pandas":
        # reductions are computed for every row and used only where the baseline is > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return _imwg_pandas(labs, pt, params)
    raise ValueError(f"engine must be 'duckdb' or 'pandas', got {engine!r}")


# --------------------------------------------------------------------------------------
# pandas engine
# --------------------------------------------------------------------------------------


def _ge(x: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    return x >= t - EPS


def _imwg_pandas(labs: pd.DataFrame, pt: pd.DataFrame, params: ResponseParams) -> ImwgTables:
    n_pat = len(pt)
    start = pt["start"].to_numpy(dtype=np.float64)
    lfu = pt["lfu"].to_numpy(dtype=np.float64)
    death = pt["death"].to_numpy(dtype=np.float64)
    next_start = pt["next_start"].to_numpy(dtype=np.float64)
    end_day = np.fmin(lfu, next_start - 1)

    # wide table: one row per (pid, day); labs are sorted and unique per (pid, day, test)
    lab_t = labs["test"].to_numpy()
    sel_rows = np.flatnonzero(lab_t <= 9)
    lp = labs["pid"].to_numpy()[sel_rows]
    ld = labs["day"].to_numpy()[sel_rows]
    lt = lab_t[sel_rows]
    lv = labs["value"].to_numpy(dtype=np.float64)[sel_rows]
    del sel_rows, lab_t
    # rows in pid, day, test, value order: the last of each (pid, day, test) run is the
    # maximum (the worst value; the harmonizer already reduced duplicates, this keeps the
    # engine independent of that). Sorted input (the harmonizer's) is not sorted again.
    key = (lp.astype(np.int64) << 40) + ((ld.astype(np.int64) + (1 << 30)) << 4) + lt
    if len(key) and not bool(np.all(key[1:] >= key[:-1])):
        order = np.lexsort((lv, lt, ld, lp))
        lp, ld, lt, lv, key = lp[order], ld[order], lt[order], lv[order], key[order]
        del order
    same_run = key[1:] == key[:-1] if len(key) else np.zeros(0, dtype=bool)
    if same_run.any():  # equal (pid, day, test): keep the maximum value as the last one
        order = np.lexsort((lv, key))
        lp, ld, lt, lv = lp[order], ld[order], lt[order], lv[order]
        del order
    del key, same_run
    newg = np.r_[True, (lp[1:] != lp[:-1]) | (ld[1:] != ld[:-1])] if len(lp) else np.zeros(0, bool)
    gid = np.cumsum(newg) - 1
    n_w = int(gid[-1] + 1) if len(gid) else 0
    w_pid = lp[newg].astype(np.int64)
    w_day = ld[newg].astype(np.float64)
    wide = {c: np.full(n_w, np.nan) for c in WIDE}
    for code, c in enumerate(WIDE):
        sel = np.flatnonzero(lt == code)
        last = sel[_last_per_group(gid[sel])]
        wide[c][gid[last]] = lv[last]
    del lp, ld, lt, lv, gid, newg

    # baseline: last value in [start - W, start]
    W = params.baseline_window_days
    ws = start[w_pid] if n_w else np.zeros(0)
    in_base = (w_day >= ws - W) & (w_day <= ws)
    base: dict[str, np.ndarray] = {}
    for c in ("sm", "um", "bm", "spd", "clon"):
        sel = np.flatnonzero(in_base & ~np.isnan(wide[c]))
        last = _last_per_group(w_pid[sel])
        idx = sel[last]
        bv = np.full(n_pat, np.nan)
        bd = np.full(n_pat, np.nan)
        bv[w_pid[idx]] = wide[c][idx]
        bd[w_pid[idx]] = w_day[idx]
        base["b_" + c], base["b_" + c + "_day"] = bv, bd
    sel = np.flatnonzero(in_base & ~np.isnan(wide["kap"]) & ~np.isnan(wide["lam"]))
    idx = sel[_last_per_group(w_pid[sel])]
    b_kap, b_lam, b_flc_day = (np.full(n_pat, np.nan) for _ in range(3))
    b_kap[w_pid[idx]] = wide["kap"][idx]
    b_lam[w_pid[idx]] = wide["lam"][idx]
    b_flc_day[w_pid[idx]] = w_day[idx]

    # route
    b_sm, b_um, b_bm, b_spd = base["b_sm"], base["b_um"], base["b_bm"], base["b_spd"]
    is_s = _ge(b_sm, params.measurable_serum_g_dl)
    is_u = _ge(b_um, URINE_MEASURABLE_MG)
    k_hi = b_kap > FLC_RATIO_HIGH * b_lam + EPS
    k_lo = b_kap < FLC_RATIO_LOW * b_lam - EPS
    inv = np.where(k_hi, b_kap, b_lam)
    unv = np.where(k_hi, b_lam, b_kap)
    is_f = ~is_s & ~is_u & (k_hi | k_lo) & _ge(inv, IFLC_MEASURABLE_MG_DL)
    is_m = ~is_s & ~is_u & ~is_f & _ge(b_bm, BMPC_MEASURABLE)
    is_x = ~is_s & ~is_u & ~is_f & ~is_m & (b_spd > 0)
    route = np.select([is_s | is_u, is_f, is_m, is_x], [R_SU, R_FLC, R_MARROW, R_SPD], R_NONE)
    kinv = np.where(is_f, k_hi.astype(np.float64), np.nan)  # 1 kappa, 0 lambda
    b_d = np.where(is_f, inv - unv, np.nan)

    # window rows: after day 0, up to last follow-up / the day before the next line
    inw = (w_day > ws) & (w_day <= end_day[w_pid]) if n_w else np.zeros(0, bool)
    wi = np.flatnonzero(inw)
    p = w_pid[wi]
    day = w_day[wi]
    v = {c: wide[c][wi] for c in WIDE}
    del wide, w_pid, w_day, wi
    rt = route[p]
    d = np.where(
        rt == R_FLC,
        np.where(kinv[p] == 1, v["kap"] - v["lam"], v["lam"] - v["kap"]),
        np.nan,
    )
    frame = pd.DataFrame({"bm": v["bm"], "spd": v["spd"], "clon": v["clon"], "sm": v["sm"],
                          "um": v["um"], "d": d})  # fmt: skip
    grp = frame.groupby(p, sort=False)
    cf = grp[["bm", "spd", "clon"]].ffill()
    run = grp[["sm", "um", "d", "bm", "spd"]].cummin()
    bm_cf, spd_cf, clon_cf = (cf[c].to_numpy() for c in ("bm", "spd", "clon"))

    # nadir = lowest of baseline and values so far (inclusive); defined where measured
    def nadir(base_v: np.ndarray, col: str, cur: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(cur), np.nan, np.fmin(base_v[p], run[col].to_numpy()))

    nad_sm = nadir(b_sm, "sm", v["sm"])
    nad_um = nadir(b_um, "um", v["um"])
    nad_d = nadir(b_d, "d", d)
    nad_bm = nadir(b_bm, "bm", v["bm"])
    nad_spd = nadir(b_spd, "spd", v["spd"])

    sm, um, kap, lam = v["sm"], v["um"], v["kap"], v["lam"]
    s_meas, u_meas = is_s[p], is_u[p]

    # progression readings
    rise = sm - nad_sm
    pd_s = (
        s_meas
        & ~np.isnan(sm)
        & np.where(_ge(nad_sm, 5.0), _ge(rise, 1.0), _ge(rise, 0.5) & _ge(rise, 0.25 * nad_sm))
    )
    rise = um - nad_um
    pd_u = u_meas & ~np.isnan(um) & _ge(rise, URINE_MEASURABLE_MG) & _ge(rise, 0.25 * nad_um)
    rise = d - nad_d
    pd_f = (rt == R_FLC) & ~np.isnan(d) & (rise > 10.0 + EPS) & _ge(rise, 0.25 * nad_d)
    rise = v["bm"] - nad_bm
    pd_m = (rt == R_MARROW) & ~np.isnan(v["bm"]) & _ge(rise, 10.0) & _ge(rise, 0.25 * nad_bm)
    pd_n = v["newl"] == 1
    rise = v["spd"] - nad_spd
    pd_x = ~np.isnan(v["spd"]) & ~np.isnan(nad_spd) & (rise > EPS) & _ge(rise, 0.5 * nad_spd)
    pd_bits = (
        pd_s * PDBIT["PD_SERUM"] + pd_u * PDBIT["PD_URINE"] + pd_f * PDBIT["PD_FLC"]
        + pd_m * PDBIT["PD_MARROW"] + pd_n * PDBIT["PD_NEW_LESION"] + pd_x * PDBIT["PD_SPD"]
    ).astype(np.int64)  # fmt: skip

    is_assess = np.select(
        [rt == R_SU, rt == R_FLC, rt == R_MARROW, rt == R_SPD],
        [
            (s_meas & ~np.isnan(sm)) | (u_meas & ~np.isnan(um)),
            ~np.isnan(d),
            ~np.isnan(v["bm"]),
            ~np.isnan(v["spd"]),
        ],
        False,
    ).astype(bool)

    # levels: B = at this date, C = carried marrow/imaging requirements
    n = len(p)
    b_lvl = np.full(n, SCR, dtype=np.int64)
    c_lvl = np.full(n, SCR, dtype=np.int64)
    bits = np.zeros(n, dtype=np.int64)

    def cap(lv: np.ndarray, cond: np.ndarray, level: int, bit: str) -> None:
        lv[cond] = np.minimum(lv[cond], level)
        bits[cond] |= BIT[bit]

    su = rt == R_SU
    fl = rt == R_FLC
    has_sm, has_um = ~np.isnan(sm), ~np.isnan(um)
    # serum M, measurable at baseline
    r = (b_sm[p] - sm) / b_sm[p]
    c_s = su & s_meas
    cap(b_lvl, c_s & ~has_sm, SD, "SM_MISSING")
    cs = c_s & has_sm
    lt25 = cs & ~_ge(r, 0.25)
    lt50 = cs & ~lt25 & ~_ge(r, 0.5)
    lt90 = cs & ~lt25 & ~lt50 & ~_ge(r, 0.9) & (sm > 0)
    vis = cs & ~lt25 & ~lt50 & ~lt90 & (sm > 0)
    cap(b_lvl, lt25, SD, "SM_LT25")
    cap(b_lvl, lt50, MR, "SM_LT50")
    cap(b_lvl, lt90, PR, "SM_LT90")
    cap(b_lvl, vis, VGPR, "SM_VISIBLE")
    # urine M, measurable at baseline
    r = (b_um[p] - um) / b_um[p]
    c_u = su & u_meas
    cap(b_lvl, c_u & ~has_um, SD, "UM_MISSING")
    cu = c_u & has_um
    ge200 = _ge(um, URINE_MEASURABLE_MG)
    u_lt50 = cu & ge200 & ~_ge(r, 0.5)
    u_lt90 = cu & ge200 & ~u_lt50 & ~_ge(r, 0.9)
    u_ge100 = cu & ~u_lt50 & ~u_lt90 & _ge(um, 100.0)
    u_vis = cu & ~u_lt50 & ~u_lt90 & ~u_ge100 & (um > 0)
    cap(b_lvl, u_lt50, SD, "UM_LT50")
    cap(b_lvl, u_lt90, MR, "UM_LT90")
    cap(b_lvl, u_ge100, PR, "UM_GE100")
    cap(b_lvl, u_vis, VGPR, "UM_VISIBLE")
    # serum/urine M present but not measurable at baseline: blocks CR (and urine VGPR)
    cap(b_lvl, (su | fl) & ~s_meas & has_sm & (sm > 0), VGPR, "SM_VISIBLE")
    nu = su & ~u_meas & has_um
    cap(b_lvl, nu & _ge(um, 100.0), PR, "UM_GE100")
    cap(b_lvl, nu & ~_ge(um, 100.0) & (um > 0), VGPR, "UM_VISIBLE")
    cap(b_lvl, fl & has_um & (um > 0), VGPR, "UM_VISIBLE")
    # FLC route
    r = (b_d[p] - d) / b_d[p]
    ratio_ok = _ge(kap, FLC_RATIO_LOW * lam) & (kap <= FLC_RATIO_HIGH * lam + EPS)
    has_flc = ~np.isnan(kap) & ~np.isnan(lam)
    cf_ = fl & ~np.isnan(d)
    f_lt50 = cf_ & ~_ge(r, 0.5)
    f_lt90 = cf_ & ~f_lt50 & ~_ge(r, 0.9)
    f_abn = cf_ & ~f_lt50 & ~f_lt90 & ~ratio_ok
    cap(b_lvl, f_lt50, SD, "DFLC_LT50")
    cap(b_lvl, f_lt90, PR, "DFLC_LT90")
    cap(b_lvl, f_abn, VGPR, "FLC_RATIO_ABN")
    # CR: negative immunofixation in serum and urine
    sf = su | fl
    cap(b_lvl, sf & np.isnan(v["sife"]), VGPR, "SIFE_MISSING")
    cap(b_lvl, sf & (v["sife"] == 1), VGPR, "SIFE_POS")
    cap(b_lvl, sf & np.isnan(v["uife"]), VGPR, "UIFE_MISSING")
    cap(b_lvl, sf & (v["uife"] == 1), VGPR, "UIFE_POS")
    # sCR: normal FLC ratio (serum/urine route; the FLC route already needs it for CR)
    cap(b_lvl, su & ~has_flc, CR, "SCR_FLC_MISSING")
    cap(b_lvl, su & has_flc & ~ratio_ok, CR, "SCR_FLC_ABN")
    # carried requirements: marrow < 5 %, plasmacytoma, clonality
    if params.profile != "relaxed":  # relaxed: a missing marrow does not block CR
        cap(c_lvl, sf & np.isnan(bm_cf), VGPR, "BM_MISSING")
    cap(c_lvl, sf & _ge(bm_cf, BMPC_CR_BELOW), VGPR, "BM_GE5")
    bsp = b_spd[p]
    has_bsp = sf & (bsp > 0)
    r = (bsp - spd_cf) / bsp
    x_miss = has_bsp & np.isnan(spd_cf)
    x_lt25 = has_bsp & ~x_miss & ~_ge(r, 0.25)
    x_lt50 = has_bsp & ~x_miss & ~x_lt25 & ~_ge(r, 0.5)
    x_pres = has_bsp & ~x_miss & ~x_lt25 & ~x_lt50 & (spd_cf > 0)
    cap(c_lvl, x_miss, SD, "SPD_MISSING")
    cap(c_lvl, x_lt25, SD, "SPD_LT25")
    cap(c_lvl, x_lt50, MR, "SPD_LT50")
    cap(c_lvl, x_pres, VGPR, "SPD_PRESENT")
    if params.scr_without_clonality == "CR":
        cap(c_lvl, sf & np.isnan(clon_cf), CR, "CLON_MISSING")
    cap(c_lvl, sf & (clon_cf == 1), CR, "CLON_POS")
    # marrow route
    mr_ = (rt == R_MARROW) & ~np.isnan(v["bm"])
    r = (b_bm[p] - v["bm"]) / b_bm[p]
    m_lt50 = mr_ & ~_ge(r, 0.5)
    cap(b_lvl, m_lt50, SD, "BM_LT50")
    cap(b_lvl, mr_ & ~m_lt50, PR, "ROUTE_CAP")
    # plasmacytoma route
    xr = (rt == R_SPD) & ~np.isnan(v["spd"])
    r = (bsp - v["spd"]) / bsp
    xr_lt25 = xr & ~_ge(r, 0.25)
    xr_lt50 = xr & ~xr_lt25 & ~_ge(r, 0.5)
    cap(b_lvl, xr_lt25, SD, "SPD_LT25")
    cap(b_lvl, xr_lt50, MR, "SPD_LT50")
    cap(b_lvl, xr & ~xr_lt25 & ~xr_lt50, PR, "ROUTE_CAP")

    b_eff = np.where(pd_bits > 0, PD, b_lvl)
    level = np.minimum(b_eff, c_lvl)

    # keep assessment rows and rows with a progression event needing no confirmation
    pd_now = pd_m | pd_n | pd_x
    keep = is_assess | pd_now
    kk = np.flatnonzero(keep)
    cols = {
        "pid": p, "day": day, "is_assess": is_assess, "sm": sm, "um": um, "kap": kap,
        "lam": lam, "sife": v["sife"], "uife": v["uife"], "bm": v["bm"], "spd": v["spd"],
        "newl": v["newl"], "clon": v["clon"], "bm_cf": bm_cf, "spd_cf": spd_cf,
        "clon_cf": clon_cf, "d": d, "nad_sm": nad_sm, "nad_um": nad_um, "nad_d": nad_d,
        "nad_bm": nad_bm, "nad_spd": nad_spd, "b_lvl": b_eff, "c_lvl": c_lvl,
        "level": level, "fail_bits": bits, "pd_bits": pd_bits,
    }  # fmt: skip
    A = pd.DataFrame(
        {c: np.asarray(x)[kk].astype(ASSESSMENT_DTYPES.get(c, np.float64), copy=False)
         for c, x in cols.items()}
    )  # fmt: skip
    del cols, v, frame, grp, cf
    pd_bio = (A["pd_bits"].to_numpy() & PD_BIO_MASK) > 0
    pd_nc = (A["pd_bits"].to_numpy() & ~PD_BIO_MASK) > 0

    # next assessment (lead over assessment rows of the same patient)
    ia = A["is_assess"].to_numpy()
    ai = np.flatnonzero(ia)
    ap = A["pid"].to_numpy()[ai]
    same = np.r_[ap[1:] == ap[:-1], False] if len(ap) else np.zeros(0, dtype=bool)
    nxt = np.r_[ai[1:], 0]
    next_day = np.full(len(A), np.nan)
    next_b = np.full(len(A), np.nan)
    next_c = np.full(len(A), np.nan)
    next_bio = np.zeros(len(A), dtype=bool)
    next_day[ai[same]] = A["day"].to_numpy()[nxt[same]]
    next_b[ai[same]] = A["b_lvl"].to_numpy()[nxt[same]]
    next_c[ai[same]] = A["c_lvl"].to_numpy()[nxt[same]]
    next_bio[ai[same]] = pd_bio[nxt[same]]

    Ap = A["pid"].to_numpy()
    Ad = A["day"].to_numpy()
    dth = death[Ap]
    ns = next_start[Ap]
    death_conf = ~np.isnan(dth) & (np.isnan(ns) | (dth < ns))
    last = ia & np.isnan(next_day)
    conf_next = ia & pd_bio & next_bio
    conf_death = ia & pd_bio & last & death_conf
    if params.profile == "simultaneous_pd":
        bio = A["pd_bits"].to_numpy().astype(np.int64) & PD_BIO_MASK
        conf_simul = ia & (((bio & 1) + ((bio >> 1) & 1) + ((bio >> 2) & 1)) >= 2)
    else:
        conf_simul = np.zeros(len(A), dtype=bool)
    unconf = ia & pd_bio & last & ~death_conf & ~conf_simul
    ev = conf_next | conf_death | pd_nc | conf_simul
    ev_day = np.where(ev, Ad, np.nan)
    pd_day = _group_min(Ap, ev_day, n_pat)
    un_day = _group_min(Ap, np.where(unconf, Ad, np.nan), n_pat)
    un_day = np.where(np.isnan(pd_day) | (un_day < pd_day), un_day, np.nan)
    pd_eff = np.fmin(pd_day, un_day) if params.unconfirmed_pd_is_event else pd_day

    # progression details at the event row
    pe = pd_eff[Ap]
    at_ev = (Ad == pe) & (ev | (unconf & params.unconfirmed_pd_is_event))
    kind = np.select(
        [pd_nc, conf_next, conf_death, conf_simul], [PDK_NOCONF, PDK_NEXT, PDK_DEATH, PDK_SIMUL], 0
    )
    ev_rows = np.flatnonzero(at_ev)
    pd_kind = np.full(n_pat, np.nan)
    pd_bits_p = np.full(n_pat, np.nan)
    pd_conf_day = np.full(n_pat, np.nan)
    pd_kind[Ap[ev_rows]] = kind[ev_rows]
    pd_bits_p[Ap[ev_rows]] = A["pd_bits"].to_numpy()[ev_rows]
    pd_conf_day[Ap[ev_rows]] = np.where(kind[ev_rows] == PDK_NEXT, next_day[ev_rows], np.nan)

    # confirmed level per assessment, within the best-response window
    conf_route = np.isin(route[Ap], (R_SU, R_FLC))
    lvl = A["level"].to_numpy()
    in_bor = ia & (np.isnan(pe) | (Ad <= pe))
    pair_ok = ~np.isnan(next_day) & (np.isnan(pe) | (next_day <= pe))
    pair = np.where(
        conf_route & pair_ok,
        np.fmin(np.fmin(A["b_lvl"].to_numpy(), next_b), next_c),
        np.nan,
    )
    # a single reading counts as SD on the confirmed routes (relaxed: as read)
    needs_pair = conf_route & (params.profile != "relaxed")
    single = np.where(needs_pair, np.where(lvl >= SD, SD, NE), np.where(lvl >= SD, lvl, NE))
    conf = np.where(in_bor, np.fmax(single, pair), np.nan)
    A["next_day"] = next_day
    A["pair_lvl"] = pair
    A["conf"] = conf

    bor_raw = _group_max(Ap, conf, n_pat)
    has_resp = bor_raw >= SD
    bor_day = _group_min(Ap, np.where(conf == bor_raw[Ap], Ad, np.nan), n_pat)
    rows_best = np.flatnonzero((conf == bor_raw[Ap]) & (Ad == bor_day[Ap]))
    bor_conf_day = np.full(n_pat, np.nan)
    use_pair = pair[rows_best] == conf[rows_best]
    bor_conf_day[Ap[rows_best]] = np.where(use_pair, next_day[rows_best], Ad[rows_best])
    first_resp = _group_min(Ap, np.where(conf >= PR, Ad, np.nan), n_pat)
    max_level = _group_max(Ap, np.where(in_bor, lvl, np.nan), n_pat)
    max_level_day = _group_min(Ap, np.where(in_bor & (lvl == max_level[Ap]), Ad, np.nan), n_pat)

    bor = np.where(has_resp, bor_raw, NE)
    pd_bor = ~has_resp & ~np.isnan(pd_eff)
    un_bor = ~has_resp & np.isnan(pd_eff) & ~np.isnan(un_day) & (params.unconfirmed_pd_bor == "PD")
    bor = np.where(pd_bor | un_bor, PD, bor)
    bor_day = np.where(
        has_resp, bor_day, np.where(pd_bor, pd_eff, np.where(un_bor, un_day, np.nan))
    )
    bor_conf_day = np.where(has_resp, bor_conf_day, np.where(pd_bor, pd_conf_day, np.nan))
    n_assess = np.bincount(Ap[ia], minlength=n_pat).astype(np.int64)

    P = pd.DataFrame(
        {
            "pid": np.arange(n_pat, dtype=np.int64), "route": route.astype(np.int64),
            "is_s": is_s, "is_u": is_u, "kinv": kinv, "b_sm": b_sm, "b_sm_day": base["b_sm_day"],
            "b_um": b_um, "b_um_day": base["b_um_day"], "b_kap": b_kap, "b_lam": b_lam,
            "b_flc_day": b_flc_day, "b_bm": b_bm, "b_bm_day": base["b_bm_day"], "b_spd": b_spd,
            "b_spd_day": base["b_spd_day"], "b_clon": base["b_clon"], "b_d": b_d,
            "end_day": end_day, "n_assess": n_assess, "bor": bor.astype(np.int64),
            "bor_day": bor_day, "bor_confirm_day": bor_conf_day, "first_resp_day": first_resp,
            "pd_day": pd_eff, "pd_kind": pd_kind, "pd_bits": pd_bits_p,
            "pd_confirm_day": pd_conf_day, "unconf_day": un_day,
            "bor_pd_unconfirmed": un_bor, "max_level": max_level,
            "max_level_day": max_level_day,
        }
    )  # fmt: skip
    return ImwgTables(_canon_patients(P), _canon_assessments(A))


def _last_per_group(g: np.ndarray) -> np.ndarray:
    """Positions of the last element of each run of equal values in sorted ``g``."""
    if len(g) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[g[1:] != g[:-1], True])


def _group_min(g: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    ok = ~np.isnan(x)
    np.minimum.at(out, g[ok], x[ok])
    out[np.isinf(out)] = np.nan
    return out


def _group_max(g: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    ok = ~np.isnan(x)
    np.maximum.at(out, g[ok], x[ok])
    out[np.isinf(out)] = np.nan
    return out


def _canon_patients(P: pd.DataFrame) -> pd.DataFrame:
    P = P[list(PATIENT_COLUMNS)].copy()
    for c in P.columns:
        if c in ("pid", "route", "n_assess", "bor"):
            P[c] = P[c].astype(np.int64)
        elif c in ("is_s", "is_u", "bor_pd_unconfirmed"):
            P[c] = P[c].astype(bool)
        else:
            P[c] = P[c].astype(np.float64)
    return P.sort_values("pid", ignore_index=True)


def _canon_assessments(A: pd.DataFrame) -> pd.DataFrame:
    # 2 million rows at full scale: copy only what is not already in canonical form
    if list(A.columns) != list(ASSESSMENT_COLUMNS):
        A = A[list(ASSESSMENT_COLUMNS)]
    want = {c: ASSESSMENT_DTYPES.get(c, np.float64) for c in A.columns}
    diff = {c: t for c, t in want.items() if A[c].dtype != np.dtype(t)}
    if diff:
        A = A.astype(diff)
    key = A["pid"].to_numpy(dtype=np.int64) * (1 << 32) + A["day"].to_numpy(dtype=np.int64)
    if len(key) and not bool(np.all(key[1:] > key[:-1])):
        A = A.iloc[np.argsort(key, kind="stable")]
    if not isinstance(A.index, pd.RangeIndex) or A.index.start != 0 or A.index.step != 1:
        A = A.reset_index(drop=True)
    return A


# --------------------------------------------------------------------------------------
# DuckDB engine
# --------------------------------------------------------------------------------------


def _ge_sql(x: str, t: str) -> str:
    return f"(({x}) >= ({t}) - {_f(EPS)})"


def _imwg_sql(params: ResponseParams) -> tuple[list[str], str]:
    """The SQL statements of the DuckDB engine, and the CTE of the confirmed levels.

    Only two large tables are materialized: ``wide`` (one row per patient and date) and
    ``seq`` (one narrow row per assessment), each dropped once used; the window steps in
    between are CTEs, so DuckDB keeps only the columns it needs.
    """
    e = _f(EPS)
    g = _ge_sql
    W = int(params.baseline_window_days)
    wide_cols = ",\n  ".join(
        f"max(value) FILTER (WHERE test = {code}) AS {c}" for code, c in enumerate(WIDE)
    )
    b = BIT

    def cap(level_col: str, cond: str, level: int, bit: str) -> tuple[str, str]:
        return (f"CASE WHEN {cond} THEN {level} ELSE {SCR} END",
                f"CASE WHEN {cond} THEN {b[bit]} ELSE 0 END")  # fmt: skip

    clon_missing = (
        f"CASE WHEN sf AND clon_cf IS NULL THEN {CR} ELSE {SCR} END"
        if params.scr_without_clonality == "CR"
        else f"{SCR}"
    )
    clon_missing_bit = (
        f"CASE WHEN sf AND clon_cf IS NULL THEN {b['CLON_MISSING']} ELSE 0 END"
        if params.scr_without_clonality == "CR"
        else "0"
    )
    win_cte = f"""w0 AS (
  SELECT w.*, pr.route, pr.is_s, pr.is_u, pr.b_sm, pr.b_um, pr.b_bm, pr.b_spd, pr.b_d,
    CASE WHEN pr.route = {R_FLC} THEN
      (CASE WHEN pr.kinv = 1 THEN w.kap - w.lam ELSE w.lam - w.kap END) END AS d
  FROM wide w JOIN pr ON w.pid = pr.pid
  WHERE w.day > pr.start AND w.day <= pr.end_day),
win AS (
SELECT *,
  last_value(bm IGNORE NULLS) OVER wa AS bm_cf,
  last_value(spd IGNORE NULLS) OVER wa AS spd_cf,
  last_value(clon IGNORE NULLS) OVER wa AS clon_cf,
  CASE WHEN sm IS NOT NULL THEN least(b_sm, min(sm) OVER wa) END AS nad_sm,
  CASE WHEN um IS NOT NULL THEN least(b_um, min(um) OVER wa) END AS nad_um,
  CASE WHEN d IS NOT NULL THEN least(b_d, min(d) OVER wa) END AS nad_d,
  CASE WHEN bm IS NOT NULL THEN least(b_bm, min(bm) OVER wa) END AS nad_bm,
  CASE WHEN spd IS NOT NULL THEN least(b_spd, min(spd) OVER wa) END AS nad_spd
FROM w0
WINDOW wa AS (PARTITION BY pid ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))"""
    lv_cte = _levels_sql(params, cap, clon_missing, clon_missing_bit)
    simul = (
        "(s1.is_assess AND ((s1.pd_bits & 1) + ((s1.pd_bits >> 1) & 1) + "
        "((s1.pd_bits >> 2) & 1)) >= 2)"
        if params.profile == "simultaneous_pd"
        else "false"
    )
    needs_pair = "false" if params.profile == "relaxed" else "true"
    seq_sql = f"""CREATE OR REPLACE TEMP TABLE seq AS
WITH {win_cte},
{lv_cte},
s0 AS (
  SELECT *,
    (pd_bits & {PD_BIO_MASK}) > 0 AS pd_bio,
    (pd_bits & {~PD_BIO_MASK & 0xFFFF}) > 0 AS pd_nc
  FROM lv WHERE is_assess OR (pd_bits & {~PD_BIO_MASK & 0xFFFF}) > 0),
s1 AS (
  SELECT *,
    CASE WHEN is_assess THEN lead(day) OVER wn END AS next_day,
    CASE WHEN is_assess THEN lead(b_lvl) OVER wn END AS next_b,
    CASE WHEN is_assess THEN lead(c_lvl) OVER wn END AS next_c,
    CASE WHEN is_assess THEN lead(pd_bio) OVER wn END AS next_bio
  FROM s0
  WINDOW wn AS (PARTITION BY pid, is_assess ORDER BY day))
SELECT CAST(s1.pid AS INTEGER) AS pid, CAST(s1.day AS INTEGER) AS day, s1.is_assess,
  s1.sm, s1.um, s1.kap, s1.lam, s1.sife, s1.uife, s1.bm, s1.spd, s1.newl, s1.clon,
  s1.bm_cf, s1.spd_cf, s1.clon_cf, s1.d, s1.nad_sm, s1.nad_um, s1.nad_d, s1.nad_bm,
  s1.nad_spd, CAST(s1.b_lvl AS TINYINT) AS b_lvl, CAST(s1.c_lvl AS TINYINT) AS c_lvl,
  CAST(s1.level AS TINYINT) AS level, CAST(s1.fail_bits AS INTEGER) AS fail_bits,
  CAST(s1.pd_bits AS TINYINT) AS pd_bits, s1.pd_nc, s1.next_day, s1.next_b, s1.next_c,
  pr.route AS p_route,
  s1.is_assess AND s1.pd_bio AND coalesce(s1.next_bio, false) AS conf_next,
  s1.is_assess AND s1.pd_bio AND s1.next_day IS NULL AND pr.death IS NOT NULL
    AND (pr.next_start IS NULL OR pr.death < pr.next_start) AS conf_death,
  s1.is_assess AND s1.pd_bio AND s1.next_day IS NULL AND NOT (pr.death IS NOT NULL
    AND (pr.next_start IS NULL OR pr.death < pr.next_start)) AND NOT {simul} AS unconf,
  {simul} AS conf_simul
FROM s1 JOIN pr ON s1.pid = pr.pid"""
    cs_cte = f"""c0 AS (
  SELECT s.*, pdp.pd_eff,
    s.is_assess AND (pdp.pd_eff IS NULL OR s.day <= pdp.pd_eff) AS in_bor,
    CASE WHEN s.p_route IN ({R_SU}, {R_FLC}) AND s.next_day IS NOT NULL
              AND (pdp.pd_eff IS NULL OR s.next_day <= pdp.pd_eff)
         THEN least(s.b_lvl, s.next_b, s.next_c) END AS pair_lvl,
    CASE WHEN s.p_route IN ({R_SU}, {R_FLC}) AND {needs_pair}
         THEN (CASE WHEN s.level >= {SD} THEN {SD} ELSE {NE} END)
         ELSE (CASE WHEN s.level >= {SD} THEN s.level ELSE {NE} END) END AS single
  FROM seq s JOIN pdp ON s.pid = pdp.pid),
cs AS (SELECT *, CASE WHEN in_bor THEN greatest(single, pair_lvl) END AS conf FROM c0)"""
    stmts = [
        f"""CREATE OR REPLACE TEMP TABLE wide AS
SELECT pid, day,
  {wide_cols}
FROM labs WHERE test <= 9 GROUP BY pid, day""",
        f"""CREATE OR REPLACE TEMP TABLE base AS
SELECT w.pid,
  arg_max(sm, w.day) FILTER (WHERE sm IS NOT NULL) AS b_sm,
  max(w.day) FILTER (WHERE sm IS NOT NULL) AS b_sm_day,
  arg_max(um, w.day) FILTER (WHERE um IS NOT NULL) AS b_um,
  max(w.day) FILTER (WHERE um IS NOT NULL) AS b_um_day,
  arg_max(bm, w.day) FILTER (WHERE bm IS NOT NULL) AS b_bm,
  max(w.day) FILTER (WHERE bm IS NOT NULL) AS b_bm_day,
  arg_max(spd, w.day) FILTER (WHERE spd IS NOT NULL) AS b_spd,
  max(w.day) FILTER (WHERE spd IS NOT NULL) AS b_spd_day,
  arg_max(clon, w.day) FILTER (WHERE clon IS NOT NULL) AS b_clon,
  max(w.day) FILTER (WHERE clon IS NOT NULL) AS b_clon_day,
  arg_max(kap, w.day) FILTER (WHERE kap IS NOT NULL AND lam IS NOT NULL) AS b_kap,
  arg_max(lam, w.day) FILTER (WHERE kap IS NOT NULL AND lam IS NOT NULL) AS b_lam,
  max(w.day) FILTER (WHERE kap IS NOT NULL AND lam IS NOT NULL) AS b_flc_day
FROM wide w JOIN pt ON w.pid = pt.pid
WHERE w.day >= pt.start - {W} AND w.day <= pt.start
GROUP BY w.pid""",
        f"""CREATE OR REPLACE TEMP TABLE pr AS
WITH r0 AS (
  SELECT pt.pid, pt.start, pt.death, pt.next_start,
    least(pt.lfu, pt.next_start - 1) AS end_day,
    b.* EXCLUDE (pid),
    coalesce({g("b.b_sm", _f(params.measurable_serum_g_dl))}, false) AS is_s,
    coalesce({g("b.b_um", _f(URINE_MEASURABLE_MG))}, false) AS is_u,
    coalesce(b.b_kap > {_f(FLC_RATIO_HIGH)} * b.b_lam + {e}, false) AS k_hi,
    coalesce(b.b_kap < {_f(FLC_RATIO_LOW)} * b.b_lam - {e}, false) AS k_lo
  FROM pt LEFT JOIN base b ON b.pid = pt.pid),
r1 AS (
  SELECT *,
    CASE WHEN k_hi THEN b_kap ELSE b_lam END AS inv,
    CASE WHEN k_hi THEN b_lam ELSE b_kap END AS unv
  FROM r0),
r2 AS (
  SELECT *,
    NOT is_s AND NOT is_u AND (k_hi OR k_lo)
      AND coalesce({g("inv", _f(IFLC_MEASURABLE_MG_DL))}, false) AS is_f
  FROM r1),
r3 AS (
  SELECT *,
    NOT is_s AND NOT is_u AND NOT is_f
      AND coalesce({g("b_bm", _f(BMPC_MEASURABLE))}, false) AS is_m
  FROM r2)
SELECT *,
  CASE WHEN is_s OR is_u THEN {R_SU} WHEN is_f THEN {R_FLC} WHEN is_m THEN {R_MARROW}
       WHEN coalesce(b_spd > 0, false) THEN {R_SPD} ELSE {R_NONE} END AS route,
  CASE WHEN is_f THEN (CASE WHEN k_hi THEN 1.0 ELSE 0.0 END) END AS kinv,
  CASE WHEN is_f THEN inv - unv END AS b_d
FROM r3""",
        seq_sql,
        "DROP TABLE wide",
        f"""CREATE OR REPLACE TEMP TABLE pdp AS
WITH e AS (
  SELECT pid,
    min(day) FILTER (WHERE conf_next OR conf_death OR pd_nc OR conf_simul) AS pd_day,
    min(day) FILTER (WHERE unconf) AS un_day0
  FROM seq GROUP BY pid)
SELECT pid, pd_day,
  CASE WHEN pd_day IS NULL OR un_day0 < pd_day THEN un_day0 END AS un_day,
  {
            "least(pd_day, CASE WHEN pd_day IS NULL OR un_day0 < pd_day THEN un_day0 END)"
            if params.unconfirmed_pd_is_event
            else "pd_day"
        } AS pd_eff
FROM e""",
        f"""CREATE OR REPLACE TEMP TABLE ev AS
SELECT s.pid,
  CASE WHEN s.pd_nc THEN {PDK_NOCONF} WHEN s.conf_next THEN {PDK_NEXT}
       WHEN s.conf_death THEN {PDK_DEATH} WHEN s.conf_simul THEN {PDK_SIMUL} ELSE 0 END
    AS pd_kind,
  s.pd_bits,
  CASE WHEN NOT s.pd_nc AND s.conf_next THEN s.next_day END AS pd_confirm_day
FROM seq s JOIN pdp ON s.pid = pdp.pid
WHERE s.day = pdp.pd_eff AND (s.conf_next OR s.conf_death OR s.pd_nc OR s.conf_simul
  {"OR s.unconf" if params.unconfirmed_pd_is_event else ""})""",
        f"""CREATE OR REPLACE TEMP TABLE pp AS
WITH {cs_cte},
a AS (
  SELECT pid, max(conf) AS bor_raw,
    min(day) FILTER (WHERE conf >= {PR}) AS first_resp_day,
    max(level) FILTER (WHERE in_bor) AS max_level,
    count(*) FILTER (WHERE is_assess) AS n_assess
  FROM cs GROUP BY pid),
bd AS (
  SELECT cs.pid, min(cs.day) AS bor_day,
    arg_min(CASE WHEN cs.pair_lvl = cs.conf THEN cs.next_day ELSE cs.day END, cs.day)
      AS bor_confirm_day
  FROM cs JOIN a ON cs.pid = a.pid WHERE cs.conf = a.bor_raw GROUP BY cs.pid),
md AS (
  SELECT cs.pid, min(cs.day) AS max_level_day
  FROM cs JOIN a ON cs.pid = a.pid WHERE cs.in_bor AND cs.level = a.max_level
  GROUP BY cs.pid)
SELECT pr.pid, pr.route, pr.is_s, pr.is_u, pr.kinv, pr.b_sm, pr.b_sm_day, pr.b_um,
  pr.b_um_day, pr.b_kap, pr.b_lam, pr.b_flc_day, pr.b_bm, pr.b_bm_day, pr.b_spd,
  pr.b_spd_day, pr.b_clon, pr.b_d, pr.end_day,
  coalesce(a.n_assess, 0) AS n_assess,
  coalesce(a.bor_raw >= {SD}, false) AS has_resp,
  a.bor_raw, bd.bor_day AS bor_day0, bd.bor_confirm_day AS bor_confirm_day0,
  a.first_resp_day, pdp.pd_eff AS pd_day, ev.pd_kind, ev.pd_bits,
  ev.pd_confirm_day, pdp.un_day AS unconf_day, a.max_level, md.max_level_day
FROM pr
LEFT JOIN a ON a.pid = pr.pid
LEFT JOIN bd ON bd.pid = pr.pid
LEFT JOIN md ON md.pid = pr.pid
LEFT JOIN pdp ON pdp.pid = pr.pid
LEFT JOIN ev ON ev.pid = pr.pid""",
        f"""CREATE OR REPLACE TEMP TABLE pfinal AS
WITH q AS (
  SELECT *,
    NOT has_resp AND pd_day IS NOT NULL AS pd_bor,
    NOT has_resp AND pd_day IS NULL AND unconf_day IS NOT NULL
      AND {"true" if params.unconfirmed_pd_bor == "PD" else "false"} AS un_bor
  FROM pp)
SELECT pid, route, is_s, is_u, kinv, b_sm, b_sm_day, b_um, b_um_day, b_kap, b_lam,
  b_flc_day, b_bm, b_bm_day, b_spd, b_spd_day, b_clon, b_d, end_day, n_assess,
  CASE WHEN has_resp THEN bor_raw WHEN pd_bor OR un_bor THEN {PD} ELSE {NE} END AS bor,
  CASE WHEN has_resp THEN bor_day0 WHEN pd_bor THEN pd_day WHEN un_bor THEN unconf_day
       END AS bor_day,
  CASE WHEN has_resp THEN bor_confirm_day0 WHEN pd_bor THEN pd_confirm_day END
    AS bor_confirm_day,
  first_resp_day, pd_day, pd_kind, pd_bits, pd_confirm_day, unconf_day,
  un_bor AS bor_pd_unconfirmed, max_level, max_level_day
FROM q""",
    ]
    return stmts, cs_cte


def _levels_sql(params: ResponseParams, cap: Any, clon_missing: str, clon_missing_bit: str) -> str:
    """Per-date readings: progression flags, assessment flag, levels and failure bits."""
    e = _f(EPS)
    g = _ge_sql
    b = BIT
    S = SCR
    # Each rule: (which level column, condition, level, bit). Conditions use the columns of
    # l0 below. The order and exclusivity mirror the pandas engine exactly.
    rules: list[tuple[str, str, int, str]] = [
        ("b", "c_s AND sm IS NULL", SD, "SM_MISSING"),
        ("b", "c_s AND sm IS NOT NULL AND NOT s25", SD, "SM_LT25"),
        ("b", "c_s AND sm IS NOT NULL AND s25 AND NOT s50", MR, "SM_LT50"),
        ("b", "c_s AND sm IS NOT NULL AND s25 AND s50 AND NOT s90 AND sm > 0", PR, "SM_LT90"),
        ("b", "c_s AND sm IS NOT NULL AND s25 AND s50 AND s90 AND sm > 0", VGPR, "SM_VISIBLE"),
        ("b", "c_u AND um IS NULL", SD, "UM_MISSING"),
        ("b", "c_u AND um IS NOT NULL AND ge200 AND NOT u50", SD, "UM_LT50"),
        ("b", "c_u AND um IS NOT NULL AND ge200 AND u50 AND NOT u90", MR, "UM_LT90"),
        ("b", "c_u AND um IS NOT NULL AND NOT (ge200 AND NOT u90) AND ge100", PR, "UM_GE100"),
        ("b", "c_u AND um IS NOT NULL AND NOT (ge200 AND NOT u90) AND NOT ge100 AND um > 0",
         VGPR, "UM_VISIBLE"),
        ("b", "sf AND NOT is_s AND sm IS NOT NULL AND sm > 0", VGPR, "SM_VISIBLE"),
        ("b", "su AND NOT is_u AND um IS NOT NULL AND ge100", PR, "UM_GE100"),
        ("b", "su AND NOT is_u AND um IS NOT NULL AND NOT ge100 AND um > 0", VGPR, "UM_VISIBLE"),
        ("b", "fl AND um IS NOT NULL AND um > 0", VGPR, "UM_VISIBLE"),
        ("b", "fl AND d IS NOT NULL AND NOT f50", SD, "DFLC_LT50"),
        ("b", "fl AND d IS NOT NULL AND f50 AND NOT f90", PR, "DFLC_LT90"),
        ("b", "fl AND d IS NOT NULL AND f50 AND f90 AND NOT ratio_ok", VGPR, "FLC_RATIO_ABN"),
        ("b", "sf AND sife IS NULL", VGPR, "SIFE_MISSING"),
        ("b", "sf AND sife = 1", VGPR, "SIFE_POS"),
        ("b", "sf AND uife IS NULL", VGPR, "UIFE_MISSING"),
        ("b", "sf AND uife = 1", VGPR, "UIFE_POS"),
        ("b", "su AND NOT has_flc", CR, "SCR_FLC_MISSING"),
        ("b", "su AND has_flc AND NOT ratio_ok", CR, "SCR_FLC_ABN"),
        ("c", "sf AND bm_cf IS NULL" + (" AND false" if params.profile == "relaxed" else ""),
         VGPR, "BM_MISSING"),
        ("c", f"sf AND {g('bm_cf', _f(BMPC_CR_BELOW))}", VGPR, "BM_GE5"),
        ("c", "has_bsp AND spd_cf IS NULL", SD, "SPD_MISSING"),
        ("c", "has_bsp AND spd_cf IS NOT NULL AND NOT x25", SD, "SPD_LT25"),
        ("c", "has_bsp AND spd_cf IS NOT NULL AND x25 AND NOT x50", MR, "SPD_LT50"),
        ("c", "has_bsp AND spd_cf IS NOT NULL AND x25 AND x50 AND spd_cf > 0", VGPR,
         "SPD_PRESENT"),
        ("c", "sf AND clon_cf = 1", CR, "CLON_POS"),
        ("b", "mr AND NOT m50", SD, "BM_LT50"),
        ("b", "mr AND m50", PR, "ROUTE_CAP"),
        ("b", "xr AND NOT xr25", SD, "SPD_LT25"),
        ("b", "xr AND xr25 AND NOT xr50", MR, "SPD_LT50"),
        ("b", "xr AND xr25 AND xr50", PR, "ROUTE_CAP"),
    ]  # fmt: skip
    # NULL-safe: every condition is wrapped in coalesce(..., false)
    b_terms = [f"CASE WHEN coalesce({c}, false) THEN {lv} ELSE {S} END"
               for col, c, lv, _ in rules if col == "b"]  # fmt: skip
    c_terms = [f"CASE WHEN coalesce({c}, false) THEN {lv} ELSE {S} END"
               for col, c, lv, _ in rules if col == "c"]  # fmt: skip
    c_terms.append(clon_missing)
    bit_terms = [f"CASE WHEN coalesce({c}, false) THEN {b[bit]} ELSE 0 END"
                 for _, c, _, bit in rules]  # fmt: skip
    bit_terms.append(clon_missing_bit)
    pdb = PDBIT
    return f"""l0 AS (
  SELECT *,
    route = {R_SU} AS su, route = {R_FLC} AS fl, route IN ({R_SU}, {R_FLC}) AS sf,
    route = {R_SU} AND is_s AS c_s, route = {R_SU} AND is_u AS c_u,
    {g("(b_sm - sm) / b_sm", _f(0.25))} AS s25,
    {g("(b_sm - sm) / b_sm", _f(0.5))} AS s50,
    {g("(b_sm - sm) / b_sm", _f(0.9))} AS s90,
    {g("um", _f(URINE_MEASURABLE_MG))} AS ge200,
    {g("um", _f(100.0))} AS ge100,
    {g("(b_um - um) / b_um", _f(0.5))} AS u50,
    {g("(b_um - um) / b_um", _f(0.9))} AS u90,
    {g("(b_d - d) / b_d", _f(0.5))} AS f50,
    {g("(b_d - d) / b_d", _f(0.9))} AS f90,
    kap IS NOT NULL AND lam IS NOT NULL AS has_flc,
    {g("kap", f"{_f(FLC_RATIO_LOW)} * lam")} AND kap <= {_f(FLC_RATIO_HIGH)} * lam + {e}
      AS ratio_ok,
    route IN ({R_SU}, {R_FLC}) AND coalesce(b_spd > 0, false) AS has_bsp,
    {g("(b_spd - spd_cf) / b_spd", _f(0.25))} AS x25,
    {g("(b_spd - spd_cf) / b_spd", _f(0.5))} AS x50,
    route = {R_MARROW} AND bm IS NOT NULL AS mr,
    {g("(b_bm - bm) / b_bm", _f(0.5))} AS m50,
    route = {R_SPD} AND spd IS NOT NULL AS xr,
    {g("(b_spd - spd) / b_spd", _f(0.25))} AS xr25,
    {g("(b_spd - spd) / b_spd", _f(0.5))} AS xr50,
    coalesce(is_s AND sm IS NOT NULL AND CASE WHEN {g("nad_sm", _f(5.0))}
        THEN {g("sm - nad_sm", _f(1.0))}
        ELSE {g("sm - nad_sm", _f(0.5))} AND {g("sm - nad_sm", "0.25 * nad_sm")} END, false)
      AS pd_s,
    coalesce(is_u AND um IS NOT NULL AND {g("um - nad_um", _f(URINE_MEASURABLE_MG))}
        AND {g("um - nad_um", "0.25 * nad_um")}, false) AS pd_u,
    coalesce(route = {R_FLC} AND d IS NOT NULL AND d - nad_d > {_f(10.0)} + {e}
        AND {g("d - nad_d", "0.25 * nad_d")}, false) AS pd_f,
    coalesce(route = {R_MARROW} AND bm IS NOT NULL AND {g("bm - nad_bm", _f(10.0))}
        AND {g("bm - nad_bm", "0.25 * nad_bm")}, false) AS pd_m,
    coalesce(newl = 1, false) AS pd_n,
    coalesce(spd IS NOT NULL AND nad_spd IS NOT NULL AND spd - nad_spd > {e}
        AND {g("spd - nad_spd", "0.5 * nad_spd")}, false) AS pd_x,
    CASE route
      WHEN {R_SU} THEN (is_s AND sm IS NOT NULL) OR (is_u AND um IS NOT NULL)
      WHEN {R_FLC} THEN d IS NOT NULL
      WHEN {R_MARROW} THEN bm IS NOT NULL
      WHEN {R_SPD} THEN spd IS NOT NULL
      ELSE false END AS is_assess
  FROM win),
l1 AS (
  SELECT *,
    least({", ".join(b_terms)}) AS b_raw,
    least({", ".join(c_terms)}) AS c_lvl,
    ({" | ".join(bit_terms)}) AS fail_bits,
    (CASE WHEN pd_s THEN {pdb["PD_SERUM"]} ELSE 0 END
     | CASE WHEN pd_u THEN {pdb["PD_URINE"]} ELSE 0 END
     | CASE WHEN pd_f THEN {pdb["PD_FLC"]} ELSE 0 END
     | CASE WHEN pd_m THEN {pdb["PD_MARROW"]} ELSE 0 END
     | CASE WHEN pd_n THEN {pdb["PD_NEW_LESION"]} ELSE 0 END
     | CASE WHEN pd_x THEN {pdb["PD_SPD"]} ELSE 0 END) AS pd_bits
  FROM l0),
lv AS (
SELECT *,
  CASE WHEN pd_bits > 0 THEN {PD} ELSE b_raw END AS b_lvl,
  least(CASE WHEN pd_bits > 0 THEN {PD} ELSE b_raw END, c_lvl) AS level
FROM l1)"""


def _imwg_duckdb(
    labs: pd.DataFrame, pt: pd.DataFrame, params: ResponseParams, con: Any
) -> ImwgTables:
    from mmrwe.derive.sandbox import private_duckdb

    own = con is None
    if own:
        con = private_duckdb()
    try:
        con.register("labs", labs[["pid", "day", "test", "value"]])
        ptd = pd.DataFrame(
            {
                "pid": np.arange(len(pt), dtype=np.int64),
                "start": pt["start"].to_numpy(dtype=np.float64),
                "lfu": pt["lfu"].to_numpy(dtype=np.float64),
                "death": pt["death"].to_numpy(dtype=np.float64),
                "next_start": pt["next_start"].to_numpy(dtype=np.float64),
            }
        )
        con.register("pt_in", ptd)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE pt AS SELECT pid, CAST(start AS BIGINT) AS start, "
            "CAST(lfu AS BIGINT) AS lfu, CAST(death AS BIGINT) AS death, "
            "CAST(next_start AS BIGINT) AS next_start FROM pt_in"
        )
        stmts, cs_cte = _imwg_sql(params)
        for stmt in stmts:
            con.execute(stmt)
        P = con.execute("SELECT * FROM pfinal ORDER BY pid").df()
        A = con.execute(
            f"WITH {cs_cte} SELECT {', '.join(_ASSESSMENT_SQL)} FROM cs ORDER BY pid, day"
        ).df()
        con.execute("DROP TABLE seq")
    finally:
        for t in ("labs", "pt_in"):
            with contextlib.suppress(Exception):
                con.unregister(t)
        if own:
            con.close()
    P["bor_pd_unconfirmed"] = P["bor_pd_unconfirmed"].fillna(False)
    return ImwgTables(_canon_patients(P), _canon_assessments(A))
