"""Build the report's tables (TableModel) from a results tree; no statistic is computed here.

Every number in a value cell is a :class:`~mmrwe.tables.model.Ref` to results.json, rounded
for display only. Counts go through the small-cell rule (``report_options.small_cell_k``).
A section of results.json that is absent gives no table (or a shorter one), never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mmrwe.tables.format import DASH, NOT_AVAILABLE
from mmrwe.tables.model import Cell, Part, PathKey, Row, Source, TableModel, Text, hidden_paths

# --- cell helpers --------------------------------------------------------------------------


def label(*parts: Part, indent: int = 0, bold: bool = False, colspan: int = 1) -> Cell:
    return Cell(tuple(parts), role="label", indent=indent, bold=bold, align="left", colspan=colspan)


def value(*parts: Part, marks: Sequence[str] = (), colspan: int = 1, align: str = "right") -> Cell:
    return Cell(tuple(parts), role="value", marks=tuple(marks), colspan=colspan, align=align)  # type: ignore[arg-type]


def head(*parts: Part, colspan: int = 1, align: str = "right") -> Cell:
    return Cell(tuple(parts), role="header", colspan=colspan, align=align)  # type: ignore[arg-type]


EMPTY = Cell((), role="value")


def source_of(results: Mapping[str, Any]) -> Source:
    """A :class:`Source` with the small-cell threshold from ``report_options``."""
    k = int((results.get("report_options") or {}).get("small_cell_k") or 0)
    return Source(results, k, hidden_paths(results, k))


def var_label(src: Source, name: str) -> Text:
    """The variable's label from ``variables[name].label``, as the user wrote it; else its name.

    Labels keep their case everywhere (``ISS`` never becomes ``Iss``, ``pH`` never ``Ph``). A
    name without a label reads with spaces for underscores, and a name written in lower case
    gets a capital first letter (``fish_risk`` -> ``Fish risk``); any other name is kept.
    """
    if src.get("variables", name, "label"):
        return (src.ref("label", "variables", name, "label"),)
    text = str(name).replace("_", " ")
    if text == text.lower():
        text = text[:1].upper() + text[1:]
    return (text,)


# IMWG 2016 order, best first (docs/clinical.md 1.2): never alphabetical ("CR, MR, NE, PD, ...").
IMWG_ORDER = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE")


def level_order(src: Source, variable: str | None, levels: Sequence[Any]) -> list[int]:
    """Display order of ``levels`` (positions into it): the declared ``[variables.X] levels``
    when results.json carries them (``variables[X].levels``), else IMWG order for response
    categories, else the order given (the pipeline already sorts by the declared levels).
    Levels not declared keep their relative order after the declared ones."""
    names = [str(lv) for lv in levels]
    declared = (
        [str(x) for x in (src.get("variables", variable, "levels") or [])] if variable else []
    )
    if not declared and names and set(names) <= set(IMWG_ORDER):
        declared = list(IMWG_ORDER)
    if not declared:
        return list(range(len(names)))
    rank = {lv: i for i, lv in enumerate(declared)}
    return sorted(range(len(names)), key=lambda i: (rank.get(names[i], len(rank)), i))


def var_unit(src: Source, name: str) -> Text:
    """``(", ", unit)`` when the variable has a unit worth printing."""
    unit = src.get("variables", name, "unit")
    if unit and unit != "count":
        return (", ", src.ref("str", "variables", name, "unit"))
    return ()


def est_ci(
    src: Source,
    base: Sequence[PathKey],
    fmt: str,
    keys: Sequence[str] = ("estimate", "lower", "upper"),
) -> Text:
    """``est (lo–hi)`` from three keys under ``base``."""
    e, lo, hi = keys
    return (
        src.ref(fmt, *base, e),
        " (",
        src.ref(fmt, *base, lo),
        DASH,
        src.ref(fmt, *base, hi),
        ")",
    )


def count_pct(
    src: Source,
    count_path: Sequence[PathKey],
    pct_path: Sequence[PathKey] | None,
    pct_fmt: str = "pctv:1",
) -> Text:
    """``n (x.x%)``; a suppressed count shows only ``<k`` (its percent would reveal it)."""
    n = src.ref("count", *count_path)
    if pct_path is None or src.suppressed(*count_path) or src.get(*pct_path) is None:
        return (n,)
    return (n, " (", src.ref(pct_fmt, *pct_path), "%)")


def unit_singular(unit: str) -> str:
    return {"months": "month", "days": "day", "years": "year"}.get(unit, unit)


# --- patient flow ----------------------------------------------------------------------------


def flow_table(src: Source) -> TableModel | None:
    """STROBE item 13 / RECORD 13.1: received, excluded (with reasons), analysed, per center."""
    if not src.has("cohort"):
        return None
    t = TableModel("flow", ("Patient flow",)).with_header(
        [head("Stage", align="left"), head("Patients, n")]
    )
    received: Text = ("Records received",)
    if src.get("inputs", "patients", "file"):
        received += (" (", src.ref("str", "inputs", "patients", "file"), ")")
    if src.has("cohort", "n_input_rows"):
        t = t.with_row([label(*received), value(src.ref("count", "cohort", "n_input_rows"))])
    if src.has("cohort", "n_excluded"):
        t = t.with_row([label("Excluded"), value(src.ref("count", "cohort", "n_excluded"))])
        counts = src.get("cohort", "exclusion_counts")
        if isinstance(counts, Mapping):
            for reason in counts:
                t = t.with_row(
                    [
                        label(reason, indent=1),
                        value(src.ref("count", "cohort", "exclusion_counts", reason)),
                    ]
                )
        else:
            # Reasons only (patient ids stay in validation.json: a report may leave the
            # hospital); the first exclusion with each reason is the reference.
            seen: set[str] = set()
            for i, e in enumerate(src.get("cohort", "exclusions") or []):
                if str(e.get("reason")) in seen:
                    continue
                seen.add(str(e.get("reason")))
                t = t.with_row(
                    [label(src.ref("str", "cohort", "exclusions", i, "reason"), indent=1), EMPTY]
                )
    t = t.with_row([label("Analysed", bold=True), value(src.ref("count", "cohort", "n"))])
    centers = src.get("cohort", "centers") or {}
    if centers:
        t = t.with_row([label("Analysed, by center", colspan=2)], kind="subhead")
        for c in centers:
            t = t.with_row([label(c, indent=1), value(src.ref("count", "cohort", "centers", c))])
    return t


# --- Table 1 ----------------------------------------------------------------------------------


def _group_size_path(src: Source, g: str) -> tuple[PathKey, ...] | None:
    """Path of the size of group ``g``: ``table1.group_n`` if present, else ``n`` of a row
    where the group has no missing value (then n is the group size; no arithmetic)."""
    if src.get("table1", "group_n", g) is not None:
        return ("table1", "group_n", g)
    for i, row in enumerate(src.get("table1", "rows") or []):
        if (row.get("by") or {}).get(g, {}).get("missing") == 0:
            return ("table1", "rows", i, "by", g, "n")
    return None


def table1(src: Source) -> TableModel | None:
    """Baseline characteristics, overall and by ``table1.by``, with missing counts and tests."""
    rows = src.get("table1", "rows")
    if not rows:
        return None
    by = src.get("table1", "by")
    groups: list[str] = list(src.get("table1", "groups") or []) if by else []
    title: Text = ("Baseline characteristics",)
    if by:
        title += (", overall and by ", *var_label(src, by))
    t = TableModel("table1", title)
    ncol = 2 + len(groups) + (1 if by else 0)
    # header: spanner over the groups, then n per column
    if by:
        t = t.with_header(
            [
                head("Characteristic", align="left"),
                head("Overall"),
                head(*var_label(src, by), colspan=len(groups), align="center"),
                head("p"),
            ]
        )
    n_overall: Text = ("n = ", src.ref("count", "cohort", "n")) if src.has("cohort", "n") else ()
    second = [
        head("" if by else "Characteristic", align="left"),
        head(*n_overall)
        if by
        else head("Overall ", *(("(", *n_overall, ")") if n_overall else ())),
    ]
    for j, g in enumerate(groups):
        gp = _group_size_path(src, g)
        gparts: Text = (src.ref("level", "table1", "groups", j),)
        if gp is not None:
            gparts += (" (n = ", src.ref("count", *gp), ")")
        second.append(head(*gparts))
    if by:
        second.append(head(""))
    t = t.with_header(second)

    marks: dict[str, str] = {}
    mark_paths: dict[str, tuple[PathKey, ...]] = {}

    def test_cells(i: int, row: Mapping[str, Any]) -> list[Cell]:
        if not by:
            return []
        test = row.get("test")
        if not test:
            return [EMPTY]
        method = str(test.get("method"))
        if method not in marks:
            marks[method] = "abcdefghijklmnopqrstuvwxyz"[len(marks) % 26]
            mark_paths[method] = ("table1", "rows", i, "test", "method")
        return [value(src.ref("p", "table1", "rows", i, "test", "p"), marks=(marks[method],))]

    any_missing = False
    for i, row in enumerate(rows):
        name = row.get("variable")
        if by and name == by:
            continue  # the column variable itself would be a trivial row
        base = ("table1", "rows", i)
        groups_present = [g for g in groups if g in (row.get("by") or {})]
        if row.get("status") == "not_estimable":
            # refused under the small-cell rule (free text, codes): the reason, no counts
            t = t.with_row(
                [
                    label(
                        *var_label(src, name),
                        ": not described (",
                        src.ref("str", *base, "reason"),
                        ")",
                    ),
                    *([EMPTY] * (ncol - 1)),
                ]
            )
            continue
        if row.get("type") == "numeric":
            cells = [label(*var_label(src, name), *var_unit(src, name), ", median (IQR)")]
            cells.append(value(*_median_iqr(src, (*base, "overall"))))
            for g in groups:
                cells.append(
                    value(*_median_iqr(src, (*base, "by", g))) if g in groups_present else EMPTY
                )
            t = t.with_row(cells + test_cells(i, row))
        else:
            t = t.with_row(
                [
                    label(*var_label(src, name), bold=True),
                    *([EMPTY] * (1 + len(groups))),
                    *test_cells(i, row),
                ],
                kind="subhead",
            )
            row_levels = row.get("levels") or []
            for j in level_order(src, name, row_levels):
                lv = row_levels[j]
                cells = [label(src.ref("level", *base, "levels", j), indent=1)]
                cells.append(
                    value(
                        *count_pct(
                            src, (*base, "overall", "counts", lv), (*base, "overall", "percent", lv)
                        )
                    )
                )
                for g in groups:
                    cells.append(
                        value(
                            *count_pct(
                                src, (*base, "by", g, "counts", lv), (*base, "by", g, "percent", lv)
                            )
                        )
                        if g in groups_present
                        else EMPTY
                    )
                t = t.with_row(cells + ([EMPTY] if by else []))
        if _has_missing(row):
            any_missing = True
            cells = [label("Missing", indent=1)]
            cells.append(value(src.ref("count", *base, "overall", "missing")))
            for g in groups:
                cells.append(
                    value(src.ref("count", *base, "by", g, "missing"))
                    if g in groups_present
                    else EMPTY
                )
            t = t.with_row(cells + ([EMPTY] if by else []))
    assert sum(c.colspan for c in t.header[-1]) == ncol
    t = t.with_footnote(
        "Categorical variables: n (%), percentages of patients with a known value; continuous: median (interquartile range, R quantile type 7)."
        + ("" if any_missing else " No variable had missing values.")
        + (" A Missing row gives the patients without a value." if any_missing else "")
    )
    for method, m in marks.items():
        t = t.with_footnote(src.ref("str", *mark_paths[method]), ".", mark=m)
    if src.k:
        t = t.with_footnote(
            f"Counts from 1 to {src.k - 1} are shown as <{src.k} (small-cell rule)."
        )
    return t


def _has_missing(row: Mapping[str, Any]) -> bool:
    if (row.get("overall") or {}).get("missing"):
        return True
    return any((v or {}).get("missing") for v in (row.get("by") or {}).values())


def _median_iqr(src: Source, base: tuple[PathKey, ...]) -> Text:
    return (
        src.ref("num:1", *base, "median"),
        " (",
        src.ref("num:1", *base, "q1"),
        DASH,
        src.ref("num:1", *base, "q3"),
        ")",
    )


# --- response -----------------------------------------------------------------------------------


def response_table(src: Source) -> TableModel | None:
    """Best-response distribution (IMWG categories, NE included) and response rates."""
    resp = src.get("response")
    props = src.get("proportions") or []
    if not resp and not props:
        return None
    t = TableModel("response", ("Best response and response rates",)).with_header(
        [head("Response", align="left"), head("n (%)"), head("95% CI")]
    )
    if resp:
        sec: Text = (
            (*var_label(src, resp.get("variable") or "best_response"),)
            if resp.get("variable")
            else ("Best response",)
        )
        sec += (" (n = ", src.ref("count", "response", "n"), ")") if "n" in resp else ()
        t = t.with_row([label(*sec, bold=True, colspan=3)], kind="subhead")
        cats = resp.get("categories") or []
        for j in level_order(src, resp.get("variable"), cats):
            cat = cats[j]
            t = t.with_row(
                [
                    label(src.ref("level", "response", "categories", j), indent=1),
                    value(
                        *count_pct(src, ("response", "counts", cat), ("response", "percent", cat))
                    ),
                    EMPTY,
                ]
            )
        if resp.get("missing"):
            t = t.with_row(
                [label("Missing", indent=1), value(src.ref("count", "response", "missing")), EMPTY]
            )
    if props:
        t = t.with_row([label("Response rates", bold=True, colspan=3)], kind="subhead")
        for i in src.ok("proportions"):
            p = props[i]
            lab: Text = (src.ref("name", "proportions", i, "name"),)
            if p.get("success"):
                lab += (" (",)
                for j, _ in enumerate(p["success"]):
                    lab += ((", " if j else ""), src.ref("level", "proportions", i, "success", j))
                lab += (")",)
            n_cell: Text = (
                src.ref("count", "proportions", i, "successes"),
                "/",
                src.ref("count", "proportions", i, "n"),
            )
            if not src.suppressed("proportions", i, "successes"):
                n_cell += (" (", src.ref("pct:1", "proportions", i, "estimate"), "%)")
                ci: Text = (
                    src.ref("pct:1", "proportions", i, "lower"),
                    DASH,
                    src.ref("pct:1", "proportions", i, "upper"),
                )
            else:
                ci = ()
            t = t.with_row([label(*lab, indent=1), value(*n_cell), value(*ci)])
        t = t.with_footnote(
            "Response rates: responders / patients evaluated (%); confidence intervals: ",
            src.ref("method", "proportions", 0, "method"),
            ".",
        )
    if src.k:
        t = t.with_footnote(
            f"Counts from 1 to {src.k - 1} are shown as <{src.k} (small-cell rule)."
        )
    return t


def response_by_table(src: Source) -> TableModel | None:
    """Response by baseline factor: responders per level, odds ratio with CI and p."""
    all_comps = src.get("proportion_comparisons") or []
    ok = src.ok("proportion_comparisons")
    if not ok:
        return None
    comps = [all_comps[i] if i in ok else {} for i in range(len(all_comps))]
    have_n = all("n" in lv for c in comps for lv in (c.get("table") or {}).values())
    count_head = "Responders / evaluated, n (%)" if have_n else "Responders / non-responders, n"
    t = TableModel("response_by", ("Response by baseline factor",)).with_header(
        [head("Factor", align="left"), head(count_head), head("Odds ratio (95% CI)"), head("p")]
    )
    outcomes = list(dict.fromkeys(str(comps[i].get("outcome")) for i in ok))
    fisher_used = logistic_used = False
    for outcome in outcomes:
        first = next(i for i in ok if str(comps[i].get("outcome")) == outcome)
        t = t.with_row(
            [
                label(
                    src.ref("name", "proportion_comparisons", first, "outcome"),
                    bold=True,
                    colspan=4,
                )
            ],
            kind="subhead",
        )
        for i in ok:
            c = comps[i]
            if str(c.get("outcome")) != outcome:
                continue
            base = ("proportion_comparisons", i)
            table = c.get("table")
            est_key = "fisher" if c.get("fisher") else "logistic"
            fisher_used |= est_key == "fisher"
            logistic_used |= est_key == "logistic"
            or_parts: Text = ()
            if c.get(est_key) and c[est_key].get("odds_ratio") is not None:
                or_parts = est_ci(src, (*base, est_key), "num:2", ("odds_ratio", "lower", "upper"))
            p_parts: Text = (
                (src.ref("p", *base, est_key, "p"),) if c.get(est_key) and "p" in c[est_key] else ()
            )
            if not table:  # numeric factor: per-unit odds ratio
                t = t.with_row(
                    [
                        label(*var_label(src, c["by"]), " (per unit)", indent=1),
                        EMPTY,
                        value(*or_parts),
                        value(*p_parts),
                    ]
                )
                continue
            t = t.with_row(
                [label(*var_label(src, c["by"]), indent=1), EMPTY, EMPTY, value(*p_parts)]
            )
            levels = c.get("levels") or list(table)
            for j in level_order(src, c.get("by"), levels):
                lv = levels[j]
                lv_parts: Text = (
                    (src.ref("level", *base, "levels", j),) if c.get("levels") else (lv,)
                )
                if have_n:
                    cnt = count_pct(src, (*base, "table", lv, "success"), None)
                    cnt += ("/", src.ref("count", *base, "table", lv, "n"))
                    if "percent" in table[lv] and not src.suppressed(*base, "table", lv, "success"):
                        cnt += (" (", src.ref("pctv:1", *base, "table", lv, "percent"), "%)")
                else:
                    cnt = (
                        src.ref("count", *base, "table", lv, "success"),
                        " / ",
                        src.ref("count", *base, "table", lv, "failure"),
                    )
                is_ref = lv == c.get("reference")
                t = t.with_row(
                    [
                        label(*lv_parts, indent=2),
                        value(*cnt),
                        value("reference") if is_ref else value(*or_parts),
                        EMPTY,
                    ]
                )
    if fisher_used:
        t = t.with_footnote(
            "Odds ratio of response for each level against the reference level: conditional maximum-likelihood estimate with exact CI and two-sided Fisher exact p (R fisher.test)."
        )
    if logistic_used:
        t = t.with_footnote(
            "Per-unit odds ratios: logistic regression, profile-likelihood CI, Wald p."
        )
    if src.k:
        t = t.with_footnote(
            f"Counts from 1 to {src.k - 1} are shown as <{src.k} (small-cell rule)."
        )
    return t


# --- survival ------------------------------------------------------------------------------------


def _landmark_keys(src: Source) -> list[str]:
    keys: dict[str, float] = {}
    for ep in src.get("endpoints") or {}:
        for k in src.get("endpoints", ep, "landmarks") or {}:
            keys[k] = float(k)
    return sorted(keys, key=lambda k: keys[k])


#: Display order of the endpoints (results.json sorts keys).
ENDPOINT_ORDER = ("PFS", "OS", "TTP", "DoR", "TTNT", "PFS2")


def competing_counts(src: Source, *path: PathKey) -> Text:
    """ "N patients, E events, C competing events" of the entry at ``path`` (references)."""
    return (
        src.ref("count", *path, "n"),
        " patients, ",
        src.ref("count", *path, "events"),
        " events, ",
        src.ref("count", *path, "competing_events"),
        " competing events",
    )


def endpoint_order(src: Source) -> list[str]:
    """PFS, OS, TTP, DoR, TTNT, PFS2, then any other endpoint in name order."""
    eps = list(src.get("endpoints") or {})
    first = [e for e in ENDPOINT_ORDER if e in eps]
    return first + sorted(e for e in eps if e not in first)


def survival_table(src: Source) -> TableModel | None:
    """Survival summary per endpoint: events, median (95% CI), landmark rates, follow-up."""
    eps = [ep for ep in endpoint_order(src) if src.get("endpoints", ep, "status") in (None, "ok")]
    if not eps:
        return None
    unit = str(src.get("conventions", "time_unit") or "")
    t = TableModel("survival", ("Survival summary",)).with_header(
        [head("", align="left"), *(head(ep) for ep in eps)]
    )

    def row(lab: Text, make: Any, kind: str = "data") -> None:
        nonlocal t
        cells = [label(*lab)]
        for ep in eps:
            cells.append(value(*make(ep)))
        t = t.with_row(cells)

    row(("Patients, n",), lambda ep: (src.ref("count", "endpoints", ep, "n"),))
    row(("Events, n",), lambda ep: (src.ref("count", "endpoints", ep, "events"),))
    row(
        ("Censored, n",),
        lambda ep: (
            (src.ref("count", "endpoints", ep, "censored"),)
            if src.has("endpoints", ep, "censored")
            else ()
        ),
    )
    row(
        (f"Median, {unit} (95% CI)",),
        lambda ep: est_ci(src, ("endpoints", ep, "median"), "num:1:NR"),
    )
    if any(src.get("endpoints", ep, "median_symmetric") for ep in eps):
        row(
            (f"Median, {unit} (95% CI as median \u00b1 1.96 SE)",),
            lambda ep: (
                est_ci(src, ("endpoints", ep, "median_symmetric"), "num:1:NR")
                if src.get("endpoints", ep, "median_symmetric")
                else ()
            ),
        )
    for key in _landmark_keys(src):
        row(
            (f"{key}-{unit_singular(unit)} rate, % (95% CI)",),
            lambda ep, key=key: (
                est_ci(
                    src, ("endpoints", ep, "landmarks", key), "pct:1", ("surv", "lower", "upper")
                )
                if src.has("endpoints", ep, "landmarks", key)
                else ()
            ),
        )
        row(
            (f"At risk at {key} {unit}, n",),
            lambda ep, key=key: (
                (src.ref("count", "endpoints", ep, "landmarks", key, "n_risk"),)
                if src.has("endpoints", ep, "landmarks", key, "n_risk")
                else ()
            ),
        )
    if any(src.get("endpoints", ep, "followup") for ep in eps):
        row(
            (f"Median follow-up, {unit} (95% CI)",),
            lambda ep: (
                est_ci(src, ("endpoints", ep, "followup"), "num:1:NR")
                if src.get("endpoints", ep, "followup")
                else ()
            ),
        )
    first = eps[0]
    fn: Text = ("Kaplan-Meier estimates; pointwise CIs with the ",)
    if src.has("conventions", "km_conf_type"):
        fn += (src.ref("str", "conventions", "km_conf_type"), " transform")
    if src.has("endpoints", first, "median", "method"):
        fn += ("; median CI: ", src.ref("str", "endpoints", first, "median", "method"))
    if src.has("endpoints", first, "followup", "method"):
        fn += ("; follow-up: ", src.ref("str", "endpoints", first, "followup", "method"))
    fn += (". NR, not reached. Landmark rate: S(t) at the last event time \u2264 t.",)
    t = t.with_footnote(*fn)
    defs: Text = ()
    if src.has("conventions", "pfs_definition") and "PFS" in eps:
        defs += (
            "PFS, progression-free survival: ",
            src.ref("str", "conventions", "pfs_definition"),
            ". ",
        )
    if src.has("conventions", "os_definition") and "OS" in eps:
        defs += ("OS, overall survival: ", src.ref("str", "conventions", "os_definition"), ".")
    if defs:
        t = t.with_footnote(*defs)
    return t


def logrank_table(src: Source) -> TableModel | None:
    """Survival by group: n, events and median per level (order of ``levels``), log-rank p."""
    entries = src.get("logrank") or []
    if not entries:
        return None
    unit = str(src.get("conventions", "time_unit") or "")
    t = TableModel("logrank", ("Survival by group",)).with_header(
        [
            head("Endpoint, factor and group", align="left"),
            head("Patients, n"),
            head("Events, n"),
            head(f"Median, {unit} (95% CI)"),
            head("Log-rank p"),
        ]
    )
    any_strat = False
    for i in src.ok("logrank"):
        lr = entries[i]
        base = ("logrank", i)
        sec: Text = (src.ref("str", *base, "endpoint"), ": ", *var_label(src, lr["by"]))
        if lr.get("strata"):
            any_strat = True
            sec += (" (stratified by ", *var_label(src, lr["strata"]), ")")
        if src.has(*base, "trend", "p"):
            sec += ("; test for trend p ", src.ref("p", *base, "trend", "p"))
        p_cell = value(src.ref("p", *base, "p")) if src.has(*base, "p") else EMPTY
        t = t.with_row([label(*sec, bold=True), EMPTY, EMPTY, EMPTY, p_cell], kind="subhead")
        levels = lr.get("levels") or lr.get("groups") or []
        key = "levels" if lr.get("levels") else "groups"
        for j in level_order(src, lr.get("by"), levels):
            g = levels[j]
            med: Text = ()
            if src.has(*base, "curves", g, "median"):
                med = est_ci(src, (*base, "curves", g, "median"), "num:1:NR")
            t = t.with_row(
                [
                    label(src.ref("level", *base, key, j), indent=1),
                    value(src.ref("count", *base, "n", g)) if src.has(*base, "n", g) else EMPTY,
                    value(src.ref("count", *base, "observed", g))
                    if src.has(*base, "observed", g)
                    else EMPTY,
                    value(*med),
                    EMPTY,
                ]
            )
        if lr.get("note"):
            t = t.with_footnote(*sec, ": ", src.ref("str", *base, "note"))
    t = t.with_footnote(
        "Two-sided log-rank test (R survdiff, rho = 0); Kaplan-Meier medians. NR, not reached."
    )
    if any_strat:
        t = t.with_footnote(
            "Stratified tests sum the log-rank statistics over strata; medians are unstratified."
        )
    return t


# --- Cox -------------------------------------------------------------------------------------------


def cox_table(src: Source) -> TableModel | None:
    """All Cox models: HR (95% CI), p and PH-test p per term; n per level for factors.

    Rows carry ``plot`` numbers (hr, lower, upper) so the forest plot draws exactly this table.
    """
    models = src.get("cox") or []
    ok = src.ok("cox")
    if not ok:
        return None
    t = TableModel("cox", ("Cox proportional-hazards models",)).with_header(
        [
            head("Model and variable", align="left"),
            head("Patients, n"),
            head("HR (95% CI)"),
            head("p"),
            head("PH test p"),
            head("E-value (CI)"),
        ]
    )
    term_marks: dict[str, str] = {}
    term_mark_paths: dict[str, tuple[PathKey, ...]] = {}
    for i in ok:
        m = models[i]
        base = ("cox", i)
        kind = "univariable" if len(m.get("terms") or []) == 1 else "multivariable"
        sec: Text = (
            f"Model {i + 1}: ",
            src.ref("str", *base, "endpoint"),
            f", {kind} (",
            src.ref("count", *base, "n"),
            " patients, ",
            src.ref("count", *base, "events"),
            " events",
        )
        if m.get("n_excluded_missing"):
            sec += (
                "; ",
                src.ref("count", *base, "n_excluded_missing"),
                " excluded for missing values",
            )
        if m.get("strata"):
            sec += ("; stratified by ", src.ref("str", *base, "strata"))
        sec += (")",)
        t = t.with_row([label(*sec, bold=True, colspan=6)], kind="section")
        info = m.get("term_info") or {}
        coefs = m.get("coefficients") or {}
        for term in m.get("terms") or []:
            ti = info.get(term) or {}
            ph: Text = ()
            if src.has(*base, "ph_test", "terms", term, "p"):
                ph = (src.ref("p", *base, "ph_test", "terms", term, "p"),)
            if ti.get("type") == "categorical":
                lvls = ti.get("levels") or []
                overall: Cell = EMPTY
                # one overall p for a factor of three or more levels (R anova / car::Anova);
                # with two levels it is the level's own p, printed on the level's row
                if len(lvls) >= 3 and src.get(*base, "term_tests", term, "p") is not None:
                    mark = term_marks.setdefault(
                        str(src.get(*base, "term_tests", term, "test")),
                        "abcdefghijklmnopqrstuvwxyz"[len(term_marks) % 26],
                    )
                    term_mark_paths.setdefault(mark, (*base, "term_tests", term, "test"))
                    overall = value(src.ref("p", *base, "term_tests", term, "p"), marks=(mark,))
                t = t.with_row(
                    [label(*var_label(src, term), indent=1), EMPTY, EMPTY, overall, value(*ph),
                     EMPTY],
                    kind="subhead",
                )  # fmt: skip
                for j in level_order(src, term, lvls):
                    lv = lvls[j]
                    n_parts: Text = (
                        (src.ref("count", *base, "term_info", term, "n_per_level", lv),)
                        if lv in (ti.get("n_per_level") or {})
                        else ()
                    )
                    lab = label(src.ref("level", *base, "term_info", term, "levels", j), indent=2)
                    if lv == ti.get("reference"):
                        t = t.with_row(
                            [lab, value(*n_parts), value("reference"), EMPTY, EMPTY, EMPTY],
                            plot={"reference": 1.0},
                        )
                        continue
                    key = f"{term}={lv}"
                    t = t.with_row(
                        [lab, value(*n_parts), *_hr_cells(src, base, key, coefs.get(key)), EMPTY,
                         _evalue_cell(src, base, key, coefs.get(key))],
                        plot=_plot(coefs.get(key)),
                    )  # fmt: skip
            else:
                key = term
                lab_parts: Text = (*var_label(src, term),)
                if src.get("variables", term, "unit") or ti.get("unit"):
                    unit_path = (
                        ("variables", term, "unit")
                        if src.get("variables", term, "unit")
                        else (*base, "term_info", term, "unit")
                    )
                    lab_parts += (" (per ", src.ref("unit1", *unit_path), ")")
                else:
                    lab_parts += (" (per unit)",)
                t = t.with_row(
                    [
                        label(*lab_parts, indent=1),
                        value(src.ref("count", *base, "n")),
                        *_hr_cells(src, base, key, coefs.get(key)),
                        value(*ph),
                        _evalue_cell(src, base, key, coefs.get(key)),
                    ],
                    plot=_plot(coefs.get(key)),
                )
    # model-level statistics
    for i in ok:
        m = models[i]
        base = ("cox", i)
        fn: Text = (f"Model {i + 1}: ",)
        bits: list[Text] = []
        if src.has(*base, "tests", "lr", "p"):
            bits.append(("likelihood-ratio test p ", src.ref("p", *base, "tests", "lr", "p")))
        if m.get("concordance") is not None:
            bits.append(("concordance ", src.ref("num:2", *base, "concordance")))
        if src.has(*base, "ph_test", "global", "p"):
            bits.append(("global PH test p ", src.ref("p", *base, "ph_test", "global", "p")))
        for j, b in enumerate(bits):
            fn += (("; " if j else ""), *b)
        if m.get("firth"):
            fn += ("; Firth-penalized estimates: ",)
            for j, (name, c) in enumerate((m["firth"].get("coefficients") or {}).items()):
                if c:
                    fn += (
                        ("; " if j else ""),
                        name,
                        " HR ",
                        *est_ci(
                            src,
                            (*base, "firth", "coefficients", name),
                            "num:2",
                            ("hr", "lower", "upper"),
                        ),
                    )
        for j, _ in enumerate(m.get("warnings") or []):
            fn += ("; warning: ", src.ref("str", *base, "warnings", j))
        t = t.with_footnote(*fn, ".")
    ties = src.get("conventions", "cox_ties")
    fn2: Text = ("HR, hazard ratio with Wald 95% CI and Wald p",)
    if ties:
        fn2 += ("; ties: ", src.ref("method", "conventions", "cox_ties"))
    if src.has("conventions", "ph_transform"):
        fn2 += (
            "; PH, proportional hazards (Grambsch-Therneau score test, ",
            src.ref("method", "conventions", "ph_transform"),
            " transform)",
        )
    t = t.with_footnote(*fn2, ". Continuous variables: HR per unit increase.")
    ev = next(
        (("cox", i) for i in ok if (models[i].get("evalue_outcome") or {}).get("source")), None
    )
    if ev is not None:
        t = t.with_footnote(
            "E-value: the minimum risk ratio an unmeasured confounder would need with both the "
            "variable and the outcome to explain the HR away (in parentheses: its confidence "
            "limit nearer to no effect; 1 when the interval includes no effect); the HR is "
            "converted for a common outcome unless the outcome is rare (",
            src.ref("str", *ev, "evalue_outcome", "source"),
            ").",
        )
    for mark, path in term_mark_paths.items():
        t = t.with_footnote(
            "Overall p of the factor (all its levels together): ",
            src.ref("method", *path),
            ".",
            mark=mark,
        )
    return t


def _hr_cells(
    src: Source, base: tuple[PathKey, ...], key: str, c: Mapping[str, Any] | None
) -> list[Cell]:
    if not c:
        return [value("not estimable"), EMPTY]
    return [
        value(*est_ci(src, (*base, "coefficients", key), "num:2", ("hr", "lower", "upper"))),
        value(src.ref("p", *base, "coefficients", key, "p")),
    ]


def _evalue_cell(
    src: Source, base: tuple[PathKey, ...], key: str, c: Mapping[str, Any] | None
) -> Cell:
    if not c or not c.get("evalue"):
        return EMPTY
    ev = (*base, "coefficients", key, "evalue")
    return value(src.ref("num:2", *ev, "point"), " (", src.ref("num:2", *ev, "ci"), ")")


def _plot(c: Mapping[str, Any] | None) -> dict[str, float | None]:
    if not c:
        return {}
    return {"hr": c.get("hr"), "lower": c.get("lower"), "upper": c.get("upper")}


# --- cut-offs --------------------------------------------------------------------------------------

_METHOD = {"maxstat": "maximally selected log-rank", "youden": "Youden index (ROC)"}


def cutpoint_label(src: Source, i: int) -> Text:
    c = src.get("cutpoints", i) or {}
    outcome_key = "endpoint" if c.get("endpoint") else "proportion"
    return (
        src.ref("str", "cutpoints", i, outcome_key),
        " \u00b7 ",
        _METHOD.get(str(c.get("method")), str(c.get("method"))),
    )


def cutpoint_table(src: Source) -> TableModel | None:
    """Data-driven cut-offs: the cut, groups, p adjusted for the search, bootstrap interval of
    the cut, apparent and optimism-corrected HR, and the plain-language summary."""
    all_cuts = src.get("cutpoints") or []
    ok = src.ok("cutpoints")
    if not ok:
        return None
    cuts = {i: all_cuts[i] for i in ok}
    t = TableModel("cutpoints", ("Cut-offs chosen from the data",)).with_header(
        [head("", align="left"), *(head(*cutpoint_label(src, i)) for i in ok)]
    )

    def row(lab: Text, make: Any) -> None:
        nonlocal t
        cells = [label(*lab)]
        made = [make(i, c) for i, c in cuts.items()]
        if not any(made):
            return
        cells += [value(*m) for m in made]
        t = t.with_row(cells)

    def has(c: Mapping[str, Any], *path: str) -> bool:
        node: Any = c
        for p in path:
            if not isinstance(node, Mapping) or node.get(p) is None:
                return False
            node = node[p]
        return True

    row(
        ("Variable",),
        lambda i, c: (
            (*var_label(src, c["variable"]),)
            + ((" (", src.ref("str", "cutpoints", i, "unit"), ")") if c.get("unit") else ())
        ),
    )
    row(("Cut-off",), lambda i, c: (src.ref("g", "cutpoints", i, "cutpoint"),))
    row(
        ("Groups compared",),
        lambda i, c: (
            ("low (x \u2264 cut-off) vs high",)
            if c.get("method") == "maxstat"
            else (
                (
                    "predicted event (x ",
                    src.ref("level", "cutpoints", i, "direction"),
                    " cut-off) vs not",
                )
                if c.get("direction")
                else ()
            )
        ),
    )
    row(
        ("Patients low / high, n",),
        lambda i, c: (
            (
                src.ref("count", "cutpoints", i, "n_low"),
                " / ",
                src.ref("count", "cutpoints", i, "n_high"),
            )
            if has(c, "n_low")
            else ()
        ),
    )
    row(
        ("Events low / high, n",),
        lambda i, c: (
            (
                src.ref("count", "cutpoints", i, "events_low"),
                " / ",
                src.ref("count", "cutpoints", i, "events_high"),
            )
            if has(c, "events_low")
            else ()
        ),
    )
    unit = str(src.get("conventions", "time_unit") or "")
    row(
        (f"Median low, {unit} (95% CI)",),
        lambda i, c: (
            est_ci(src, ("cutpoints", i, "median_low"), "num:1:NR") if has(c, "median_low") else ()
        ),
    )
    row(
        (f"Median high, {unit} (95% CI)",),
        lambda i, c: (
            est_ci(src, ("cutpoints", i, "median_high"), "num:1:NR")
            if has(c, "median_high")
            else ()
        ),
    )
    row(
        ("Maximal standardized statistic",),
        lambda i, c: (
            (src.ref("num:2", "cutpoints", i, "statistic"),) if has(c, "statistic") else ()
        ),
    )
    # p adjusted for the search: the method (long, e.g. "permutation of the maximal Youden
    # index (conditional Monte Carlo)") goes to a footnote, marked by a letter
    p_marks: dict[str, str] = {}
    p_cells: list[Cell] = []
    for i, c in cuts.items():
        if not has(c, "p_adjusted"):
            p_cells.append(EMPTY)
            continue
        method = str(c.get("p_adjusted_method") or "")
        mark = (
            p_marks.setdefault(method, "abcdefghijklmnopqrstuvwxyz"[len(p_marks) % 26])
            if method
            else None
        )
        p_cells.append(
            value(src.ref("p", "cutpoints", i, "p_adjusted"), marks=(mark,) if mark else ())
        )
    if any(c is not EMPTY for c in p_cells):
        t = t.with_row([label("p adjusted for the search"), *p_cells])
    row(
        ("Sensitivity / specificity, %",),
        lambda i, c: (
            (
                src.ref("pct:1", "cutpoints", i, "sensitivity"),
                " / ",
                src.ref("pct:1", "cutpoints", i, "specificity"),
            )
            if has(c, "sensitivity")
            else ()
        ),
    )
    row(
        ("AUC (95% CI)",),
        lambda i, c: (
            est_ci(src, ("cutpoints", i), "num:2", ("auc", "auc_lower", "auc_upper"))
            if has(c, "auc") and "auc_lower" in c
            else ((src.ref("num:2", "cutpoints", i, "auc"),) if has(c, "auc") else ())
        ),
    )
    row(
        ("Bootstrap 95% interval of the cut-off",),
        lambda i, c: (
            (
                src.ref("g", "cutpoints", i, "bootstrap", "lower"),
                DASH,
                src.ref("g", "cutpoints", i, "bootstrap", "upper"),
                " (B = ",
                src.ref("int", "cutpoints", i, "bootstrap", "B"),
                ")",
            )
            if has(c, "bootstrap", "lower")
            else ()
        ),
    )
    row(
        ("HR between the groups (95% CI), apparent",),
        lambda i, c: (
            est_ci(src, ("cutpoints", i, "hr_low_vs_high"), "num:2", ("hr", "lower", "upper"))
            if has(c, "hr_low_vs_high", "hr")
            else (
                est_ci(
                    src, ("cutpoints", i, "hr_predicted_event"), "num:2", ("hr", "lower", "upper")
                )
                if has(c, "hr_predicted_event", "hr")
                else ()
            )
        ),
    )
    row(
        ("HR, optimism-corrected",),
        lambda i, c: (
            (src.ref("num:2", "cutpoints", i, "optimism", "corrected_hr"),)
            if has(c, "optimism", "corrected_hr")
            else ()
        ),
    )
    row(
        ("HR out of bag, bootstrap mean (95% percentile interval)",),
        lambda i, c: (
            est_ci(
                src, ("cutpoints", i, "bootstrap"), "num:2", ("oob_hr", "oob_lower", "oob_upper")
            )
            if has(c, "bootstrap", "oob_hr")
            else ()
        ),
    )
    row(
        ("Continuous HR per SD (95% CI)",),
        lambda i, c: (
            est_ci(src, ("cutpoints", i, "continuous", "per_sd"), "num:2", ("hr", "lower", "upper"))
            if has(c, "continuous", "per_sd", "hr")
            else ()
        ),
    )
    for method, mark in p_marks.items():
        i = next(j for j, c in cuts.items() if str(c.get("p_adjusted_method") or "") == method)
        t = t.with_footnote(
            "p adjusted for the search: ",
            src.ref("str", "cutpoints", i, "p_adjusted_method"),
            ".",
            mark=mark,
        )
    for i, c in cuts.items():
        key = "summary" if c.get("summary") else ("sentence" if c.get("sentence") else None)
        if key:
            t = t.with_footnote(
                *cutpoint_label(src, i), ": ", src.ref("str", "cutpoints", i, key), "."
            )
    t = t.with_footnote(
        "A cut-off chosen on the same patients overstates the difference between the groups: "
        "the apparent HR is optimistic; the p value is adjusted for the search over candidate cut-offs, "
        "the optimism-corrected HR subtracts the bootstrap optimism (Harrell), and the out-of-bag HR applies "
        "each bootstrap sample's cut-off to the patients left out of it."
    )
    return t


# --- landmark rates by group ------------------------------------------------------------------


def landmark_by_group_table(src: Source) -> TableModel | None:
    """Kaplan-Meier rates at the landmarks for every group of every log-rank entry
    (``logrank[i].curves[level].landmarks``: S(t) and the number at risk)."""
    entries = src.get("logrank") or []
    keys: dict[str, float] = {}
    for lr in entries:
        for c in (lr.get("curves") or {}).values():
            for k in c.get("landmarks") or {}:
                keys[k] = float(k)
    if not keys:
        return None
    lms = sorted(keys, key=lambda k: keys[k])
    unit = str(src.get("conventions", "time_unit") or "")
    t = TableModel("landmarks_by_group", ("Landmark survival by group",)).with_header(
        [
            head("Endpoint, factor and group", align="left"),
            *(head(f"{k} {unit_singular(unit) if keys[k] == 1 else unit}") for k in lms),
        ]
    )
    any_null = False
    for i in src.ok("logrank"):
        lr = entries[i]
        curves = lr.get("curves") or {}
        if not curves:
            continue
        base = ("logrank", i)
        sec: Text = (src.ref("str", *base, "endpoint"), ": ", *var_label(src, lr["by"]))
        t = t.with_row([label(*sec, bold=True), *([EMPTY] * len(lms))], kind="subhead")
        levels = lr.get("levels") or lr.get("groups") or list(curves)
        key = "levels" if lr.get("levels") else "groups"
        for j in level_order(src, lr.get("by"), levels):
            g = levels[j]
            cells = [label(src.ref("level", *base, key, j), indent=1)]
            for k in lms:
                lm = (*base, "curves", g, "landmarks", k)
                if not src.has(*lm):
                    cells.append(EMPTY)
                    continue
                if src.get(*lm, "surv") is None:
                    any_null = True
                parts: Text = (src.ref("pct:1", *lm, "surv"),)
                if src.has(*lm, "n_risk"):
                    parts += (" (", src.ref("count", *lm, "n_risk"), ")")
                cells.append(value(*parts))
            t = t.with_row(cells)
    t = t.with_footnote(
        "Kaplan-Meier estimate S(t), % (patients at risk at t); S(t) is the value at the last "
        "event time \u2264 t."
    )
    if any_null:
        t = t.with_footnote(
            f"{NOT_AVAILABLE}, not estimable: no patient of the group was followed to t."
        )
    return t


# --- response and survival without immortal time -------------------------------------------


def landmark_analysis_table(src: Source) -> TableModel | None:
    """Survival from the landmark by response reached by then (``landmark_analysis[]``)."""
    entries = src.get("landmark_analysis") or []
    ok = src.ok("landmark_analysis")
    if not ok:
        return None
    unit = str(src.get("conventions", "time_unit") or "")
    t = TableModel("landmark_analysis", ("Landmark analysis by response",)).with_header(
        [
            head("Endpoint and response at the landmark", align="left"),
            head("Patients, n"),
            head("Events, n"),
            head(f"Median from the landmark, {unit} (95% CI)"),
            head("Log-rank p"),
        ]
    )
    for i in ok:
        e = entries[i]
        base = ("landmark_analysis", i)
        sec: Text = (
            src.ref("str", *base, "endpoint"),
            ", patients event-free at ",
            src.ref("g", *base, "landmark"),
            f" {unit} (",
            src.ref("count", *base, "n_at_landmark"),
            ")",
        )
        p_cell = (
            value(src.ref("p", *base, "logrank", "p")) if src.has(*base, "logrank", "p") else EMPTY
        )
        t = t.with_row([label(*sec, bold=True), EMPTY, EMPTY, EMPTY, p_cell], kind="subhead")
        for j, g in enumerate(e.get("levels") or []):
            t = t.with_row(
                [
                    label(src.ref("level", *base, "levels", j), indent=1),
                    value(src.ref("count", *base, "n_per_group", g)),
                    value(src.ref("count", *base, "events", g)),
                    value(*est_ci(src, (*base, "curves", g, "median"), "num:1:NR")),
                    EMPTY,
                ]
            )
    return t.with_footnote(
        "Patients alive and free of the endpoint's event at the landmark, grouped by a first "
        "documented partial response or better on or before it (responder) or not, and "
        "followed from the landmark (Anderson, Cain and Gelber 1983): no patient is credited "
        "with the time before the response. Kaplan-Meier medians; two-sided log-rank test. "
        "NR, not reached."
    )


def tv_cox_table(src: Source) -> TableModel | None:
    """Cox models with time-varying covariates (``tv_cox[]``): HR (95% CI) and p per term."""
    entries = src.get("tv_cox") or []
    ok = src.ok("tv_cox")
    if not ok:
        return None
    t = TableModel("tv_cox", ("Cox models with response as a time-varying covariate",))
    t = t.with_header([head("Model and variable", align="left"), head("HR (95% CI)"), head("p")])
    for i in ok:
        e = entries[i]
        base = ("tv_cox", i)
        sec: Text = (
            f"Model {i + 1}: ",
            src.ref("str", *base, "endpoint"),
            " (",
            src.ref("count", *base, "n_patients"),
            " patients, ",
            src.ref("count", *base, "events"),
            " events)",
        )
        t = t.with_row([label(*sec, bold=True), EMPTY, EMPTY], kind="subhead")
        for name in [*(e.get("time_varying") or []), *sorted(
            n for n in (e.get("coefficients") or {}) if n not in (e.get("time_varying") or [])
        )]:  # fmt: skip
            c = (*base, "coefficients", name)
            if not src.has(*c):
                continue
            lab: Text = (
                ("Response (PR or better reached), time-varying",)
                if name == "response"
                else (*var_label(src, name.split("=")[0]), *(
                    (" ", name.split("=", 1)[1]) if "=" in name else ()))
            )  # fmt: skip
            t = t.with_row(
                [
                    label(*lab, indent=1),
                    value(*est_ci(src, c, "num:2", ("hr", "lower", "upper"))),
                    value(src.ref("p", *c, "p")),
                ]
            )
    return t.with_footnote(
        "Each patient's follow-up is split at the date the covariate switches on (0 before, 1 "
        "from then on; R tmerge); Cox model on the (start, stop] intervals with robust "
        "variance clustered by patient (R coxph with cluster = id). Unlike a comparison by best "
        "response, no patient is credited with the time before the response."
    )


def agreement_table(src: Source) -> TableModel | None:
    """Derived vs recorded best response: Cohen's kappa (``response_derivation.agreement``)."""
    ag = src.get("response_derivation", "agreement")
    if not ag:
        return None
    rows = [
        ("orr", "Partial response or better (yes/no)"),
        ("depth", "Best response category (8 categories, unweighted)"),
        ("depth_weighted", "Best response category (ordered, quadratic weights)"),
    ]
    if not any((ag.get(k) or {}).get("status") == "ok" for k, _ in rows):
        return None
    t = TableModel(
        "response_agreement", ("Agreement of the derived with the recorded best response",)
    ).with_header(
        [
            head("Comparison", align="left"),
            head("Patients, n"),
            head("Agreement, %"),
            head("Cohen's kappa (95% CI)"),
        ]
    )
    for key, text in rows:
        base = ("response_derivation", "agreement", key)
        if src.get(*base, "status") != "ok":
            continue
        t = t.with_row(
            [
                label(text),
                value(src.ref("count", *base, "n")),
                value(src.ref("pct:1", *base, "observed_agreement")),
                value(*est_ci(src, base, "num:2", ("kappa", "lower", "upper"))),
            ]
        )
    return t.with_footnote(
        "Best response derived from the laboratory table by rule against the response recorded "
        "by the sites; patients without a recorded response are left out. Kappa with the "
        "large-sample variance of Fleiss, Cohen and Everitt (R psych::cohen.kappa); the "
        "ordered comparison leaves out patients not evaluable (NE)."
    )


# --- subgroups (contract 5.4) -----------------------------------------------------------------


def _interactions(entry: Mapping[str, Any]) -> dict[str, int | None]:
    """``by`` -> position in ``interaction`` (a list of tests, one test, or a map by ``by``)."""
    inter = entry.get("interaction")
    if isinstance(inter, list):
        return {str(x.get("by")): j for j, x in enumerate(inter) if isinstance(x, Mapping)}
    return {}


def interaction_path(
    entry: Mapping[str, Any], base: tuple[PathKey, ...], by: str
) -> tuple[PathKey, ...] | None:
    inter = entry.get("interaction")
    if isinstance(inter, list):
        j = _interactions(entry).get(by)
        return None if j is None else (*base, "interaction", j)
    if isinstance(inter, Mapping):
        if "p" in inter and str(inter.get("by")) in (by, "None"):
            return (*base, "interaction")
        if isinstance(inter.get(by), Mapping):
            return (*base, "interaction", by)
    return None


def subgroup_table(src: Source) -> TableModel | None:
    """The effect of one binary factor within subgroups: HR per level of each ``by`` with the
    interaction p (results.json ``subgroups[]``). Rows carry ``plot`` numbers for the forest."""
    entries = src.get("subgroups") or []
    if not entries:
        return None
    t = TableModel("subgroups", ("Subgroup analyses",)).with_header(
        [
            head("Subgroup", align="left"),
            head("Patients, n"),
            head("Events, n"),
            head("HR (95% CI)"),
            head("p"),
            head("Interaction p"),
        ]
    )
    tests: dict[str, tuple[PathKey, ...]] = {}
    for i, e in enumerate(entries):
        base = ("subgroups", i)
        sec: Text = (
            src.ref("str", *base, "endpoint"),
            ": effect of ",
            *var_label(src, e["effect"]),
        )
        if e.get("effect_levels") and len(e["effect_levels"]) == 2:
            sec += (
                " (",
                src.ref("level", *base, "effect_levels", 1),
                " vs ",
                src.ref("level", *base, "effect_levels", 0),
                ")",
            )
        t = t.with_row([label(*sec, bold=True, colspan=6)], kind="section")
        if e.get("status") not in (None, "ok") and e.get("reason"):
            t = t.with_row(
                [label("Not estimable: ", src.ref("str", *base, "reason"), indent=1, colspan=6)]
            )
            continue
        if isinstance(e.get("overall"), Mapping):
            o = (*base, "overall")
            t = t.with_row(_subgroup_cells(src, o, ("All patients",), 1), plot=_plot(e["overall"]))
        levels = e.get("levels") or []
        bys = e.get("by") if isinstance(e.get("by"), list) else [e.get("by")]
        bys = [b for b in bys if b] or list(dict.fromkeys(str(lv.get("by")) for lv in levels))
        for by in bys:
            ip = interaction_path(e, base, str(by))
            icell: Cell = EMPTY
            if ip is not None and src.get(*ip, "p") is not None:
                icell = value(src.ref("p", *ip, "p"))
                if src.get(*ip, "test"):
                    tests.setdefault(str(src.get(*ip, "test")), (*ip, "test"))
            t = t.with_row(
                [label(*var_label(src, str(by)), indent=1), EMPTY, EMPTY, EMPTY, EMPTY, icell],
                kind="subhead",
            )
            idx = [j for j, lv in enumerate(levels) if str(lv.get("by")) == str(by)]
            order = level_order(src, str(by), [levels[j].get("level") for j in idx])
            for k in order:
                j = idx[k]
                lvp = (*base, "levels", j)
                t = t.with_row(
                    _subgroup_cells(src, lvp, (src.ref("level", *lvp, "level"),), 2),
                    plot=_plot(levels[j]),
                )
    t = t.with_footnote(
        "HR of the effect's second level against its first, from a Cox model fitted within each "
        "subgroup; Wald 95% CI and p. Interaction p: test of a different effect across the "
        "levels of the subgroup variable."
    )
    for test, path in tests.items():
        t = t.with_footnote("Interaction test: ", src.ref("method", *path), ".")
        del test
    return t


def _subgroup_cells(src: Source, base: tuple[PathKey, ...], lab: Text, indent: int) -> list[Cell]:
    node = src.get(*base) or {}

    def opt(fmt: str, key: str) -> Cell:
        return value(src.ref(fmt, *base, key)) if key in node else EMPTY

    hr: Cell = value("not estimable")
    if node.get("hr") is not None:
        hr = value(*est_ci(src, base, "num:2", ("hr", "lower", "upper")))
    return [
        label(*lab, indent=indent),
        opt("count", "n"),
        opt("count", "events"),
        hr,
        opt("p", "p"),
        EMPTY,
    ]


# --- published versus reproduced --------------------------------------------------------------

_KIND_FMT = {"count": "count", "time": "num:1", "percent": "num:1", "ratio": "num:2", "p": "p"}


def published_table(src: Source) -> TableModel | None:
    """Each published number beside its reproduction (results.json ``published[]``)."""
    entries = src.get("published") or []
    if not entries:
        return None
    t = TableModel("published", ("Published and reproduced estimates",)).with_header(
        [
            head("Quantity", align="left"),
            head("Published"),
            head("Reproduced"),
            head("Difference"),
            head("Source", align="left"),
        ]
    )
    for i, e in enumerate(entries):
        base = ("published", i)
        fmt = _KIND_FMT.get(str(e.get("kind")), "g")
        lab: Text = (src.ref("str", *base, "name"),)
        if e.get("kind") == "percent":
            lab += (", %",)
        elif e.get("kind") == "time" and src.has("conventions", "time_unit"):
            lab += (", ", src.ref("str", "conventions", "time_unit"))

        def est(which: str, fmt: str = fmt, base: tuple[PathKey, ...] = base) -> Text:
            node = src.get(*base, which) or {}
            if node.get("value") is None:
                return (src.ref("num:1:not estimable", *base, which, "value"),)
            out: Text = (src.ref(fmt, *base, which, "value"),)
            if node.get("lower") is not None or node.get("upper") is not None:
                out += (
                    " (",
                    src.ref(fmt + (":NR" if fmt.startswith("num") else ""), *base, which, "lower"),
                    DASH,
                    src.ref(fmt + (":NR" if fmt.startswith("num") else ""), *base, which, "upper"),
                    ")",
                )
            return out

        if e.get("status") == "failed":
            rep: Cell = value("failed: ", src.ref("str", *base, "reason"), align="left")
        else:
            rep = value(*est("reproduced"))
        diff: Cell = EMPTY
        if e.get("difference") is not None and fmt != "p":
            dfmt = "num:2" if fmt == "count" else fmt
            diff = value(src.ref(dfmt, *base, "difference"))
        t = t.with_row(
            [
                label(*lab),
                value(*est("published")),
                rep,
                diff,
                label(src.ref("str", *base, "source")) if e.get("source") else label(),
            ]
        )
    t = t.with_footnote(
        "Reproduced: this analysis, read from results.json; difference: reproduced minus "
        "published (percentage points for percentages). Intervals are 95% confidence intervals."
    )
    return t


# --- data checks ----------------------------------------------------------------------------------


def validation_table(src: Source) -> TableModel | None:
    issues = src.get("validation", "issues") or []
    if not issues:
        return None
    t = TableModel("validation", ("Data checks: warnings and accepted issues",)).with_header(
        [
            head("Code", align="left"),
            head("Finding", align="left"),
            head("Where", align="left"),
            head("Fix", align="left"),
        ]
    )
    for i, issue in enumerate(issues):
        where: Text = ()
        for j, k in enumerate(issue.get("where") or {}):
            where += (
                ("; " if j else ""),
                f"{k} ",
                src.ref("str", "validation", "issues", i, "where", k),
            )
        t = t.with_row(
            [
                label(src.ref("str", "validation", "issues", i, "code")),
                label(src.ref("str", "validation", "issues", i, "what")),
                label(*where),
                label(src.ref("str", "validation", "issues", i, "fix"))
                if issue.get("fix")
                else label(),
            ]
        )
    return t


def checklist_table(src: Source, sections: Mapping[str, str]) -> TableModel:
    """Where this report covers the STROBE and RECORD items it can generate."""
    items = [
        ("STROBE 1; RECORD 1.1", "Design and data source", sections.get("methods", "Methods")),
        (
            "STROBE 12; RECORD 12.1",
            "Statistical methods, conventions, software",
            sections.get("methods", "Methods"),
        ),
        (
            "STROBE 13; RECORD 13.1",
            "Patient flow, exclusions with reasons, per-center counts",
            sections.get("flow", "Patients"),
        ),
        (
            "STROBE 14",
            "Baseline characteristics with missing counts; follow-up",
            sections.get("table1", "Baseline"),
        ),
        (
            "STROBE 15",
            "Outcome events: response, PFS and OS events",
            sections.get("response", "Response"),
        ),
        (
            "STROBE 16",
            "Unadjusted and adjusted estimates with 95% CI; cut-off methods",
            sections.get("cox", "Cox"),
        ),
        ("RECORD 22.1", "Code version and input checksums", sections.get("methods", "Methods")),
    ]
    t = TableModel("checklist", ("Reporting checklist items covered by this report",)).with_header(
        [head("Item", align="left"), head("Content", align="left"), head("Section", align="left")]
    )
    for item, what, where in items:
        t = t.with_row([label(item), label(what), label(where)])
    return t.with_footnote(
        "Items not generated (to be completed by the authors): setting and dates (STROBE 5), bias (9), study size rationale (10), limitations (19), funding (22)."
    )


# --- competing risks and restricted mean survival time ------------------------------------------

#: How the reports name the two kinds of PFS end ([[cuminc]], [[finegray]]).
EVENT_NAMES = {"progression": "Progression", "death": "Death without progression"}


def event_name(event: Any, *, lower: bool = False) -> str:
    """``"progression"`` -> ``"Progression"``, ``"death"`` -> ``"Death without progression"``."""
    name = EVENT_NAMES.get(str(event), str(event))
    return name[:1].lower() + name[1:] if lower else name


def _time_ref(src: Source, *path: PathKey) -> Text:
    unit = str(src.get("conventions", "time_unit") or "")
    return (src.ref("g", *path), f" {unit}" if unit else "")


def _ci_level(src: Source, key: str, ok: Sequence[int], *level: PathKey) -> Text:
    """``95% CI`` in a header when every entry of ``key`` has one confidence level (read
    from results.json at ``(key, i, *level)``); ``CI`` otherwise (the section rows say)."""
    levels = {src.get(key, i, *level) for i in ok}
    if len(levels) == 1 and None not in levels:
        return (src.ref("pct:0", key, ok[0], *level), "% CI")
    return ("CI",)


def _section_level(src: Source, key: str, ok: Sequence[int], i: int, *level: PathKey) -> Text:
    """``; 90% CI`` in a section row when the entries of ``key`` differ in level."""
    if len({src.get(key, j, *level) for j in ok}) > 1 and src.get(key, i, *level) is not None:
        return ("; ", src.ref("pct:0", key, i, *level), "% CI")
    return ()


def cuminc_table(src: Source) -> TableModel | None:
    """Cumulative incidence of both competing events at the requested times, per group, with
    the numbers at risk and Gray's test (results.json ``cuminc``)."""
    ok = src.ok("cuminc")
    if not ok:
        return None
    ci = _ci_level(src, "cuminc", ok, "conventions", "conf_level")
    t = TableModel("cuminc", ("Cumulative incidence with competing risks",)).with_header(
        [
            head("Event, group and time", align="left"),
            head("At risk, n"),
            head("Event of interest, % (", *ci, ")"),
            head("Competing event, % (", *ci, ")"),
        ]
    )
    gray_marks = False
    for i in ok:
        e = src.get("cuminc", i)
        base: tuple[PathKey, ...] = ("cuminc", i)
        sec: Text = (
            f"{event_name(e.get('event'))} (competing: {event_name(e.get('competing'), lower=True)})",
        )
        if e.get("by"):
            sec += (", by ", *var_label(src, e["by"]))
        sec += (" (", src.ref("count", *base, "n"), " patients")
        if e.get("n_excluded_missing"):
            sec += (
                "; ",
                src.ref("count", *base, "n_excluded_missing"),
                " excluded for missing values",
            )
        sec += (*_section_level(src, "cuminc", ok, i, "conventions", "conf_level"), ")")
        t = t.with_row([label(*sec, bold=True, colspan=4)], kind="section")
        levels = e.get("levels") or list(e.get("groups") or {})
        comp = e.get("competing_groups") or {}
        for j in level_order(src, e.get("by"), levels):
            g = levels[j]
            gb = (*base, "groups", g)
            if e.get("by"):
                head_lab: Text = (src.ref("level", *base, "levels", j),)
            else:
                head_lab = ("All patients",)
            head_lab += (" (", *competing_counts(src, *gb), ")")
            t = t.with_row([label(*head_lab, indent=1), EMPTY, EMPTY, EMPTY], kind="subhead")
            for k, _ in enumerate(src.get(*gb, "times") or []):
                cells = [
                    label(*_time_ref(src, *gb, "times", k), indent=2),
                    value(src.ref("count", *gb, "n_risk", k)),
                    value(*_cif_cell(src, gb, k)),
                    value(*_cif_cell(src, (*base, "competing_groups", g), k))
                    if g in comp
                    else EMPTY,
                ]
                t = t.with_row(cells)
        gray_cells: list[Cell] = []
        for key in ("gray", "gray_competing"):
            if src.get(*base, key, "p") is not None:
                gray_cells.append(value(src.ref("p", *base, key, "p")))
            else:
                gray_cells.append(EMPTY)
        if any(c is not EMPTY for c in gray_cells):
            gray_marks = True
            lab: Text = ("Gray's test p",)
            if e.get("strata"):
                lab += (" (stratified by ", *var_label(src, e["strata"]), ")")
            t = t.with_row([label(*lab, indent=1), EMPTY, *gray_cells])
        if e.get("competing_groups_reason"):
            t = t.with_footnote(
                *sec[:1], ": ", src.ref("str", *base, "competing_groups_reason"), "."
            )
    note: Text = (
        "Cumulative incidence by the Aalen-Johansen estimator with the Aalen variance (R "
        "cmprsk::cuminc; values at the listed times as cmprsk::timepoints); the event of "
        "interest and the competing event are the two ways a progression-free survival ends, a "
        "censored PFS is censored. At risk: patients with time \u2265 t. ",
        NOT_AVAILABLE,
        ": beyond the group's follow-up, or a limit not defined (estimate 0).",
    )
    t = t.with_footnote(*note)
    if gray_marks:
        t = t.with_footnote(
            "Gray's test compares the cumulative incidence across groups (R cmprsk::cuminc)."
        )
    return t


def _cif_cell(src: Source, gb: tuple[PathKey, ...], k: int) -> Text:
    """``12.3 (8.1–17.0)`` from the lists of a CIF block at position ``k``; the estimate
    alone where both limits are null (an incidence of 0, or beyond the follow-up)."""
    est = (src.ref("pct:1", *gb, "estimate", k),)
    if src.get(*gb, "lower", k) is None and src.get(*gb, "upper", k) is None:
        return est
    return (
        *est,
        " (",
        src.ref("pct:1", *gb, "lower", k),
        DASH,
        src.ref("pct:1", *gb, "upper", k),
        ")",
    )


def _signed_ci(src: Source, base: Sequence[PathKey], fmt: str) -> Text:
    """``est (lo to hi)`` when a limit is negative (``-5.1–-0.2`` misreads), else ``est (lo–hi)``."""
    lo, hi = src.get(*base, "lower"), src.get(*base, "upper")
    if (lo is not None and lo < 0) or (hi is not None and hi < 0):
        return (
            src.ref(fmt, *base, "estimate"),
            " (",
            src.ref(fmt, *base, "lower"),
            " to ",
            src.ref(fmt, *base, "upper"),
            ")",
        )
    return est_ci(src, base, fmt)


def finegray_table(src: Source) -> TableModel | None:
    """Fine-Gray subdistribution hazard ratios beside the cause-specific Cox hazard ratios of
    the same terms (results.json ``finegray``). Rows carry ``plot`` numbers (SHR) for the
    forest plot."""
    models = src.get("finegray") or []
    ok = src.ok("finegray")
    if not ok:
        return None
    ci = _ci_level(src, "finegray", ok, "conf_level")
    t = TableModel("finegray", ("Competing-risks regression",)).with_header(
        [
            head("Model and variable", align="left"),
            head("Patients, n"),
            head("SHR (", *ci, ")"),
            head("p"),
            head("Cause-specific HR (", *ci, ")"),
            head("p"),
        ]
    )
    for i in ok:
        m = models[i]
        base: tuple[PathKey, ...] = ("finegray", i)
        sec: Text = (
            f"Model {i + 1}: {event_name(m.get('event'))} (competing: "
            f"{event_name(m.get('competing'), lower=True)}; ",
            *competing_counts(src, *base),
        )
        if m.get("n_excluded_missing"):
            sec += (
                "; ",
                src.ref("count", *base, "n_excluded_missing"),
                " excluded for missing values",
            )
        if m.get("cengroup"):
            sec += ("; censoring by ", *var_label(src, m["cengroup"]))
        sec += (*_section_level(src, "finegray", ok, i, "conf_level"), ")")
        t = t.with_row([label(*sec, bold=True, colspan=6)], kind="section")
        info = m.get("term_info") or {}
        coefs = m.get("coefficients") or {}
        cs = m.get("cause_specific") or {}
        for term in m.get("terms") or []:
            ti = info.get(term) or {}
            if ti.get("type") == "categorical":
                lvls = ti.get("levels") or []
                t = t.with_row(
                    [label(*var_label(src, term), indent=1), EMPTY, EMPTY, EMPTY, EMPTY, EMPTY],
                    kind="subhead",
                )
                for j in level_order(src, term, lvls):
                    lv = lvls[j]
                    n_parts: Text = (
                        (src.ref("count", *base, "term_info", term, "n_per_level", lv),)
                        if lv in (ti.get("n_per_level") or {})
                        else ()
                    )
                    lab = label(src.ref("level", *base, "term_info", term, "levels", j), indent=2)
                    if lv == ti.get("reference"):
                        t = t.with_row(
                            [
                                lab,
                                value(*n_parts),
                                value("reference"),
                                EMPTY,
                                value("reference"),
                                EMPTY,
                            ],
                            plot={"reference": 1.0},
                        )
                        continue
                    key = f"{term}={lv}"
                    t = t.with_row(
                        [lab, value(*n_parts), *_fg_cells(src, base, key, coefs, cs)],
                        plot=_shr_plot(coefs.get(key)),
                    )
                continue
            lab_parts: Text = (*var_label(src, term),)
            unit_path: tuple[PathKey, ...] | None = None
            if src.get("variables", term, "unit") and src.get("variables", term, "unit") != "count":
                unit_path = ("variables", term, "unit")
            elif ti.get("unit") and ti.get("unit") != "count":
                unit_path = (*base, "term_info", term, "unit")
            lab_parts += (
                (" (per ", src.ref("unit1", *unit_path), ")") if unit_path else (" (per unit)",)
            )
            t = t.with_row(
                [
                    label(*lab_parts, indent=1),
                    value(src.ref("count", *base, "n")),
                    *_fg_cells(src, base, term, coefs, cs),
                ],
                plot=_shr_plot(coefs.get(term)),
            )
        fn: Text = (f"Model {i + 1}: ",)
        bits: list[Text] = []
        if src.get(*base, "cause_specific") is None and m.get("cause_specific_reason"):
            bits.append(
                ("cause-specific model not shown: ", src.ref("str", *base, "cause_specific_reason"))
            )
        if m.get("converged") is False:
            bits.append(("the Fine-Gray fit did not converge",))
        for j, _ in enumerate(m.get("warnings") or []):
            bits.append(("warning: ", src.ref("str", *base, "warnings", j)))
        if bits:
            for j, b in enumerate(bits):
                fn += (("; " if j else ""), *b)
            t = t.with_footnote(*fn, ".")
    return t.with_footnote(
        "SHR, subdistribution hazard ratio of the Fine-Gray model (R cmprsk::crr: censoring "
        "weights from the Kaplan-Meier curve of censoring, sandwich variance), with Wald CI "
        "and p. Cause-specific HR: Cox model of the same terms with the competing event "
        "censored (R survival::coxph, Efron ties, Wald CI and p). The SHR describes the "
        "cumulative incidence; the cause-specific HR the rate among patients still free of "
        "both events."
    )


def _fg_cells(
    src: Source,
    base: tuple[PathKey, ...],
    key: str,
    coefs: Mapping[str, Any],
    cs: Mapping[str, Any],
) -> list[Cell]:
    out: list[Cell] = []
    if coefs.get(key):
        out += [
            value(*est_ci(src, (*base, "coefficients", key), "num:2", ("shr", "lower", "upper"))),
            value(src.ref("p", *base, "coefficients", key, "p")),
        ]
    else:
        out += [value("not estimable"), EMPTY]
    if cs.get(key):
        out += [
            value(*est_ci(src, (*base, "cause_specific", key), "num:2", ("hr", "lower", "upper"))),
            value(src.ref("p", *base, "cause_specific", key, "p")),
        ]
    else:
        out += [EMPTY, EMPTY]
    return out


def _shr_plot(c: Mapping[str, Any] | None) -> dict[str, float | None]:
    if not c:
        return {"hr": None, "lower": None, "upper": None}
    return {"hr": c.get("shr"), "lower": c.get("lower"), "upper": c.get("upper")}


def rmst_table(src: Source) -> TableModel | None:
    """Restricted mean survival time per group, and the difference and ratios of two groups
    (results.json ``rmst``)."""
    ok = src.ok("rmst")
    if not ok:
        return None
    unit = str(src.get("conventions", "time_unit") or "")
    ci = _ci_level(src, "rmst", ok, "conventions", "conf_level")
    t = TableModel("rmst", ("Restricted mean survival time",)).with_header(
        [
            head("Endpoint, group and contrast", align="left"),
            head("Patients, n"),
            head("Events, n"),
            head(f"RMST, {unit} (" if unit else "RMST (", *ci, ")"),
            head("p"),
        ]
    )
    for i in ok:
        e = src.get("rmst", i)
        base: tuple[PathKey, ...] = ("rmst", i)
        sec: Text = (src.ref("str", *base, "endpoint"), " up to ", *_time_ref(src, *base, "tau"))
        if e.get("by"):
            sec += (", by ", *var_label(src, e["by"]))
        if e.get("n_excluded_missing"):
            sec += (
                "; ",
                src.ref("count", *base, "n_excluded_missing"),
                " excluded for missing values",
            )
        sec += _section_level(src, "rmst", ok, i, "conventions", "conf_level")
        t = t.with_row([label(*sec, bold=True, colspan=5)], kind="section")
        levels = e.get("levels") or list(e.get("groups") or {})
        for j in level_order(src, e.get("by"), levels):
            g = levels[j]
            gb = (*base, "groups", g)
            lab: Text = (
                (src.ref("level", *base, "levels", j),) if e.get("by") else ("All patients",)
            )
            t = t.with_row(
                [
                    label(*lab, indent=1),
                    value(src.ref("count", *gb, "n")),
                    value(src.ref("count", *gb, "events")),
                    value(*est_ci(src, gb, "num:1", ("rmst", "lower", "upper"))),
                    EMPTY,
                ]
            )
        if e.get("comparator") is None:
            continue
        vs: Text = (
            src.ref("level", *base, "comparator"),
            " vs ",
            src.ref("level", *base, "reference"),
        )
        for key, name, fmt in (
            ("difference", "Difference", "num:1"),
            ("ratio", "Ratio of RMST", "num:2"),
            ("rmtl_ratio", "Ratio of restricted mean time lost", "num:2"),
        ):
            if src.get(*base, key, "estimate") is None:
                cells = [value("not estimable"), EMPTY]
            else:
                cells = [
                    value(*_signed_ci(src, (*base, key), fmt)),
                    value(src.ref("p", *base, key, "p")),
                ]
            t = t.with_row([label(name, ", ", *vs, indent=1), EMPTY, EMPTY, *cells])
    return t.with_footnote(
        "RMST, restricted mean survival time: the area under the Kaplan-Meier curve up to the "
        "truncation time, with the Greenwood-type standard error of R survival (summary of "
        "survfit with rmean) and a Wald CI. Contrasts as R survRM2::rmst2 (unadjusted): the "
        "difference with a Wald CI, the ratios with Wald CIs on the log scale; two-sided p."
    )


#: results.json lists whose entries carry a status (one entry per spec entry).
STATUS_LISTS = ("proportions", "proportion_comparisons", "logrank", "cox", "cutpoints",
                "subgroups", "cuminc", "finegray", "rmst", "iptw", "maic",
                "landmark_analysis", "tv_cox")  # fmt: skip
_IDENTITY = ("endpoint", "terms", "by", "strata", "variable", "method", "proportion",
             "outcome", "name", "event", "competing", "treatment", "effect", "tau",
             "time_varying", "landmark")  # fmt: skip


def not_computed_table(src: Source) -> TableModel | None:
    """Every analysis the data did not allow (not estimable) or that failed, with the reason.

    Their numbers are null in results.json; the other tables and figures leave them out.
    """
    rows: list[tuple[tuple[PathKey, ...], Mapping[str, Any]]] = []
    for key in STATUS_LISTS:
        for i, e in enumerate(src.get(key) or []):
            if isinstance(e, Mapping) and e.get("status") not in (None, "ok"):
                rows.append(((key, i), e))
    for ep, e in (src.get("endpoints") or {}).items():
        if isinstance(e, Mapping) and e.get("status") not in (None, "ok"):
            rows.append((("endpoints", ep), e))
    for key in ("table1", "response", "center_effects", "imputation", "swimmer", "therapy_flow"):
        e = src.get(key)
        if isinstance(e, Mapping) and e.get("status") not in (None, "ok"):
            rows.append(((key,), e))
    if not rows:
        return None
    t = TableModel("not_computed", ("Analyses not computed",)).with_header(
        [head("Analysis", align="left"), head("Status", align="left"), head("Reason", align="left")]
    )
    for base, e in rows:
        lab: Text = (
            (src.ref("str", *base, "spec_key"), ": ") if e.get("spec_key") else (f"{base[0]}: ",)
        )
        parts = [f"{k} {_words(e[k])}" for k in _IDENTITY if e.get(k) not in (None, [], "")]
        lab += ("; ".join(parts),)
        status = "not estimable" if e.get("status") == "not_estimable" else str(e.get("status"))
        t = t.with_row([label(*lab), label(status), label(src.ref("str", *base, "reason"))])
    return t


def _words(v: Any) -> str:
    return " + ".join(map(str, v)) if isinstance(v, list | tuple) else str(v)


def build_tables(results: Mapping[str, Any]) -> dict[str, TableModel]:
    """Every table of the report, keyed by id, unnumbered (the document numbers them)."""
    src = source_of(results)
    out: dict[str, TableModel] = {}
    for make in (
        flow_table,
        table1,
        response_table,
        response_by_table,
        agreement_table,
        survival_table,
        logrank_table,
        landmark_by_group_table,
        landmark_analysis_table,
        cox_table,
        tv_cox_table,
        subgroup_table,
        cutpoint_table,
        cuminc_table,
        finegray_table,
        rmst_table,
        published_table,
        not_computed_table,
        validation_table,
    ):
        tm = make(src)
        if tm is not None:
            out[tm.id] = tm
    return out


def iter_value_cells(tables: Iterable[TableModel]) -> Iterable[tuple[TableModel, Row, Cell]]:
    for tm in tables:
        for r in tm.rows:
            for c in r.cells:
                yield tm, r, c


__all__ = [
    "NOT_AVAILABLE",
    "build_tables",
    "checklist_table",
    "cox_table",
    "cuminc_table",
    "cutpoint_table",
    "event_name",
    "finegray_table",
    "flow_table",
    "interaction_path",
    "landmark_by_group_table",
    "level_order",
    "logrank_table",
    "published_table",
    "response_by_table",
    "response_table",
    "rmst_table",
    "source_of",
    "subgroup_table",
    "survival_table",
    "table1",
    "validation_table",
]
