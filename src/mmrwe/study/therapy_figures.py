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
from collections.abc import Callable, Sequence
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


def _study_line_array(therapy: pd.DataFrame, day0: np.ndarray) -> np.ndarray:
    """Per patient position: line of the regimen under study (its row starts on day 0), NaN
    when no row starts on day 0."""
    t = therapy[therapy["line_eff"].notna()]
    pid = t["pid"].to_numpy(dtype=np.int64)
    line = t["line_eff"].to_numpy(dtype=np.float64)
    at0 = t["start"].to_numpy(dtype=np.float64) == day0[pid]
    out = np.full(len(day0), np.nan)
    np.fmin.at(out, pid[at0], line[at0])  # fmin: NaN (no line yet) gives way to a number
    return out


def study_lines(therapy: pd.DataFrame, day0: np.ndarray) -> dict[int, float]:
    """Patient (position) -> line number of the regimen under study (its row starts on day 0)."""
    a = _study_line_array(therapy, day0)
    return {int(p): float(a[p]) for p in np.flatnonzero(~np.isnan(a))}


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
    study = _study_line_array(therapy, day0)
    t = therapy[therapy["line_eff"].notna()]
    pid_t = t["pid"].to_numpy(dtype=np.int64)
    in_line = t["line_eff"].to_numpy(dtype=np.float64) == study[pid_t]
    end_t = t["end"].to_numpy(dtype=np.float64)[in_line]
    end = np.full(n, -np.inf)
    np.maximum.at(end, pid_t[in_line], np.where(np.isnan(end_t), np.inf, end_t))
    end[np.isinf(end)] = np.nan  # a row of the line without end: ongoing
    eligible = np.flatnonzero(~np.isnan(study))
    fu = (last_followup - day0) / per_unit
    on = np.where(np.isnan(end), fu, np.fmin((end - day0) / per_unit, fu))
    on = np.maximum(on, 0.0)
    # longest time on the regimen first, then longest follow-up, then input position
    e = eligible
    order = e[np.lexsort((e, -np.nan_to_num(fu[e]), -np.nan_to_num(on[e])))]
    n_all = len(order)
    if n_all > max_patients:
        keep = sorted({round(float(x)) for x in np.linspace(0, n_all - 1, max_patients)})
        order = order[keep]
        selection = (
            f"{len(order)} of {n_all} patients, evenly spaced in the order of time on the "
            "regimen (the longest and the shortest included)"
        )
    else:
        selection = "all patients"
    # response markers: the first assessment on or after day 0 and each change of category
    a_pid = np.zeros(0, dtype=np.int64)
    a_time = np.zeros(0)
    a_lvl = np.zeros(0, dtype=np.int64)
    if assessments is not None and len(assessments):
        a = assessments
        if "is_assess" in a.columns:
            a = a[a["is_assess"].astype(bool).to_numpy()]
        a = a[a["level"].notna().to_numpy()]
        ap = a["pid"].to_numpy(dtype=np.int64)
        ad = a["day"].to_numpy(dtype=np.float64)
        al = a["level"].to_numpy(dtype=np.float64).astype(np.int64)
        ok = (al >= 0) & (al < len(_IMWG_LEVELS)) & ~np.isnan(study[ap]) & (ad >= day0[ap])
        ap, ad, al = ap[ok], ad[ok], al[ok]
        srt = np.lexsort((ad, ap))
        ap, ad, al = ap[srt], ad[srt], al[srt]
        change = np.ones(len(ap), dtype=bool)
        change[1:] = (ap[1:] != ap[:-1]) | (al[1:] != al[:-1])
        a_pid, a_time, a_lvl = ap[change], (ad[change] - day0[ap[change]]) / per_unit, al[change]
    lo = np.searchsorted(a_pid, order, side="left")
    hi = np.searchsorted(a_pid, order, side="right")
    patients = []
    for row, (p, i0, i1) in enumerate(zip(order.tolist(), lo.tolist(), hi.tolist(), strict=True)):
        br = None if best_response is None else best_response[p]
        patients.append(
            {
                "row": row + 1,
                "time_on_treatment": _num(on[p]),
                "treatment_ongoing": bool(np.isnan(end[p]) and np.isnan(death[p])),
                "followup": _num(fu[p]),
                "progression": _num((progression[p] - day0[p]) / per_unit),
                "death": _num((death[p] - day0[p]) / per_unit),
                "best_response": None if br is None or pd.isna(br) or br == "" else str(br),
                "responses": [
                    {"time": float(a_time[j]), "response": _IMWG_LEVELS[int(a_lvl[j])]}
                    for j in range(i0, i1)
                ],
            }
        )
    return {
        "status": "ok",
        "reason": None,
        "spec_key": "[report] swimmer",
        "time_unit": time_unit,
        "n_patients": n_all,
        "n_without_study_line": n - n_all,
        "n_shown": len(patients),
        "max_patients": max_patients,
        "selection": selection,
        "categories": list(RESPONSE_ORDER),
        "patients": patients,
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
    t = t.assign(pid=t["pid"].astype(np.int64), line_eff=t["line_eff"].astype(np.float64))
    n_without = 0
    if start == "study_line":
        study = _study_line_array(therapy, day0)
        has = ~np.isnan(study[t["pid"].to_numpy()])
        n_without = int(t.loc[~has, "pid"].nunique())
        t = t[has & (t["line_eff"].to_numpy() >= study[t["pid"].to_numpy()])]
    # one row per line: its first regimen names it; a line is open when a row has no end
    open_line = t["end"].isna().groupby([t["pid"], t["line_eff"]], sort=True).any()
    first = t.drop_duplicates(["pid", "line_eff"], keep="first").copy()
    first["open"] = open_line.to_numpy()
    if by == "class":
        names = {a: regimen_class(str(a or "")) for a in pd.unique(first["agents"])}
        first["label"] = first["agents"].map(names)
    else:
        reg = first["regimen"] if "regimen" in first else pd.Series("", index=first.index)
        reg = reg.astype(object).where(reg.notna(), "").astype(str).str.strip()
        named = reg.astype(object)
        empty = (reg == "").to_numpy()
        if empty.any():  # no regimen name: the agents name the line
            named[empty] = [
                _line_label("", a, "regimen") for a in first["agents"].to_numpy()[empty]
            ]
        first["label"] = named
    first["k"] = first.groupby("pid").cumcount()
    per = first.groupby("pid", sort=True).agg(n_lines=("k", "size"), last_open=("open", "last"))
    pids = per.index.to_numpy(dtype=np.int64)
    n_lines_p = per["n_lines"].to_numpy(dtype=np.int64)
    terminal = np.where(
        n_lines_p > max_lines,
        "later",
        np.where(
            ~np.isnan(death[pids]),
            "death",
            np.where(per["last_open"].to_numpy(dtype=bool), "ongoing", "stopped"),
        ),
    )
    shown = np.minimum(n_lines_p, max_lines)
    n_cols = int(shown.max()) if len(shown) else 0
    grid = first[first["k"] < max_lines].pivot(index="pid", columns="k", values="label")
    grid = grid.reindex(index=pids, columns=range(n_cols))
    term_names = dict(TERMINALS)
    kinds: list[np.ndarray] = []
    names_c: list[np.ndarray] = []
    for c in range(n_cols + 1):
        kind = np.full(len(pids), "", dtype=object)
        name = np.full(len(pids), "", dtype=object)
        if c < n_cols:
            lab = grid[c].to_numpy(dtype=object)
            has = shown > c
            counts = pd.Series(lab[has]).value_counts()
            ranked = sorted(counts.index, key=lambda x: (-int(counts[x]), x))
            keep = set(ranked if len(ranked) <= FLOW_MAX_NODES else ranked[: FLOW_MAX_NODES - 1])
            pooled = pd.Series(lab).isin(keep).to_numpy(dtype=bool)
            kind[has] = np.where(pooled[has], "regimen", "other")
            name[has] = np.where(pooled[has], lab[has], "Other")
        end = shown == c
        kind[end] = terminal[end]
        name[end] = [term_names[x] for x in terminal[end]]
        kinds.append(kind)
        names_c.append(name)
    columns = []
    ids: list[dict[tuple[str, str], int]] = []
    for c in range(n_cols + 1):
        present = kinds[c] != ""
        sizes = (
            pd.DataFrame({"k": kinds[c][present], "n": names_c[c][present]}, dtype=object)
            .groupby(["k", "n"], sort=False)
            .size()
        )
        tally: Counter[tuple[str, str]] = Counter(
            {
                (str(key[0]), str(key[1])): int(v)
                for key, v in zip(sizes.index.tolist(), sizes.to_numpy().tolist(), strict=True)
            }
        )
        order: list[tuple[str, str]] = sorted(
            (k for k in tally if k[0] == "regimen"), key=lambda k: (-tally[k], k[1])
        )
        order += [k for k in tally if k[0] == "other"]
        order += [k for kind, _ in TERMINALS for k in tally if k[0] == kind]
        ids.append({k: i for i, k in enumerate(order)})
        if c == n_cols:
            label = "After the last line"
        elif start == "first_line":
            label = f"Line {c + 1}"
        else:
            label = "Study line" if c == 0 else f"Study line + {c}"
        columns.append(
            {"label": label, "nodes": [{"name": k[1], "kind": k[0], "n": tally[k]} for k in order]}
        )
    flows: Counter[tuple[int, int, int]] = Counter()
    for c in range(n_cols):
        moving = shown > c
        pairs = pd.DataFrame(
            {
                "k0": kinds[c][moving],
                "n0": names_c[c][moving],
                "k1": kinds[c + 1][moving],
                "n1": names_c[c + 1][moving],
            },
            dtype=object,
        )
        sizes = pairs.groupby(["k0", "n0", "k1", "n1"], sort=False).size()
        for key, b in zip(sizes.index.tolist(), sizes.to_numpy().tolist(), strict=True):
            k0, n0, k1, n1 = (str(x) for x in key)
            flows[(c, ids[c][(k0, n0)], ids[c + 1][(k1, n1)])] += int(b)
    return {
        "status": "ok",
        "reason": None,
        "spec_key": "[report] therapy_flow",
        "by": by,
        "start": start,
        "max_lines": max_lines,
        "n_patients": len(pids),
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
    guard: Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """results.json ``swimmer`` and ``therapy_flow`` entries for the switched-on figures.

    ``guard(spec_key, compute)``: the failure boundary each entry is computed in (the
    pipeline's: an error fails the figure, never the study); by default ``compute()``.
    """
    out: dict[str, Any] = {}
    run = guard or (lambda _key, compute: compute())
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
            out["swimmer"] = run(key, lambda: _not("[report] swimmer", small))
        elif therapy is None or patients is None:
            out["swimmer"] = run(key, lambda: _not("[report] swimmer", no_therapy))
        else:
            n = len(patients)
            per = deriv.per_patient
            prog = (
                per["progression_date"]
                if progression_from_labs
                else patients.get("progression_date")
            )
            out["swimmer"] = run(
                key,
                lambda: _or_empty(
                    "[report] swimmer",
                    swimmer_data(
                        day0=_days(patients["start_date"], n),
                        death=_days(patients.get("death_date"), n),
                        last_followup=_days(patients.get("last_followup_date"), n),
                        progression=_days(prog, n),
                        therapy=therapy,
                        assessments=deriv.assessments,
                        best_response=list(per["best_response"])
                        if "best_response" in per
                        else None,
                        time_unit=time_unit,
                        max_patients=report.swimmer_max_patients,
                    ),
                ),
            )
    if report.therapy_flow:
        key = "[report] therapy_flow"
        if k > 0:
            out["therapy_flow"] = run(key, lambda: _not("[report] therapy_flow", small))
        elif therapy is None or patients is None:
            out["therapy_flow"] = run(key, lambda: _not("[report] therapy_flow", no_therapy))
        else:
            n = len(patients)
            out["therapy_flow"] = run(
                key,
                lambda: _or_empty(
                    "[report] therapy_flow",
                    therapy_flow_data(
                        therapy=therapy,
                        day0=_days(patients["start_date"], n),
                        death=_days(patients.get("death_date"), n),
                        by=report.therapy_flow_by,
                        start=report.therapy_flow_start,
                        max_lines=report.therapy_flow_max_lines,
                    ),
                ),
            )
    return out
