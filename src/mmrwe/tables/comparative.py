"""Tables and sentences of the comparative analyses: IPTW, MAIC, multiple imputation, TARGET.

Built from results.json only (``iptw[]``, ``maic[]``, ``imputation`` and ``cox[].imputed``,
``target``); every number is a :class:`~mmrwe.tables.model.Ref`. Entries that are not
estimable or failed are left out here (they are listed in "Analyses not computed").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mmrwe.tables.build import (
    EMPTY,
    est_ci,
    head,
    label,
    level_order,
    source_of,
    value,
    var_label,
)
from mmrwe.tables.format import DASH
from mmrwe.tables.model import Part, PathKey, Source, TableModel, Text

XrFn = Callable[..., Text]

_ESTIMAND_WORDS = {
    "ATE": "average treatment effect in the whole population (ATE)",
    "ATT": "average treatment effect in the treated (ATT)",
    "ATO": "average treatment effect in the overlap population (ATO)",
}


def _join(items: Sequence[Text], sep: str = ", ", last: str = " and ") -> Text:
    out: Text = ()
    for i, it in enumerate(items):
        if i:
            out += (last if i == len(items) - 1 else sep,)
        out += it
    return out


def _term_label(src: Source, name: str) -> Text:
    """``fish_risk=high`` as ``FISH cytogenetic risk: high`` (the variable's label)."""
    var, eq, level = name.partition("=")
    return (*var_label(src, var), ": ", level) if eq else var_label(src, name)


def balance_order(src: Source, i: int) -> list[str]:
    """Balance rows of ``iptw[i]`` in spec order of the covariates, levels in declared order."""
    bal: Mapping[str, Any] = src.get("iptw", i, "balance") or {}
    covs = list(src.get("iptw", i, "covariates") or [])

    def key(name: str) -> tuple[int, int, str]:
        row = bal[name]
        var = str(row.get("variable") or name)
        pos = covs.index(var) if var in covs else len(covs)
        if row.get("level") is None:
            return pos, 0, name
        declared = [str(x) for x in (src.get("iptw", i, "covariate_levels", var) or [])]
        if str(row["level"]) in declared:
            return pos, declared.index(str(row["level"])), name
        levels = [str(r.get("level")) for r in bal.values() if r.get("variable") == var]
        order = level_order(src, var, levels)
        return pos, len(declared) + order.index(levels.index(str(row["level"]))), name

    return sorted(bal, key=key)


def _coef_words(src: Source, i: int, name: str) -> Text:
    """A Cox coefficient in prose: ``FISH cytogenetic risk high`` for ``fish_risk=high``."""
    var, eq, level = name.partition("=")
    levels = [str(x) for x in (src.get("cox", i, "term_info", var, "levels") or [])]
    if eq and level in levels:
        return (
            *var_label(src, var),
            " ",
            src.ref("level", "cox", i, "term_info", var, "levels", levels.index(level)),
        )
    if not eq:
        return var_label(src, name)
    return (src.key_ref("cox", i, "coefficients", name),)


def _first_of_each(src: Source, iptw: list[int]) -> list[int]:
    """Indices of the first [[iptw]] entry of each estimand (to name each estimand once)."""
    seen: dict[str, int] = {}
    for k in iptw:
        seen.setdefault(str(src.get("iptw", k, "estimand")), k)
    return list(seen.values())


def _unique(parts: list[Text]) -> list[Text]:
    """Drop items that read like an earlier one (several analyses share a treatment)."""
    from mmrwe.tables.model import text_of

    out: list[Text] = []
    seen: set[str] = set()
    for p in parts:
        key = text_of(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _ok(src: Source, key: str) -> list[int]:
    return src.ok(key)


def _level(src: Source, *path: PathKey) -> Part:
    return src.ref("label", *path)


def _iptw_title(src: Source, i: int) -> Text:
    e = src.get("iptw", i)
    out: Text = (f"Analysis {i + 1}: ",)
    if e.get("name"):
        out += (src.ref("str", "iptw", i, "name"), "; ")
    out += (
        *var_label(src, e["treatment"]),
        " ",
        _level(src, "iptw", i, "treated_level"),
        " vs ",
        _level(src, "iptw", i, "control_level"),
        ", ",
        src.ref("str", "iptw", i, "estimand"),
    )
    if e.get("endpoint"):
        out += (", ", src.ref("str", "iptw", i, "endpoint"))
    return out


# --- IPTW ------------------------------------------------------------------------------------


def iptw_table(src: Source) -> TableModel | None:
    """Per [[iptw]]: patients, weights (ESS), weighted Cox HR with robust CI, E-value."""
    ok = _ok(src, "iptw")
    if not ok:
        return None
    t = TableModel(
        "iptw", ("Propensity-score weighting: weights and the weighted hazard ratio",)
    ).with_header([head("Analysis", align="left"), head("Treated"), head("Control")])
    marks: list[Text] = []
    for i in ok:
        base = ("iptw", i)
        e = src.get(*base)
        t = t.with_row([label(*_iptw_title(src, i), bold=True, colspan=3)], kind="section")
        t = t.with_row(
            [
                label("Patients, n", indent=1),
                value(src.ref("count", *base, "n_treated")),
                value(src.ref("count", *base, "n_control")),
            ]
        )
        w = ("weights",)
        t = t.with_row(
            [
                label("Sum of weights", indent=1),
                value(src.ref("num:1", *base, *w, "treated", "sum")),
                value(src.ref("num:1", *base, *w, "control", "sum")),
            ]
        )
        t = t.with_row(
            [
                label("Effective sample size", indent=1),
                value(src.ref("num:1", *base, *w, "treated", "ess")),
                value(src.ref("num:1", *base, *w, "control", "ess")),
            ]
        )
        t = t.with_row(
            [
                label("Weights, range", indent=1),
                value(
                    src.ref("num:2", *base, *w, "treated", "min"),
                    DASH,
                    src.ref("num:2", *base, *w, "treated", "max"),
                ),
                value(
                    src.ref("num:2", *base, *w, "control", "min"),
                    DASH,
                    src.ref("num:2", *base, *w, "control", "max"),
                ),
            ]
        )
        trim = (e.get("weights") or {}).get("trim") or {}
        if trim.get("rule"):
            t = t.with_row(
                [
                    label("Trimmed (weight 0), n", indent=1),
                    value(src.ref("count", *base, *w, "trim", "n_trimmed_treated")),
                    value(src.ref("count", *base, *w, "trim", "n_trimmed_control")),
                ]
            )
        if e.get("cox"):
            c = ("cox",)
            t = t.with_row(
                [
                    label("Weighted hazard ratio (95% CI), robust SE", indent=1),
                    value(
                        *est_ci(src, (*base, *c), "num:2", ("hr", "lower", "upper")),
                        "; p ",
                        src.ref("p", *base, *c, "p"),
                        colspan=2,
                        align="left",
                    ),
                ]
            )
        if e.get("evalue"):
            t = t.with_row(
                [
                    label("E-value: estimate (confidence limit)", indent=1),
                    value(
                        src.ref("num:2", *base, "evalue", "point"),
                        " (",
                        src.ref("num:2", *base, "evalue", "ci"),
                        ")",
                        colspan=2,
                        align="left",
                    ),
                ]
            )
        for j, _ in enumerate(e.get("warnings") or []):
            marks.append((f"Analysis {i + 1}: ", src.ref("str", *base, "warnings", j)))
        if e.get("n_excluded_missing"):
            marks.append(
                (
                    f"Analysis {i + 1}: ",
                    src.ref("count", *base, "n_excluded_missing"),
                    " patients missing the treatment or a covariate were left out.",
                )
            )
    t = t.with_footnote(
        "Weights from a logistic propensity model of the covariates listed in the balance "
        "table; the hazard ratio compares the treated with the control group in the weighted "
        "cohort (Cox model with case weights, robust sandwich standard error, which ignores the "
        "estimation of the propensity score). E-value: the minimum strength of association, on "
        "the risk-ratio scale, an unmeasured confounder would need with both treatment and "
        "outcome to explain the estimate away (in parentheses: to move the confidence limit "
        "nearer to 1 to 1)."
    )
    for m in marks:
        t = t.with_footnote(*m)
    return t


def balance_table(src: Source) -> TableModel | None:
    """Standardized mean differences before and after weighting, per covariate."""
    ok = [i for i in _ok(src, "iptw") if src.get("iptw", i, "balance")]
    if not ok:
        return None
    t = TableModel("balance", ("Covariate balance before and after weighting",)).with_header(
        [
            head("Covariate", align="left"),
            head("Treated, mean or share"),
            head("Control, mean or share"),
            head("SMD before"),
            head("SMD after"),
            head("Variance ratio after"),
        ]
    )
    for i in ok:
        base = ("iptw", i, "balance")
        t = t.with_row([label(*_iptw_title(src, i), bold=True, colspan=6)], kind="section")
        for cov in balance_order(src, i):
            row = src.get(*base, cov)
            lab: Text = var_label(src, str(row.get("variable") or cov))
            if row.get("level") is not None:
                lab += (": ", _level(src, *base, cov, "level"))
            fmt = "pct:1" if row.get("type") == "binary" else "num:2"
            big = abs(row.get("smd_after") or 0.0) > float(
                src.get("iptw", i, "diagnostics", "smd_threshold") or 0.1
            )
            vr: Text = (
                (src.ref("num:2", *base, cov, "var_ratio_after"),)
                if row.get("var_ratio_after") is not None
                else ()
            )
            t = t.with_row(
                [
                    label(*lab, indent=1),
                    value(
                        src.ref(fmt, *base, cov, "mean_treated_before"),
                        " \u2192 ",
                        src.ref(fmt, *base, cov, "mean_treated_after"),
                    ),
                    value(
                        src.ref(fmt, *base, cov, "mean_control_before"),
                        " \u2192 ",
                        src.ref(fmt, *base, cov, "mean_control_after"),
                    ),
                    value(src.ref("num:3", *base, cov, "smd_before")),
                    value(src.ref("num:3", *base, cov, "smd_after"), marks=("a",) if big else ()),
                    value(*vr),
                ]
            )
    first = ok[0]
    fn: Text = (
        "Means (shares, %, for binary covariates) before \u2192 after weighting. SMD, "
        "standardized mean difference (treated minus control) over the SD of the ",
        src.ref("str", "iptw", first, "balance_sd_denominator"),
        " sample before weighting, the same before and after (cobalt's convention).",
    )
    t = t.with_footnote(*fn)
    t = t.with_footnote(
        "|SMD| after weighting above ",
        src.ref("g", "iptw", first, "diagnostics", "smd_threshold"),
        ": imbalance remains.",
        mark="a",
    )
    return t


def iptw_km_table(src: Source) -> TableModel | None:
    """Weighted Kaplan-Meier per arm: median, landmark rates and the weighted numbers at risk."""
    ok = [i for i in _ok(src, "iptw") if src.get("iptw", i, "km")]
    if not ok:
        return None
    unit = str(src.get("conventions", "time_unit") or "")
    lms = list(
        src.get("iptw", ok[0], "km", src.get("iptw", ok[0], "km_order")[0], "landmarks") or {}
    )
    t = TableModel("iptw_km", ("Weighted Kaplan-Meier estimates per arm",)).with_header(
        [
            head("Analysis and arm", align="left"),
            head("Patients, n (sum of weights)"),
            head(f"Median, {unit} (95% CI)"),
            *(head(f"At {x} {unit}: % (95% CI); weighted at risk") for x in lms),
        ]
    )
    for i in ok:
        t = t.with_row(
            [label(*_iptw_title(src, i), bold=True, colspan=3 + len(lms))], kind="section"
        )
        for lv in src.get("iptw", i, "km_order") or []:
            base = ("iptw", i, "km", lv)
            if not src.has(*base):
                continue
            cells = [
                label(
                    src.ref(
                        "label",
                        "iptw",
                        i,
                        "km_order",
                        (src.get("iptw", i, "km_order") or []).index(lv),
                    ),
                    indent=1,
                ),
                value(
                    src.ref("count", *base, "n"), " (", src.ref("num:1", *base, "weighted_n"), ")"
                ),
                value(*est_ci(src, (*base, "median"), "num:1:NR")),
            ]
            for x in lms:
                lm = (*base, "landmarks", x)
                cells.append(
                    value(
                        *est_ci(src, lm, "pct:1", ("surv", "lower", "upper")),
                        "; ",
                        src.ref("num:1", *lm, "weighted_n_risk"),
                    )
                    if src.has(*lm)
                    else EMPTY
                )
            t = t.with_row(cells)
    return t.with_footnote(
        "Kaplan-Meier estimates with the propensity-score weights as case weights (robust "
        "variance when weights are not whole numbers). Weighted at risk: the summed weights of "
        "the patients with time \u2265 t; the figures print the patients at risk, unweighted."
    )


# --- MAIC ------------------------------------------------------------------------------------


def _maic_stat(src: Source, base: tuple[PathKey, ...], key: str, scale: str) -> Text:
    """``est (lo–hi)`` of an outcome block in the entry's scale (time or share)."""
    node = src.get(*base, key) or {}
    fmt = "pct:1" if scale == "proportion" else "num:1:NR"
    if node.get("lower") is None and node.get("upper") is None:
        return (src.ref(fmt, *base, key, "estimate"),)
    return est_ci(src, (*base, key), fmt)


def maic_table(src: Source) -> TableModel | None:
    """Published trial arm beside the cohort, unweighted and weighted to the trial's baseline."""
    ok = _ok(src, "maic")
    if not ok:
        return None
    unit = str(src.get("conventions", "time_unit") or "")
    t = TableModel(
        "maic", ("Matching-adjusted indirect comparison: published trial arm and this cohort",)
    ).with_header(
        [
            head("", align="left"),
            head("Published (trial arm)"),
            head("This cohort, unweighted"),
            head("This cohort, weighted to the trial"),
        ]
    )
    for i in ok:
        base: tuple[PathKey, ...] = ("maic", i)
        e = src.get(*base)
        title: Text = (f"Comparison {i + 1}: ",)
        if e.get("name"):
            title += (src.ref("str", *base, "name"),)
        elif e.get("endpoint"):
            title += (src.ref("str", *base, "endpoint"),)
        else:
            title += (src.ref("name", *base, "outcome"),)
        t = t.with_row([label(*title, bold=True, colspan=4)], kind="section")
        t = t.with_row(
            [
                label("Patients, n (effective sample size)", indent=1),
                EMPTY,
                value(src.ref("count", *base, "n")),
                value(src.ref("num:1", *base, "weights", "ess")),
            ]
        )
        for cov, b in (e.get("balance") or {}).items():
            bb = (*base, "balance", cov)
            lab: Text = var_label(src, cov)
            if b.get("kind") == "proportion":
                lab += (" (", _level(src, *bb, "level"), "), %")
                fmt = "pct:1"
            else:
                lab += (", mean",)
                fmt = "num:1"
            tgt: Text = (src.ref(fmt, *bb, "target"),)
            if b.get("sd") is not None:
                tgt += (" (SD ", src.ref("num:1", *bb, "sd"), ")")
            t = t.with_row(
                [
                    label(*lab, indent=1),
                    value(*tgt),
                    value(src.ref(fmt, *bb, "unweighted")),
                    value(src.ref(fmt, *bb, "weighted")),
                ]
            )
        scale = str(e.get("scale") or "")
        if e.get("endpoint") and e.get("statistic") == "median":
            what: Text = (src.ref("str", *base, "endpoint"), f", median, {unit} (95% CI)")
        elif e.get("endpoint"):
            what = (
                src.ref("str", *base, "endpoint"),
                " at ",
                src.ref("g", *base, "at"),
                f" {unit}, % (95% CI)",
            )
        else:
            what = (src.ref("name", *base, "outcome"), ", % (95% CI)")
        comp: Text = ()
        if e.get("comparator"):
            cfmt = "pct:1" if scale == "proportion" else "num:1"
            comp = est_ci(src, (*base, "comparator"), cfmt)
        weighted: Text = _maic_stat(src, base, "outcome_weighted", scale)
        t = t.with_row(
            [
                label(*what, indent=1),
                value(*comp),
                value(*_maic_stat(src, base, "outcome_unweighted", scale)),
                value(*weighted),
            ]
        )
        if e.get("bootstrap"):
            bfmt = "pct:1" if scale == "proportion" else "num:1:NR"
            t = t.with_row(
                [
                    label("Weighted, bootstrap 95% interval", indent=2),
                    EMPTY,
                    EMPTY,
                    value(*est_ci(src, (*base, "bootstrap", "outcome"), bfmt)),
                ]
            )
        if e.get("contrast"):
            kind = (e.get("contrast") or {}).get("type")
            cfmt = "num:2:NR" if kind == "ratio" else "pct:1"
            words = (
                "Ratio, weighted cohort / trial"
                if kind == "ratio"
                else ("Difference, weighted cohort \u2212 trial (percentage points)")
            )
            t = t.with_row(
                [
                    label(words, " (bootstrap 95% interval)", indent=1),
                    EMPTY,
                    EMPTY,
                    value(*est_ci(src, (*base, "contrast"), cfmt)),
                ]
            )
        fn: Text = (f"Comparison {i + 1}: ",)
        if e.get("comparator", {}).get("name"):
            fn += (src.ref("str", *base, "comparator", "name"), "; ")
        if e.get("source"):
            fn += ("source: ", src.ref("str", *base, "source"), "; ")
        if e.get("bootstrap"):
            fn += (
                src.ref("int", *base, "bootstrap", "n_boot"),
                " bootstrap resamples (weights re-estimated in each, the published value drawn "
                "from its interval)",
            )
        t = t.with_footnote(*fn, ".")
        for j, _ in enumerate(e.get("warnings") or []):
            t = t.with_footnote(f"Comparison {i + 1}: ", src.ref("str", *base, "warnings", j), ".")
    return t.with_footnote(
        "Unanchored comparison (no common comparator arm): the cohort's patients are weighted "
        "so that the matched baseline characteristics equal the trial's published values; it "
        "assumes that every prognostic factor and effect modifier is among them. NR, not "
        "reached."
    )


# --- multiple imputation ---------------------------------------------------------------------


def imputation_table(src: Source) -> TableModel | None:
    """Complete-case beside pooled multiple-imputation estimates, per analysis and term."""
    pooled = [
        (key, i)
        for key in ("cox", "proportion_comparisons", "proportions")
        for i in src.ok(key)
        if src.get(key, i, "imputed")
    ]
    if not pooled:
        return None
    t = TableModel("imputation", ("Complete-case and multiple-imputation estimates",)).with_header(
        [
            head("Analysis", align="left"),
            head("Complete case: n"),
            head("Complete case: estimate (95% CI)"),
            head("p"),
            head("Imputed: n"),
            head("Imputed: estimate (95% CI)"),
            head("p"),
            head("FMI"),
        ]
    )
    for key, i in pooled:
        base: tuple[PathKey, ...] = (key, i)
        e = src.get(*base)
        imp = (*base, "imputed")
        if key == "cox":
            title: Text = (
                f"Model {i + 1}: ",
                src.ref("str", *base, "endpoint"),
                ", hazard ratio",
            )
            t = t.with_row([label(*title, bold=True, colspan=8)], kind="section")
            for name in src.get(*imp, "coefficients") or {}:
                cc = (*base, "coefficients", name)
                mi = (*imp, "coefficients", name)
                t = t.with_row(
                    [
                        label(*_term_label(src, name), indent=1),
                        value(src.ref("count", *base, "n")),
                        value(*est_ci(src, cc, "num:2", ("hr", "lower", "upper")))
                        if src.get(*cc, "hr") is not None
                        else value("not estimable"),
                        value(src.ref("p", *cc, "p")) if src.has(*cc, "p") else EMPTY,
                        value(src.ref("count", *imp, "n")),
                        value(*est_ci(src, mi, "num:2", ("hr", "lower", "upper"))),
                        value(src.ref("p", *mi, "p")),
                        value(src.ref("num:2", *mi, "fmi")),
                    ]
                )
        elif key == "proportion_comparisons":
            title = (
                src.ref("name", *base, "outcome"),
                " by ",
                *var_label(src, e["by"]),
                ", odds ratio",
            )
            t = t.with_row([label(*title, bold=True, colspan=8)], kind="section")
            lg = src.get(*base, "logistic") or {}
            rows = (
                [(None, (*base, "logistic"), imp)]
                if "odds_ratio" in lg
                else [
                    (n, (*base, "logistic", "coefficients", n), (*imp, "coefficients", n))
                    for n in (src.get(*imp, "coefficients") or {})
                ]
            )
            for name, cc, mi in rows:
                t = t.with_row(
                    [
                        label(*(_term_label(src, name) if name else ()), indent=1),
                        value(src.ref("count", *base, "n")),
                        value(*est_ci(src, cc, "num:2", ("odds_ratio", "lower", "upper"))),
                        value(src.ref("p", *cc, "p")),
                        value(src.ref("count", *imp, "n")),
                        value(*est_ci(src, mi, "num:2", ("odds_ratio", "lower", "upper"))),
                        value(src.ref("p", *mi, "p")),
                        value(src.ref("num:2", *mi, "fmi")),
                    ]
                )
        else:
            title = (src.ref("name", *base, "name"), ", proportion, %")
            t = t.with_row([label(*title, bold=True, colspan=8)], kind="section")
            t = t.with_row(
                [
                    label("", indent=1),
                    value(src.ref("count", *base, "n")),
                    value(*est_ci(src, base, "pct:1")),
                    EMPTY,
                    value(src.ref("count", *imp, "n")),
                    value(*est_ci(src, imp, "pct:1")),
                    EMPTY,
                    value(src.ref("num:2", *imp, "fmi")),
                ]
            )
    fn: Text = ("Multiple imputation by chained equations",)
    if src.has("imputation", "m"):
        fn += (
            " (m = ",
            src.ref("int", "imputation", "m"),
            " imputed data sets, ",
            src.ref("int", "imputation", "maxit"),
            " iterations, seed ",
            src.ref("int", "imputation", "seed"),
            ")",
        )
    fn += (
        "; estimates pooled by Rubin's rules with Barnard-Rubin degrees of freedom (intervals "
        "from the t distribution). FMI, fraction of missing information. Complete case: "
        "patients with every variable of the analysis recorded.",
    )
    return t.with_footnote(*fn)


# --- TARGET ----------------------------------------------------------------------------------

#: (``[target]`` key, item of the TARGET guideline as the table names it)
TARGET_ROWS: tuple[tuple[str, str], ...] = (
    ("question", "Causal question"),
    ("eligibility", "Eligibility criteria"),
    ("treatment_strategies", "Treatment strategies"),
    ("assignment", "Assignment procedures"),
    ("time_zero", "Start of follow-up (time zero)"),
    ("follow_up", "End of follow-up"),
    ("outcomes", "Outcomes"),
    ("estimand", "Causal contrast (estimand)"),
    ("confounders", "Confounders (identifying assumptions)"),
    ("analysis", "Data analysis"),
    ("missing_data", "Missing data"),
)


def _from_spec(src: Source, key: str) -> Text:
    """What the specification and results.json say about one TARGET item."""
    iptw = src.ok("iptw")
    maic = src.ok("maic")
    parts: list[Text] = []
    if key == "question":
        for i in iptw:
            parts.append(("Weighting: ", *_iptw_title(src, i)[1:]))
        for i in maic:
            parts.append(
                (
                    "Comparison with a published trial arm: ",
                    src.ref("str", "maic", i, "name")
                    if src.get("maic", i, "name")
                    else src.ref("str", "maic", i, "covariates", 0),
                )
            )
    elif key == "eligibility":
        if src.has("cohort", "n"):
            p: Text = (src.ref("count", "cohort", "n"), " patients analysed")
            if src.has("cohort", "n_excluded"):
                p += (
                    "; ",
                    src.ref("count", "cohort", "n_excluded"),
                    " records excluded, with reasons in the patient flow",
                )
            parts.append(p)
    elif key == "treatment_strategies":
        for i in iptw:
            parts.append(
                (
                    *var_label(src, src.get("iptw", i, "treatment")),
                    ": ",
                    _level(src, "iptw", i, "treated_level"),
                    " (treated) vs ",
                    _level(src, "iptw", i, "control_level"),
                )
            )
    elif key == "assignment":
        for i in iptw:
            cov = src.get("iptw", i, "covariates") or []
            parts.append(
                (
                    "propensity-score weights (",
                    src.ref("str", "iptw", i, "estimand"),
                    ") from a logistic model of ",
                    *_join([var_label(src, c) for c in cov]),
                )
            )
        if maic:
            parts.append(("weights matching the published baseline (MAIC)",))
    elif key == "time_zero":
        parts.append(("start_date: the start of the regimen under study (day 0)",))
    elif key == "follow_up":
        for ep, k in (("PFS", "pfs_definition"), ("OS", "os_definition")):
            if src.has("conventions", k):
                parts.append((f"{ep}: ", src.ref("str", "conventions", k)))
    elif key == "outcomes":
        eps = []
        for i in iptw:
            if src.get("iptw", i, "endpoint"):
                eps.append((src.ref("str", "iptw", i, "endpoint"),))
        for i in maic:
            if src.get("maic", i, "endpoint"):
                eps.append((src.ref("str", "maic", i, "endpoint"),))
            elif src.get("maic", i, "outcome"):
                eps.append((src.ref("name", "maic", i, "outcome"),))
        parts.extend(eps)
    elif key == "estimand":
        for i in iptw:
            est = str(src.get("iptw", i, "estimand"))
            parts.append(
                (
                    f"Analysis {i + 1}: ",
                    _ESTIMAND_WORDS.get(est, est).split(" (")[0],
                    " (",
                    src.ref("str", "iptw", i, "estimand"),
                    "), hazard ratio",
                )
            )
        for i in maic:
            parts.append(
                (
                    f"Comparison {i + 1}: the trial arm's population, ",
                    src.ref("str", "maic", i, "contrast", "type")
                    if src.get("maic", i, "contrast")
                    else "no contrast",
                )
            )
    elif key == "confounders":
        for i in iptw:
            cov = src.get("iptw", i, "covariates") or []
            parts.append((f"Analysis {i + 1}: ", *_join([var_label(src, c) for c in cov])))
        for i in maic:
            cov = src.get("maic", i, "covariates") or []
            parts.append((f"Comparison {i + 1}: ", *_join([var_label(src, c) for c in cov])))
    elif key == "analysis":
        if iptw:
            parts.append(
                (
                    "weighted Kaplan-Meier estimates and a weighted Cox model with a "
                    "robust standard error; balance by standardized mean differences",
                )
            )
        if maic:
            parts.append(("weighted outcome with bootstrap intervals",))
    elif key == "missing_data":
        if src.get("imputation", "m") is not None:
            parts.append(
                (
                    "multiple imputation (",
                    src.ref("int", "imputation", "m"),
                    " data sets) of ",
                    *_join(
                        [
                            var_label(src, v)
                            for v, n in (src.get("imputation", "n_missing") or {}).items()
                            if n
                        ]
                    ),
                    "; complete-case results beside the pooled ones",
                )
            )
        elif iptw or maic:
            parts.append(("complete cases (patients missing a variable were left out)",))
    return _join(_unique(parts), "; ", "; ")


def target_table(src: Source) -> TableModel | None:
    """The TARGET items (Cashin et al., BMJ/JAMA 2025): the authors' text and the spec's."""
    given: Mapping[str, Any] = src.get("target") or {}
    if not given and not src.ok("iptw") and not src.ok("maic"):
        return None
    t = TableModel("target", ("Target trial emulation (TARGET reporting items)",)).with_header(
        [
            head("Item", align="left"),
            head("The emulation, as the authors describe it", align="left"),
            head("What the analysis specification says", align="left"),
        ]
    )
    for key, item in TARGET_ROWS:
        mine = (src.ref("str", "target", key),) if given.get(key) else ("not stated",)
        spec = _from_spec(src, key)
        t = t.with_row([label(item), label(*mine), label(*(spec or (DASH,)))])
    return t.with_footnote(
        "TARGET: Transparent Reporting of Observational Studies Emulating a Target Trial "
        "(Cashin et al., BMJ and JAMA, 2025). Middle column: [target] of the study "
        "specification; right column: generated from the analyses run. Items not stated are "
        "for the authors to complete."
    )


# --- prose -----------------------------------------------------------------------------------


def methods_sentences(src: Source) -> list[Text]:
    """Statistical-analysis sentences for IPTW, E-values, MAIC and multiple imputation."""
    s: list[Text] = []
    iptw = src.ok("iptw")
    if iptw:
        i = iptw[0]
        p: Text = (
            "Treatment groups were compared after inverse probability of treatment weighting: "
            "the propensity score came from a logistic model (R glm, binomial), weights from "
            "the estimand (",
            *_join([(src.ref("str", "iptw", k, "estimand"),) for k in _first_of_each(src, iptw)]),
            "; formulas of R WeightIt), and balance was judged by standardized mean differences "
            "(cobalt's definition) with a threshold of ",
            src.ref("g", "iptw", i, "diagnostics", "smd_threshold"),
            "; propensity scores outside ",
            src.ref("g", "iptw", i, "diagnostics", "ps_bounds", 0),
            DASH,
            src.ref("g", "iptw", i, "diagnostics", "ps_bounds", 1),
            " and effective sample sizes below ",
            src.ref("pct:0", "iptw", i, "diagnostics", "min_ess_fraction"),
            "% of a group were flagged as positivity problems.",
        )
        s.append(p)
        s.append(
            (
                "Weighted survival curves used the weights as case weights (R survival::survfit "
                "with weights), and the weighted hazard ratio a Cox model with case weights and "
                "a robust sandwich variance (R survival::coxph with robust standard errors).",
            )
        )
    has_ev = any((src.get("cox", i, "evalue_outcome") or {}) for i in src.ok("cox")) or any(
        src.get("iptw", i, "evalue") for i in iptw
    )
    if has_ev:
        ref = next(
            (("cox", i) for i in src.ok("cox") if src.get("cox", i, "evalue_outcome")),
            ("iptw", iptw[0]) if iptw else None,
        )
        ev: Text = (
            "E-values (VanderWeele and Ding; formulas of R EValue) give, for each hazard ratio "
            "and its confidence limit nearer to the null, the minimum strength of association "
            "on the risk-ratio scale that an unmeasured confounder would need with both "
            "exposure and outcome to explain it away; a hazard ratio was converted to a risk "
            "ratio as for a common outcome unless the outcome was rare",
        )
        if ref is not None:
            ev += (
                "; rare or common decided by: ",
                src.ref("str", *ref, "evalue_outcome", "source"),
            )
        s.append((*ev, "."))
    maic = src.ok("maic")
    if maic:
        s.append(
            (
                "The cohort was compared with a published trial arm by an unanchored "
                "matching-adjusted indirect comparison (method of moments, as the NICE Decision "
                "Support Unit's guidance on population adjustment describes it): patients were "
                "weighted so that the matched baseline means and shares "
                "equal the published ones; the weighted outcome was set beside the published "
                "one, with percentile intervals from a bootstrap that re-estimated the weights "
                "in every resample and drew the published value from its confidence interval.",
            )
        )
    if src.get("imputation", "m") is not None and src.get("imputation", "analyses"):
        s.append(
            (
                "Missing covariate values were multiply imputed by chained equations (the "
                "algorithm of R mice: predictive mean matching for numbers, logistic and "
                "multinomial models for categories; ",
                src.ref("int", "imputation", "m"),
                " imputed data sets), with the event indicator and the Nelson-Aalen cumulative "
                "hazard of each survival endpoint analysed (and their products with the "
                "complete covariates) as predictors; the models were refitted on each data set "
                "and pooled by Rubin's rules with Barnard-Rubin degrees of freedom (R "
                "mice::pool), and the complete-case estimates are shown beside them.",
            )
        )
    return s


def results_paragraphs(src: Source, xr: XrFn) -> dict[str, Text]:
    """Results paragraphs by section title (only for the analyses present)."""
    out: dict[str, Text] = {}
    iptw = src.ok("iptw")
    if iptw:
        p: Text = ()
        for i in iptw:
            e = src.get("iptw", i)
            base = ("iptw", i)
            p += (
                "Weighting for ",
                *var_label(src, e["treatment"]),
                " (",
                _level(src, *base, "treated_level"),
                " vs ",
                _level(src, *base, "control_level"),
                ", ",
                src.ref("str", *base, "estimand"),
                ") gave effective sample sizes of ",
                src.ref("num:1", *base, "weights", "treated", "ess"),
                " of ",
                src.ref("count", *base, "n_treated"),
                " treated and ",
                src.ref("num:1", *base, "weights", "control", "ess"),
                " of ",
                src.ref("count", *base, "n_control"),
                " control patients",
            )
            bal = e.get("balance") or {}
            worst = max(bal, key=lambda k: abs(bal[k].get("smd_before") or 0.0), default=None)
            if worst is not None and e.get("diagnostics", {}).get("max_abs_smd_after") is not None:
                p += (
                    "; the largest standardized mean difference before weighting, ",
                    src.ref("num:2", *base, "balance", worst, "smd_before"),
                    " (",
                    *var_label(src, str(bal[worst].get("variable") or worst)),
                    "), became at most ",
                    src.ref("num:2", *base, "diagnostics", "max_abs_smd_after"),
                    " in absolute value",
                    *xr("balance", " (", ")"),
                )
            p += (".",)
            if e.get("cox"):
                p += (
                    " The weighted hazard ratio of ",
                    src.ref("str", *base, "endpoint"),
                    " was ",
                    *est_ci(src, (*base, "cox"), "num:2", ("hr", "lower", "upper")),
                    ", p ",
                    src.ref("p", *base, "cox", "p"),
                )
                if e.get("evalue"):
                    p += (
                        "; E-value ",
                        src.ref("num:2", *base, "evalue", "point"),
                        " (confidence limit ",
                        src.ref("num:2", *base, "evalue", "ci"),
                        ")",
                    )
                p += (*xr("iptw", " (", ")"), ".")
            for j, _ in enumerate(e.get("warnings") or []):
                p += (" Warning: ", src.ref("str", *base, "warnings", j), ".")
            p += (" ",)
        out["Propensity-score weighting"] = p[:-1]
    maic = src.ok("maic")
    if maic:
        unit = str(src.get("conventions", "time_unit") or "")
        p = ()
        if src.get("study", "synthetic"):
            p += (
                "The cohort analysed here is synthetic, so the comparison below demonstrates "
                "the method and says nothing about the treatment. ",
            )
        for i in maic:
            e = src.get("maic", i)
            base = ("maic", i)
            scale = str(e.get("scale") or "")
            fmt = "pct:1" if scale == "proportion" else "num:1:NR"
            pct = "%" if scale == "proportion" else f" {unit}"
            what: Text = (
                (src.ref("str", *base, "endpoint"), " median")
                if e.get("endpoint") and e.get("statistic") == "median"
                else (
                    src.ref("str", *base, "endpoint"),
                    " at ",
                    src.ref("g", *base, "at"),
                    f" {unit}",
                )
                if e.get("endpoint")
                else (src.ref("name", *base, "outcome"),)
            )
            p += (
                "Weighted to the published baseline",
                *(
                    (" of ", src.ref("str", *base, "comparator", "name"))
                    if (e.get("comparator") or {}).get("name")
                    else ()
                ),
                " (effective sample size ",
                src.ref("num:1", *base, "weights", "ess"),
                " of ",
                src.ref("count", *base, "n"),
                "), the cohort's ",
                *what,
                " was ",
                src.ref(fmt, *base, "outcome_weighted", "estimate"),
                pct,
                " (unweighted ",
                src.ref(fmt, *base, "outcome_unweighted", "estimate"),
                pct,
                ")",
            )
            if e.get("comparator"):
                cf = "pct:1" if scale == "proportion" else "num:1"
                p += (", against ", src.ref(cf, *base, "comparator", "estimate"), pct, " published")
            if e.get("contrast"):
                kind = e["contrast"]["type"]
                cfmt = "num:2:NR" if kind == "ratio" else "pct:1"
                p += (
                    "; ",
                    "ratio " if kind == "ratio" else "difference ",
                    *est_ci(src, (*base, "contrast"), cfmt),
                    "" if kind == "ratio" else " percentage points",
                )
            p += (*xr("maic", " (", ")"), ". ")
        out["Comparison with a published trial arm"] = (*p[:-1], ".")
    imp = src.get("imputation") or {}
    if imp.get("analyses"):
        p = (
            "Missing values (",
            *_join(
                [
                    (*var_label(src, v), " ", src.ref("count", "imputation", "n_missing", v))
                    for v, n in (imp.get("n_missing") or {}).items()
                    if n
                ]
            ),
            ") were imputed ",
            src.ref("int", "imputation", "m"),
            " times.",
        )
        for a in imp.get("analyses") or []:
            key, i = a["section"], int(a["index"])
            if key != "cox":
                continue
            for name, c in (src.get(key, i, "imputed", "coefficients") or {}).items():
                if c.get("hr") is None:
                    continue
                mi = (key, i, "imputed", "coefficients", name)
                cc = (key, i, "coefficients", name)
                p += (
                    f" In Model {i + 1} (",
                    src.ref("str", key, i, "endpoint"),
                    ") the pooled hazard ratio of ",
                    *_coef_words(src, i, name),
                    " was ",
                    *est_ci(src, mi, "num:2", ("hr", "lower", "upper")),
                    " (fraction of missing information ",
                    src.ref("num:2", *mi, "fmi"),
                    ") against ",
                    *est_ci(src, cc, "num:2", ("hr", "lower", "upper")),
                    " in the ",
                    src.ref("count", key, i, "n"),
                    " complete cases.",
                )
        p += xr("imputation", " All pooled estimates are in ", ".")
        out["Multiple imputation"] = p
    return out


def cox_evalue_sentence(src: Source) -> Text:
    """One sentence on the E-values of the Cox hazard ratios whose interval excludes 1."""
    items: list[Text] = []
    for i in src.ok("cox"):
        for name, c in (src.get("cox", i, "coefficients") or {}).items():
            ev = c.get("evalue") or {}
            if ev.get("ci") is None or ev.get("ci_crosses_null"):
                continue
            base = ("cox", i, "coefficients", name, "evalue")
            items.append(
                (
                    f"Model {i + 1}, ",
                    *_coef_words(src, i, name),
                    " ",
                    src.ref("num:2", *base, "point"),
                    " (confidence limit ",
                    src.ref("num:2", *base, "ci"),
                    ")",
                )
            )
    if not items:
        return ()
    return (
        " E-values of the hazard ratios whose confidence interval excludes no effect: ",
        *_join(items, "; ", "; "),
        ".",
    )


def comparative_tables(results: Mapping[str, Any]) -> dict[str, TableModel]:
    """The tables of this module present in ``results``, keyed by id, unnumbered."""
    src = source_of(results)
    out: dict[str, TableModel] = {}
    for make in (
        iptw_table,
        balance_table,
        iptw_km_table,
        maic_table,
        imputation_table,
        target_table,
    ):
        tm = make(src)
        if tm is not None:
            out[tm.id] = tm
    return out
