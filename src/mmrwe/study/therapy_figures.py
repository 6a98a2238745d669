"""Data of the two optional therapy figures: the swimmer plot and the lines-of-therapy flow.

Both are switched on in the spec (``[report] swimmer = true``, ``[report] therapy_flow =
true``) and need the therapy table (the swimmer also the lab table, whose assessments give
the response over time). They are computed here, once, into results.json, because the reports
are drawn from results.json only.

Privacy: results.json is an aggregate output. The swimmer is per patient, so its rows carry no
patient id, no center and no date: an anonymous row number (the rank in the plotted order,
not the input order) and times from the patient's own start in the study's time unit. With
small-cell suppression on (``[report] small_cell_k`` > 0) neither figure is computed
(``status = "not_estimable"`` with the reason): a bar is one patient, and a flow's width shows
every count, however small.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.conventions import days_per_unit

#: Response categories of the swimmer's markers, IMWG order (best first).
RESPONSE_ORDER = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD")
#: Default and largest number of patients a swimmer plot shows (``swimmer_max_patients``).
SWIMMER_MAX_PATIENTS = 60
SWIMMER_MAX_PATIENTS_LIMIT = 200
#: Regimens (or classes) drawn per line of the flow; the less frequent ones are pooled as
#: "Other".
FLOW_MAX_NODES = 8
#: Terminal states after a patient's last line shown, in the order they are drawn.
TERMINALS = (
    ("later", "Later lines"),
    ("ongoing", "On treatment at last contact"),
    ("stopped", "Alive, no further line"),
    ("death", "Died"),
)
_IMWG_LEVELS = ("PD", "SD", "MR", "PR", "VGPR", "CR", "sCR")  # mmrwe.derive.imwg.LEVELS codes
_NOT_A_CLASS = frozenset({"steroid", "supportive"})


def _not(key: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {"status": "not_estimable", "reason": reason, "spec_key": key, **extra}


def _days(s: Any, n: int) -> np.ndarray:
    if s is None:
        return np.full(n, np.nan)
    d = pd.to_datetime(pd.Series(s).reset_index(drop=True))
    out = d.to_numpy(dtype="datetime64[D]").astype(np.float64)
    out[d.isna().to_numpy()] = np.nan
    return out


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def study_lines(therapy: pd.DataFrame, day0: np.ndarray) -> dict[int, float]:
    """Patient (position) -> line number of the regimen under study (its row starts on day 0)."""
    t = therapy[therapy["line_eff"].notna()]
    pid = t["pid"].to_numpy(dtype=np.int64)
    at0 = t["start"].to_numpy(dtype=np.float64) == day0[pid]
    idx = t[at0].groupby("pid")["line_eff"].min()
    return {int(p): float(v) for p, v in idx.items()}


# --- swimmer -----------------------------------------------------------------------------------


def swimmer_data(
    *,
    day0: np.ndarray,
    death: np.ndarray,
    last_followup: np.ndarray,
    progression: np.ndarray,
    therapy: pd.DataFrame,
    assessments: pd.DataFrame | None,
    best_response: Sequence[Any] | None,
    time_unit: str = "months",
    max_patients: int = SWIMMER_MAX_PATIENTS,
) -> dict[str, Any]:
    """One anonymous row per patient with the regimen under study: bar, responses, events.

    Parameters
    ----------
    day0, death, last_followup, progression : numpy.ndarray
        Per patient (the position is the patient's ``pid`` in ``therapy`` and
        ``assessments``), days since 1970-01-01, NaN when missing.
    therapy : pandas.DataFrame
        ``pid``, ``start``, ``end`` (days; end NaN = ongoing), ``line_eff``.
    assessments : pandas.DataFrame or None
        ``pid``, ``day``, ``is_assess``, ``level`` (IMWG level code, 0 = PD ... 6 = sCR).
    best_response : sequence, optional
        Per patient, the derived best response.
    time_unit : str
        Unit of every time written (the study's).
    max_patients : int
        Largest number of rows; a larger cohort is shown by evenly spaced ranks of the sorted
        order (the first and the last included).

    Returns
    -------
    dict
        ``patients`` sorted by time on the regimen (longest first); each row: ``row``
        (1-based rank shown), ``time_on_treatment``, ``treatment_ongoing`` (no end of the line
        and alive at last contact), ``followup``, ``progression``, ``death`` (times or null),
        ``best_response``, ``responses`` [{time, response}] (the first assessment and each
        change of the per-assessment response category).
    """
    n = len(day0)
    per_unit = days_per_unit(time_unit)  # type: ignore[arg-type]
    lines = study_lines(therapy, day0)
    t = therapy[therapy["line_eff"].notna()]
    ends: dict[int, float] = {}
    for key, g in t.groupby(["pid", "line_eff"], sort=False):
        p, line = int(key[0]), float(key[1])  # type: ignore[call-overload, arg-type]
        if lines.get(p) == line:
            e = g["end"].to_numpy(dtype=np.float64)
            ends[p] = np.nan if np.isnan(e).any() else float(e.max())
    resp: dict[int, list[tuple[float, str]]] = {}
    if assessments is not None and len(assessments):
        a = assessments
        if "is_assess" in a.columns:
            a = a[a["is_assess"].astype(bool)]
        a = a[a["level"].notna()].sort_values(["pid", "day"], kind="stable")
        for p, d, lv in zip(a["pid"], a["day"], a["level"], strict=True):
            p, lv = int(p), int(lv)
            if p not in lines or not 0 <= lv < len(_IMWG_LEVELS) or float(d) < day0[p]:
                continue
            cat = _IMWG_LEVELS[lv]
            seq = resp.setdefault(p, [])
            if not seq or seq[-1][1] != cat:
                seq.append(((float(d) - day0[p]) / per_unit, cat))
    rows: list[dict[str, Any]] = []
    for p in sorted(lines):
        fu = (last_followup[p] - day0[p]) / per_unit
        end = ends.get(p, np.nan)
        alive = np.isnan(death[p])
        on = fu if np.isnan(end) else min((end - day0[p]) / per_unit, fu)
        br = None if best_response is None else best_response[p]
        rows.append(
            {
                "time_on_treatment": _num(max(on, 0.0)),
                "treatment_ongoing": bool(np.isnan(end) and alive),
                "followup": _num(fu),
                "progression": _num((progression[p] - day0[p]) / per_unit),
                "death": _num((death[p] - day0[p]) / per_unit),
                "best_response": None if br is None or pd.isna(br) or br == "" else str(br),
                "responses": [{"time": float(x), "response": c} for x, c in resp.get(p, [])],
                "_key": p,
            }
        )
    rows.sort(key=lambda r: (-(r["time_on_treatment"] or 0.0), -(r["followup"] or 0.0), r["_key"]))
    n_all = len(rows)
    if n_all > max_patients:
        keep = sorted({round(float(x)) for x in np.linspace(0, n_all - 1, max_patients)})
        rows = [rows[i] for i in keep]
        selection = (
            f"{len(rows)} of {n_all} patients, evenly spaced in the order of time on the "
            "regimen (the longest and the shortest included)"
        )
    else:
        selection = "all patients"
    for i, r in enumerate(rows, 1):
        del r["_key"]
        r["row"] = i
    return {
        "status": "ok",
        "reason": None,
        "spec_key": "[report] swimmer",
        "time_unit": time_unit,
        "n_patients": n_all,
        "n_without_study_line": n - n_all,
        "n_shown": len(rows),
        "max_patients": max_patients,
        "selection": selection,
        "categories": list(RESPONSE_ORDER),
        "patients": [{"row": r.pop("row"), **r} for r in rows],
    }


# --- lines-of-therapy flow ---------------------------------------------------------------------


def regimen_class(agents: str) -> str:
    """``PI + IMiD`` from ``bortezomib;lenalidomide;dexamethasone`` (steroids and supportive
    drugs left out; classes in the order of ``refractory_classes``; unknown agents: other)."""
    from mmrwe.derive.therapy import AGENT_CLASS, CLASS_ORDER

    found = {AGENT_CLASS.get(a.strip(), "other") for a in str(agents or "").split(";") if a.strip()}
    found -= _NOT_A_CLASS
    order = [*CLASS_ORDER[:-1], "SCT", "other"]
    out = [c for c in order if c in found]
    return " + ".join(out) if out else "steroid only"


def _line_label(regimen: Any, agents: Any, by: str) -> str:
    if by == "class":
        return regimen_class(str(agents or ""))
    name = (
        ""
        if regimen is None or (isinstance(regimen, float) and np.isnan(regimen))
        else str(regimen).strip()
    )
    if name:
        return name
    return " + ".join(a for a in str(agents or "").split(";") if a) or "unnamed regimen"


def therapy_flow_data(
    *,
    therapy: pd.DataFrame,
    day0: np.ndarray,
    death: np.ndarray,
    by: str = "regimen",
    start: str = "first_line",
    max_lines: int = 5,
) -> dict[str, Any]:
    """Regimens per line and the patients flowing between consecutive lines.

    Parameters
    ----------
    therapy : pandas.DataFrame
        ``pid``, ``start``, ``end``, ``line_eff``, ``regimen``, ``agents`` (``;``-joined
        generic names), one row per therapy row (rows without a line, supportive only, are
        left out).
    day0, death : numpy.ndarray
        Per patient position: start of the regimen under study and death (days; NaN).
    by : {"regimen", "class"}
        Nodes named by the first regimen of the line (as written in the therapy table), or by
        its drug classes (``PI + IMiD + anti-CD38``).
    start : {"first_line", "study_line"}
        First column: each patient's first line in the table, or the line of the regimen under
        study (then lines before it are left out).
    max_lines : int
        Lines shown; patients with more go to "Later lines".

    Returns
    -------
    dict
        ``columns`` [{label, nodes [{name, kind, n}]}] and ``flows`` [{column, source, target,
        n}] (``source`` indexes the nodes of ``column``, ``target`` those of ``column + 1``).
        ``kind``: ``regimen``, ``other`` (pooled beyond the most frequent
        ``FLOW_MAX_NODES - 1``), or a terminal state after the last line shown: ``later``,
        ``ongoing``, ``stopped``, ``death``.
    """
    t = therapy[therapy["line_eff"].notna()].sort_values(
        ["pid", "line_eff", "start"], kind="stable"
    )
    index = study_lines(therapy, day0)
    paths: list[tuple[list[str], str]] = []
    n_without = 0
    pids = sorted({int(p) for p in t["pid"]})
    groups = {int(p): g for p, g in t.groupby("pid", sort=True)}  # type: ignore[arg-type]
    for p in pids:
        g = groups[p]
        if start == "study_line":
            if p not in index:
                n_without += 1
                continue
            g = g[g["line_eff"] >= index[p]]
        seq: list[str] = []
        last_end_missing = False
        for _line, lg in g.groupby("line_eff", sort=True):
            first = lg.iloc[0]
            seq.append(_line_label(first.get("regimen"), first.get("agents"), by))
            last_end_missing = bool(lg["end"].isna().any())
        if not seq:
            n_without += 1
            continue
        if len(seq) > max_lines:
            terminal = "later"
        elif not np.isnan(death[p]):
            terminal = "death"
        elif last_end_missing:
            terminal = "ongoing"
        else:
            terminal = "stopped"
        paths.append((seq[:max_lines], terminal))
    n_cols = max((len(s) for s, _ in paths), default=0)
    # nodes per column: the most frequent regimens, "Other", then the terminal states
    keep: list[set[str]] = []
    for c in range(n_cols):
        counts = Counter(s[c] for s, _ in paths if len(s) > c)
        ranked = sorted(counts, key=lambda k: (-counts[k], k))
        keep.append(set(ranked if len(ranked) <= FLOW_MAX_NODES else ranked[: FLOW_MAX_NODES - 1]))

    def node(c: int, path: tuple[list[str], str]) -> tuple[str, str]:
        seq, terminal = path
        if c < len(seq):
            return ("regimen", seq[c]) if seq[c] in keep[c] else ("other", "Other")
        return terminal, dict(TERMINALS)[terminal]

    columns = []
    ids: list[dict[tuple[str, str], int]] = []
    for c in range(n_cols + 1):
        tally: Counter[tuple[str, str]] = Counter(node(c, pth) for pth in paths if len(pth[0]) >= c)
        order: list[tuple[str, str]] = sorted(
            (k for k in tally if k[0] == "regimen"), key=lambda k: (-tally[k], k[1])
        )
        order += [k for k in tally if k[0] == "other"]
        order += [k for kind, _ in TERMINALS for k in tally if k[0] == kind]
        ids.append({k: i for i, k in enumerate(order)})
        label = f"Line {c + 1}" if start == "first_line" else (
            "Study line" if c == 0 else f"Study line + {c}")  # fmt: skip
        if c == n_cols:
            label = "After the last line"
        columns.append(
            {"label": label, "nodes": [{"name": k[1], "kind": k[0], "n": tally[k]} for k in order]}
        )
    flows: Counter[tuple[int, int, int]] = Counter()
    for pth in paths:
        for c in range(len(pth[0])):
            flows[(c, ids[c][node(c, pth)], ids[c + 1][node(c + 1, pth)])] += 1
    return {
        "status": "ok",
        "reason": None,
        "spec_key": "[report] therapy_flow",
        "by": by,
        "start": start,
        "max_lines": max_lines,
        "n_patients": len(paths),
        "n_without_lines": n_without,
        "columns": columns,
        "flows": [
            {"column": c, "source": s, "target": d, "n": k}
            for (c, s, d), k in sorted(flows.items())
        ],
    }


def _or_empty(key: str, entry: dict[str, Any]) -> dict[str, Any]:
    """``entry``, or not estimable when it has nothing to draw (no patient with a line)."""
    if entry.get("n_patients"):
        return entry
    what = (
        "no patient has a therapy row starting on their start_date (the regimen under study)"
        if "swimmer" in key
        else "no patient has a line of therapy in the therapy table"
    )
    return _not(key, what)


# --- from a run --------------------------------------------------------------------------------


def therapy_figure_data(
    report: Any,
    *,
    has_therapy: bool,
    deriv: Any,
    patients: pd.DataFrame | None,
    progression_from_labs: bool,
    time_unit: str,
) -> dict[str, Any]:
    """results.json ``swimmer`` and ``therapy_flow`` entries for the switched-on figures."""
    out: dict[str, Any] = {}
    k = int(getattr(report, "small_cell_k", 0) or 0)
    therapy = None if deriv is None else getattr(deriv, "therapy", None)
    small = (
        f"small-cell suppression is on ([report] small_cell_k = {k}): a per-patient or "
        "per-count figure would show groups smaller than k"
    )
    no_therapy = (
        "no therapy table ([data] therapy): lines of therapy are not known"
        if not has_therapy
        else "the therapy table needs the lab table ([data] labs) to be read"
    )
    if report.swimmer:
        key = "[report] swimmer"
        if k > 0:
            out["swimmer"] = _not(key, small)
        elif therapy is None or patients is None:
            out["swimmer"] = _not(key, no_therapy)
        else:
            n = len(patients)
            per = deriv.per_patient
            prog = (
                per["progression_date"]
                if progression_from_labs
                else patients.get("progression_date")
            )
            out["swimmer"] = _or_empty(
                key,
                swimmer_data(
                    day0=_days(patients["start_date"], n),
                    death=_days(patients.get("death_date"), n),
                    last_followup=_days(patients.get("last_followup_date"), n),
                    progression=_days(prog, n),
                    therapy=therapy,
                    assessments=deriv.assessments,
                    best_response=list(per["best_response"]) if "best_response" in per else None,
                    time_unit=time_unit,
                    max_patients=report.swimmer_max_patients,
                ),
            )
    if report.therapy_flow:
        key = "[report] therapy_flow"
        if k > 0:
            out["therapy_flow"] = _not(key, small)
        elif therapy is None or patients is None:
            out["therapy_flow"] = _not(key, no_therapy)
        else:
            n = len(patients)
            out["therapy_flow"] = _or_empty(
                key,
                therapy_flow_data(
                    therapy=therapy,
                    day0=_days(patients["start_date"], n),
                    death=_days(patients.get("death_date"), n),
                    by=report.therapy_flow_by,
                    start=report.therapy_flow_start,
                    max_lines=report.therapy_flow_max_lines,
                ),
            )
    return out
