"""Generated Methods and Results paragraphs, as parts with references into results.json.

Like table cells, every number in these sentences is a :class:`~mmrwe.tables.model.Ref`, so
the HTML and Word reports print the same text and a test can trace each number; references
to tables and figures are :class:`~mmrwe.tables.model.XRef` parts, numbered with the captions
they point to. Sentences are only written for sections present in results.json.

Rules the prose follows (the issue "Submission-ready output"):

* every method used is described once, in Methods, with the R function and convention it
  matches; method identifiers print as proper names (Kaplan-Meier, Cox, Fisher,
  Clopper-Pearson: :func:`~mmrwe.tables.format.method_name`);
* no R formula notation (``Surv(time, status) ~ x``) and no identifiers in prose;
* Cox terms in spec order, factor levels in their declared order; a factor with three or more
  levels gets one overall p (``cox[].term_tests``);
* a null in results.json reads "not estimable" (a median or limit never reached: "not
  reached"), never a dash;
* one disclaimer for synthetic data: the notice at the top of the report (not repeated here).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from mmrwe.tables.build import (
    competing_counts,
    endpoint_order,
    event_name,
    interaction_path,
    level_order,
    var_label,
)
from mmrwe.tables.comparative import cox_evalue_sentence, methods_sentences, results_paragraphs
from mmrwe.tables.format import DASH
from mmrwe.tables.model import Part, PathKey, Ref, Source, Text, XRef

ENDPOINT_NAMES = {
    "PFS": "progression-free survival (PFS)",
    "OS": "overall survival (OS)",
    "TTP": "time to progression (TTP)",
    "DoR": "duration of response (DoR)",
    "TTNT": "time to next treatment (TTNT)",
    "PFS2": "progression-free survival on the next line (PFS2)",
}
NE = "not estimable"
NR = "not reached"


def _join(items: Sequence[Text], sep: str = ", ", last: str = " and ") -> Text:
    out: list[Part] = []
    for i, it in enumerate(items):
        if i:
            out.append(last if i == len(items) - 1 else sep)
        out.extend(it)
    return tuple(out)


def _level_text(src: Source, *path: PathKey) -> Text:
    """``95% CI `` with the level read from results.json when it is stored there."""
    if path and src.get(*path) is not None:
        return (src.ref("pct:0", *path), "% CI ")
    return ("95% CI ",)


def _ci_at(
    src: Source,
    base: Sequence[PathKey],
    fmt: str,
    keys: Sequence[str],
    level_path: Sequence[PathKey] = (),
    na: str = NE,
) -> Text:
    e, lo, hi = keys
    fmt_na = f"{fmt}:{na}" if fmt.count(":") == 1 else fmt
    lo_v, hi_v = src.get(*base, lo), src.get(*base, hi)
    # "to" where a limit is missing or negative ("-5.1\u2013-0.2" misreads)
    sep = DASH if lo_v is not None and hi_v is not None and lo_v >= 0 and hi_v >= 0 else " to "
    return (
        src.ref(fmt_na, *base, e),
        " (",
        *_level_text(src, *level_path),
        src.ref(fmt_na, *base, lo),
        sep,
        src.ref(fmt_na, *base, hi),
        ")",
    )


def _p_eq(src: Source, *path: PathKey) -> Text:
    """``p = 0.003``, ``p < 0.001`` or ``p not estimable``."""
    if src.get(*path) is None:
        return ("p ", src.ref("p:ne", *path))
    r = src.ref("p", *path)
    if r.text[:1] in "<>":
        return ("p ", r.text[0], " ", Ref(r.path, "p:bare", r.text[1:]))
    return ("p = ", r)


XrFn = Callable[..., Text]


def _xref_maker(targets: Collection[str] | None) -> XrFn:
    """``xr(target, before, after)``: a reference to a table or figure wrapped in text, or
    nothing when the report has no such table or figure (``targets`` None: all exist)."""

    def xr(*targets_and_text: str) -> Text:
        *names, before, after = targets_and_text
        present = [n for n in names if targets is None or n in targets]
        if not present:
            return ()
        return (before, *_join([(XRef(n),) for n in present], ", ", ", "), after)

    return xr


def _status_ok(entry: Mapping[str, Any]) -> bool:
    return entry.get("status") in (None, "ok")


def _matching_cox(src: Source, endpoint: Any, term: Any, strata: Any) -> int | None:
    """The first univariable Cox entry of ``endpoint`` on ``term`` with the same strata."""
    for i, m in enumerate(src.get("cox") or []):
        if (
            m.get("endpoint") == endpoint
            and list(m.get("terms") or []) == [term]
            and (m.get("strata") or None) == (strata or None)
            and _status_ok(m)
        ):
            return i
    return None


# --- Methods -------------------------------------------------------------------------------------


def _table1_tests(src: Source) -> dict[str, list[int]]:
    """Kind of test ("wilcoxon", "chisq", "fisher", "other") -> Table 1 rows using it."""
    out: dict[str, list[int]] = {}
    for i, row in enumerate(src.get("table1", "rows") or []):
        method = str((row.get("test") or {}).get("method") or "")
        if not method:
            continue
        low = method.lower()
        kind = (
            "wilcoxon"
            if low.startswith("wilcoxon")
            else "chisq"
            if "chi-square" in low
            else "fisher"
            if low.startswith("fisher")
            else "kruskal"
            if low.startswith("kruskal")
            else f"other:{method}"
        )
        out.setdefault(kind, []).append(i)
    return out


def methods_text(src: Source, targets: Collection[str] | None = None) -> list[tuple[str, Text]]:
    """(subheading, paragraph) pairs for the Methods section.

    ``targets``: ids of the tables and figures the report holds (references to others are
    left out); None when every table and figure exists.
    """
    out: list[tuple[str, Text]] = []
    xr = _xref_maker(targets)
    conv: Mapping[str, Any] = src.get("conventions") or {}

    def c(fmt: str, key: str) -> Part:
        return src.ref(fmt, "conventions", key)

    # design and data (the synthetic-data disclaimer is the notice at the top of the report)
    p: Text = ()
    if src.get("study", "description"):
        p += (src.ref("str", "study", "description"), " ")
    if src.has("inputs", "patients", "file"):
        p += ("One row per patient was read from ", src.ref("str", "inputs", "patients", "file"))
        if src.has("inputs", "patients", "n_rows"):
            p += (" (", src.ref("count", "inputs", "patients", "n_rows"), " rows)")
        p += (
            "; the patient flow (exclusions with reasons, per-center counts) follows STROBE "
            "and RECORD.",
        )
    if p:
        out.append(("Study design and data", p))

    # endpoints
    p = ("Time zero was the start of the regimen under study.",)
    if "pfs_definition" in conv:
        p += (" Progression-free survival (PFS): ", c("str", "pfs_definition"), ".")
    if "os_definition" in conv:
        p += (" Overall survival (OS): ", c("str", "os_definition"), ".")
    for ep in endpoint_order(src):
        key = f"{ep.lower()}_definition"
        if ep not in ("PFS", "OS") and key in conv:
            name = ENDPOINT_NAMES.get(ep, ep)
            p += (f" {name[0].upper()}{name[1:]}: ", c("str", key), ".")
    if "time_unit" in conv:
        p += (" Times are in ", c("str", "time_unit"))
        if conv.get("time_unit") == "months" and "days_per_month" in conv:
            p += (" (days / ", c("str", "days_per_month"), ")")
        p += (".",)
    out.append(("Endpoints", p))

    # response, progression and refractoriness derived from raw labs and therapy
    if src.get("response_derivation", "used_by_analyses"):
        par = ("response_derivation", "parameters")
        p = (
            "Best overall response, the date of progression, prior lines of therapy and "
            "refractoriness were derived from the long laboratory table",
        )
        if src.has("inputs", "labs", "file"):
            p += (" (", src.ref("str", "inputs", "labs", "file"), ")")
        if src.has("inputs", "therapy", "file"):
            p += (" and the therapy table (", src.ref("str", "inputs", "therapy", "file"), ")")
        p += (
            " by rule, not entered by hand: International Myeloma Working Group (IMWG) response "
            "categories with confirmation by two consecutive assessments, progression as a "
            "confirmed rise from the nadir with the IMWG absolute minimums, dated at the first "
            "confirming assessment; lines of therapy by the Rajkumar rules",
        )
        if src.has(*par, "refractory_window_days"):
            p += (
                "; refractory to an agent when progressing on it or within ",
                src.ref("int", *par, "refractory_window_days"),
                " days of its last dose",
            )
        p += (
            ". Units were harmonized before any rule was applied; every call and the values "
            "behind it are listed in the response audit file.",
        )
        if src.has(*par, "profile_rules") and src.get(*par, "profile") != "strict":
            p += (
                " Derivation profile ",
                src.ref("str", *par, "profile"),
                ": ",
                src.ref("str", *par, "profile_rules"),
                ".",
            )
        if src.has("response_derivation", "anti_cd38_interference", "rule"):
            p += (
                " Possible interference of daratumumab or isatuximab with the M-protein "
                "measurement was flagged per patient (",
                src.ref("str", "response_derivation", "anti_cd38_interference", "rule"),
                ").",
            )
        if src.get("response_derivation", "agreement"):
            p += (
                " Agreement of the derived with the recorded best response was measured by "
                "Cohen's kappa with large-sample confidence intervals (R psych::cohen.kappa).",
            )
        out.append(("Response and progression", p))

    # the optional therapy figures ([report] swimmer, therapy_flow): descriptive only
    swim = src.get("swimmer", "status") == "ok" and bool(src.get("swimmer", "patients"))
    flow = src.get("therapy_flow", "status") == "ok" and bool(src.get("therapy_flow", "flows"))
    if swim or flow:
        p = ("The course of treatment is described, without a test, by ",)
        if swim:
            p += (
                "a swimmer plot",
                *xr("fig-swimmer", " (", ")"),
                ": the time on the regimen under study per patient, with the response category "
                "at the first assessment and at each change, progression and death (rows "
                "anonymous, at most ",
                src.ref("int", "swimmer", "max_patients"),
                " patients shown)",
            )
        if swim and flow:
            p += (", and by ",)
        if flow:
            p += (
                "a flow diagram (Sankey) of the ",
                "drug classes" if src.get("therapy_flow", "by") == "class" else "regimens",
                " of consecutive lines of therapy",
                *xr("fig-therapy-flow", " (", ")"),
                ", lines as recorded in or derived from the therapy table",
            )
        p += (".",)
        out.append(("Treatment course", p))

    out.append(("Statistical analysis", _statistics(src, conv, c, xr)))

    # software and reproducibility
    p = ()
    sw = src.get("software") or {}
    if sw:
        names = {
            "mmrwe": "mmrwe",
            "python": "Python",
            "numpy": "NumPy",
            "scipy": "SciPy",
            "pandas": "pandas",
        }
        order = [k for k in names if k in sw] + sorted(k for k in sw if k not in names)
        items: list[Text] = [
            (names.get(k, str(k)), " ", src.ref("str", "software", k)) for k in order
        ]
        p = ("Software: ", *_join(items, ", ", ", "), ".")
    if src.has("inputs", "patients", "sha256"):
        p += (
            " Input ",
            src.ref("str", "inputs", "patients", "file"),
            " SHA-256 ",
            src.ref("str", "inputs", "patients", "sha256"),
            ".",
        )
    if src.has("study", "spec_sha256"):
        p += (" Study specification SHA-256 ", src.ref("str", "study", "spec_sha256"), ".")
    p += (
        " The results file holds every number at full precision with the conventions used; "
        "numbers in this report are rounded for display only, half away from zero; p values "
        "below 0.001 print as <0.001.",
    )
    if src.k:
        p += (
            " Counts from 1 to ",
            src.ref("int", "report_options", "small_cell_k"),
            " minus 1 are shown as <",
            src.ref("int", "report_options", "small_cell_k"),
            " (small-cell rule); a count marked * is withheld so that a small count cannot be "
            "worked out from a total (complementary suppression), groups of fewer patients "
            "get no median, rates or curve of their own, and categorical variables with many "
            "small levels (free text, codes) are not described.",
        )
    out.append(("Software and reproducibility", p))
    return out


def _statistics(src: Source, conv: Mapping[str, Any], c: Any, xr: XrFn) -> Text:
    """One sentence per method used, each naming the R function and convention it matches."""
    s: list[Text] = []
    eps = endpoint_order(src)
    if eps:
        km: Text = ("Survival was estimated by the Kaplan-Meier method with Greenwood variance",)
        if "km_conf_type" in conv:
            km += (" and pointwise ",)
            if "km_conf_level" in conv:
                km += (c("pct:0", "km_conf_level"), "% ")
            km += ("confidence intervals on the ", c("str", "km_conf_type"), " scale")
        km += (" (R survival::survfit).",)
        s.append(km)
        if "median_rule" in conv:
            med: Text = (
                "Medians are the first time the survival estimate is at or below one half (the ",
                c("str", "median_rule"),
                " of an exact one-half plateau, as R quantile.survfit)",
            )
            if src.has("endpoints", eps[0], "median", "method"):
                med += (
                    "; their confidence limits: ",
                    src.ref("str", "endpoints", eps[0], "median", "method"),
                )
            s.append((*med, "."))
        if any(src.get("endpoints", ep, "followup") for ep in eps):
            s.append(
                (
                    "Median follow-up was estimated by the reverse Kaplan-Meier method "
                    "(censoring taken as the event).",
                )
            )
        if "n_risk_rule" in conv:
            s.append(("Numbers at risk: ", c("label", "n_risk_rule"), "."))
    lrs = [lr for lr in (src.get("logrank") or []) if _status_ok(lr)]
    if lrs:
        lr_s: Text = ("Survival was compared between groups with the two-sided log-rank test",)
        i0 = (src.get("logrank") or []).index(lrs[0])
        if src.has("logrank", i0, "rho"):
            lr_s += (" (R survival::survdiff with rho = ", src.ref("g", "logrank", i0, "rho"), ")")
        else:
            lr_s += (" (R survival::survdiff)",)
        if any(lr.get("strata") for lr in lrs):
            lr_s += ("; a stratified test sums the statistics over the strata",)
        s.append((*lr_s, "."))
        if any(lr.get("trend") for lr in lrs):
            s.append(
                (
                    "For ordered groups, the log-rank test for trend (one degree of freedom, "
                    "equally spaced scores in the order of the levels; R survMisc comp, equal to "
                    "the score test of a Cox model with the score as a covariate) is also given.",
                )
            )
    models = [m for m in (src.get("cox") or []) if _status_ok(m)]
    if models:
        cox: Text = ("Hazard ratios come from Cox proportional-hazards models (R survival::coxph",)
        if "cox_ties" in conv:
            cox += (", ", c("method", "cox_ties"), " method for ties")
        cox += (
            ", Wald confidence intervals and p values); patients missing a model variable were "
            "left out of that model (complete cases).",
        )
        s.append(cox)
        tt = next(
            (
                (i, t)
                for i, m in enumerate(src.get("cox") or [])
                for t in (m.get("term_tests") or {})
                if len((m.get("term_info") or {}).get(t, {}).get("levels") or []) >= 3
                and (m.get("term_tests") or {}).get(t, {}).get("test")
            ),
            None,
        )
        if tt:
            sequential = src.get("cox", tt[0], "term_tests", tt[1], "type") == "sequential"
            s.append(
                (
                    "A factor with three or more levels has one overall p (",
                    src.ref("method", "cox", tt[0], "term_tests", tt[1], "test"),
                    ", terms added in order, as R anova)." if sequential else ", as R car::Anova).",
                )
            )
        if any(m.get("ph_test") for m in models):
            ph: Text = (
                "The proportional-hazards assumption was checked with the Grambsch-Therneau "
                "score test (R survival::cox.zph",
            )
            if "ph_transform" in conv:
                ph += (", ", c("method", "ph_transform"), " time transform")
            s.append((*ph, ")."))
        if any(m.get("firth") for m in models):
            s.append(
                (
                    "Where the likelihood of a Cox model was monotone, Firth-penalized estimates "
                    "are added (R coxphf).",
                )
            )
    props = src.get("proportions") or []
    if props:
        pr: Text = ("Proportions have ",)
        if src.has("proportions", 0, "method"):
            pr += (src.ref("method", "proportions", 0, "method"),)
            if str(props[0].get("method")) == "clopper-pearson":
                pr += (" exact",)
        if src.has("proportions", 0, "conf_level"):
            pr += (" ", src.ref("pct:0", "proportions", 0, "conf_level"), "%")
        pr += (" confidence intervals (R binom.test).",)
        s.append(pr)
    # Fisher's exact test may serve Table 1 and response by factor: described once
    t1 = _table1_tests(src)
    comps = src.get("proportion_comparisons") or []
    fisher_cmp = [i for i, cc in enumerate(comps) if cc.get("fisher")]
    logistic_cmp = [i for i, cc in enumerate(comps) if cc.get("logistic") and not cc.get("table")]
    has_t1 = bool(src.get("table1", "rows")) and bool(t1)
    t1_ref: Text = xr("table1", " (", ")") if has_t1 else ()
    if "fisher" in t1 or fisher_cmp:
        uses: list[Text] = []
        if "fisher" in t1:
            uses.append(("categorical baseline characteristics between groups", *t1_ref))
        if fisher_cmp:
            use: Text = ("response between the levels of baseline factors",)
            if "fisher_odds_ratio" in conv:
                use += (" with the ", c("method", "fisher_odds_ratio"), " odds ratio")
            uses.append((*use, " and its exact confidence interval"))
        s.append(("Fisher's exact test (two-sided, R fisher.test) compared ", *_join(uses), "."))
    if "chisq" in t1:
        s.append(
            (
                "Pearson's chi-square test (R chisq.test) compared categorical baseline "
                "characteristics where the expected counts allowed it",
                *t1_ref,
                ".",
            )
        )
    if "wilcoxon" in t1:
        i = t1["wilcoxon"][0]
        s.append(
            (
                "Continuous baseline characteristics were compared with the Wilcoxon rank-sum "
                "test (R wilcox.test; ",
                src.ref("str", "table1", "rows", i, "test", "method"),
                ").",
            )
        )
    if "kruskal" in t1:
        i = t1["kruskal"][0]
        s.append(
            (
                "Across more than two groups, continuous characteristics were compared with the "
                "Kruskal-Wallis test (R kruskal.test; ",
                src.ref("str", "table1", "rows", i, "test", "method"),
                ").",
            )
        )
    for kind, rows in t1.items():
        if kind.startswith("other:"):
            s.append(
                (
                    "Baseline characteristics were also compared with: ",
                    src.ref("str", "table1", "rows", rows[0], "test", "method"),
                    ".",
                )
            )
    if logistic_cmp or any(cc.get("logistic") for cc in comps):
        lg: Text = ("Odds ratios per unit of a continuous factor come from logistic regression",)
        if "logistic_ci" in conv:
            lg += (" with ", c("method", "logistic_ci"), " confidence intervals")
        s.append((*lg, " and Wald p values (R glm and confint)."))
    cuts = src.get("cutpoints") or []
    if any(cc.get("method") == "maxstat" for cc in cuts):
        i = next(i for i, cc in enumerate(cuts) if cc.get("method") == "maxstat")
        mx: Text = (
            "Cut-offs of continuous variables for survival were chosen by maximally selected "
            "log-rank statistics (R maxstat::maxstat.test",
        )
        if src.has("cutpoints", i, "p_adjusted_method"):
            mx += (
                "; p values adjusted for the search by the ",
                src.ref("method", "cutpoints", i, "p_adjusted_method"),
            )
        lo, hi = cuts[i].get("minprop"), cuts[i].get("maxprop")
        if lo is not None and hi is not None and abs(lo + hi - 1.0) > 1e-12:
            # R's maxprop stays 0.9 when minprop changes: the two bounds then differ
            mx += (
                "; the low group holding between ",
                src.ref("pct:0", "cutpoints", i, "minprop"),
                "% and ",
                src.ref("pct:0", "cutpoints", i, "maxprop"),
                "% of the patients",
            )
        elif src.has("cutpoints", i, "minprop"):
            mx += (
                "; each group holding at least ",
                src.ref("pct:0", "cutpoints", i, "minprop"),
                "% of the patients",
            )
        s.append((*mx, ")."))
    if any(cc.get("method") == "youden" for cc in cuts):
        s.append(
            (
                "Cut-offs predicting an event observed during follow-up were chosen by the "
                "Youden index of the ROC curve at an observed value (as R cutpointr; ties broken "
                "by the median of the tied cut-offs).",
            )
        )
    ib = next((i for i, cc in enumerate(cuts) if (cc.get("bootstrap") or {}).get("B")), None)
    if ib is not None:
        bs: Text = (
            "The uncertainty of a chosen cut-off was estimated from ",
            src.ref("int", "cutpoints", ib, "bootstrap", "B"),
            " bootstrap samples",
        )
        if src.has("cutpoints", ib, "bootstrap", "interval_method"):
            bs += (
                " (",
                src.ref("str", "cutpoints", ib, "bootstrap", "interval_method"),
                " interval)",
            )
        if src.has("cutpoints", ib, "optimism", "method"):
            bs += (
                ", and the hazard ratio at the cut-off was corrected for optimism by ",
                src.ref("method", "cutpoints", ib, "optimism", "method"),
            )
        s.append((*bs, "."))
    subs = src.get("subgroups") or []
    if subs:
        s.append(
            (
                "Within subgroups, the effect was estimated by a Cox model fitted in each level "
                "of the subgroup variable (R survival::coxph), and a different effect across "
                "levels was tested by an interaction term",
                *(
                    (" (", src.ref("method", *ip, "test"), ")")
                    if (ip := _first_interaction(src)) is not None
                    else ()
                ),
                ".",
            )
        )
    s += _competing_methods(src, xr)
    if src.ok("landmark_analysis"):
        i = src.ok("landmark_analysis")[0]
        s.append(
            (
                "To avoid immortal time bias, survival by response was compared from a landmark "
                "at ",
                src.ref("g", "landmark_analysis", i, "landmark"),
                f" {conv.get('time_unit', '')}: patients alive and event-free then were grouped "
                "by a partial response or better reached by the landmark and followed from it "
                "(Kaplan-Meier, log-rank test)",
                *xr("landmark_analysis", " (", ")"),
                ".",
            )
        )
    if src.ok("tv_cox"):
        s.append(
            (
                "Response was also modelled as a time-varying covariate in Cox models: each "
                "patient's follow-up was split at the date of the first partial response or "
                "better (R survival::tmerge and coxph on the start/stop intervals, robust "
                "variance clustered by patient)",
                *xr("tv_cox", " (", ")"),
                ".",
            )
        )
    if src.get("center_effects", "endpoints"):
        s.append(
            (
                "Differences between centers were tested, not adjusted for: a log-rank test "
                "across centers for each endpoint and, for each Cox model, the model stratified "
                "by center (R survival::coxph with center strata), the heterogeneity of the "
                "per-center hazard ratios (I\u00b2) and a likelihood-ratio test of the "
                "term-by-center interaction.",
            )
        )
    if src.get("published"):
        s.append(
            (
                "Published estimates are set beside their reproduction",
                *xr("published", " (", ")"),
                ".",
            )
        )
    s.extend(methods_sentences(src))
    if "alpha" in conv:
        s.append(("Tests are two-sided at \u03b1 = ", c("g", "alpha"), "."))
    return _join(s, " ", " ")


def _first_interaction(src: Source) -> tuple[PathKey, ...] | None:
    for i, e in enumerate(src.get("subgroups") or []):
        inter = e.get("interaction")
        if isinstance(inter, list):
            for j, x in enumerate(inter):
                if isinstance(x, Mapping) and x.get("test"):
                    return ("subgroups", i, "interaction", j)
        elif isinstance(inter, Mapping):
            if inter.get("test"):
                return ("subgroups", i, "interaction")
            for k, x in inter.items():
                if isinstance(x, Mapping) and x.get("test"):
                    return ("subgroups", i, "interaction", k)
    return None


# --- Results -------------------------------------------------------------------------------------


def results_text(src: Source, targets: Collection[str] | None = None) -> list[tuple[str, Text]]:
    """(subheading, paragraph) pairs for the Results section (``targets`` as for
    :func:`methods_text`)."""
    out: list[tuple[str, Text]] = []
    xr = _xref_maker(targets)
    unit = str(src.get("conventions", "time_unit") or "")

    # patients
    if src.has("cohort", "n"):
        p: Text = ()
        if src.has("cohort", "n_input_rows"):
            p += ("Of ", src.ref("count", "cohort", "n_input_rows"), " patient records received")
            if src.has("cohort", "n_excluded"):
                p += (
                    ", ",
                    src.ref("count", "cohort", "n_excluded"),
                    " were excluded",
                    *xr("fig-flow", " (", ")"),
                    " and ",
                )
            else:
                p += (", ",)
        p += (src.ref("count", "cohort", "n"), " patients were analysed")
        centers = src.get("cohort", "centers") or {}
        if centers:
            p += (
                " (",
                *_join(
                    [
                        (cname, " ", src.ref("count", "cohort", "centers", cname))
                        for cname in centers
                    ],
                    ", ",
                    ", ",
                ),
                ")",
            )
        p += (".",)
        rows = src.get("table1", "rows") or []
        if rows:
            p += xr("table1", " Baseline characteristics are in ", ".")
        nums = [(i, r) for i, r in enumerate(rows) if r.get("type") == "numeric"]
        if nums:
            items = [
                (
                    *var_label(src, r["variable"]),
                    " ",
                    *_median_iqr(src, ("table1", "rows", i, "overall")),
                )
                for i, r in nums
            ]
            p += (" Medians (interquartile range): ", *_join(items, "; ", "; "), ".")
        miss = [(i, r) for i, r in enumerate(rows) if (r.get("overall") or {}).get("missing")]
        if miss:
            items = [
                (
                    *var_label(src, r["variable"]),
                    " for ",
                    src.ref("count", "table1", "rows", i, "overall", "missing"),
                )
                for i, r in miss
            ]
            p += (" Values were missing for ", *_join(items), " patients.")
        out.append(("Patients", p))

    # response
    resp = src.get("response")
    props = src.get("proportions") or []
    extra = _derivation_results(src, xr)
    if resp or props:
        p = ()
        if resp:
            cats = resp.get("categories") or []
            items = [
                (
                    src.ref("level", "response", "categories", j),
                    " ",
                    *_count_pct(
                        src, ("response", "counts", cats[j]), ("response", "percent", cats[j])
                    ),
                )
                for j in level_order(src, resp.get("variable"), cats)
            ]
            p += ("Best response: ", *_join(items, ", ", ", "), ".")
        for i, _ in enumerate(props):
            p += (
                " ",
                src.ref("name", "proportions", i, "name"),
                ": ",
                src.ref("count", "proportions", i, "successes"),
                "/",
                src.ref("count", "proportions", i, "n"),
            )
            if not src.suppressed("proportions", i, "successes"):
                p += (
                    " (",
                    src.ref("pct:1:not estimable", "proportions", i, "estimate"),
                    "%; ",
                    *_level_text(src, "proportions", i, "conf_level"),
                    src.ref("pct:1:not estimable", "proportions", i, "lower"),
                    DASH,
                    src.ref("pct:1:not estimable", "proportions", i, "upper"),
                    ")",
                )
            p += (".",)
        comps = src.get("proportion_comparisons") or []
        items = []
        for i, cmp in enumerate(comps):
            key = "fisher" if cmp.get("fisher") else "logistic"
            if not cmp.get(key):
                continue
            lv = cmp.get("levels") or []
            lab: Text = (*var_label(src, cmp["by"]),)
            if len(lv) == 2 and cmp.get("reference") in lv:
                other = 1 - lv.index(cmp["reference"])
                lab += (
                    " ",
                    src.ref("level", "proportion_comparisons", i, "levels", other),
                    " vs ",
                    src.ref("level", "proportion_comparisons", i, "reference"),
                )
            elif not cmp.get("table"):
                lab += (" (per unit)",)
            base: tuple[PathKey, ...] = ("proportion_comparisons", i, key)
            if cmp[key].get("odds_ratio") is None and len(lv) > 2:
                items.append((*lab, ": ", *_p_eq(src, *base, "p")))
                continue
            items.append(
                (
                    *lab,
                    " OR ",
                    *_ci_at(
                        src,
                        base,
                        "num:2",
                        ("odds_ratio", "lower", "upper"),
                        (*base, "conf_level"),
                    ),
                    ", ",
                    *_p_eq(src, *base, "p"),
                )
            )
        if items:
            p += (
                " Odds ratios of ",
                src.ref("name", "proportion_comparisons", 0, "outcome"),
                " by baseline factor: ",
                *_join(items, "; ", "; "),
                ".",
            )
        p += extra
        out.append(("Response", (p[1:] if p and p[0] == " " else p)))

    # survival
    eps = endpoint_order(src)
    if eps:
        p = ()
        lvl = ("conventions", "km_conf_level")
        fu_ep = (
            "OS"
            if src.get("endpoints", "OS", "followup")
            else (eps[0] if src.get("endpoints", eps[0], "followup") else None)
        )
        if fu_ep:
            p += (
                "Median follow-up (reverse Kaplan-Meier) was ",
                *_ci_at(
                    src,
                    ("endpoints", fu_ep, "followup"),
                    "num:1",
                    ("estimate", "lower", "upper"),
                    lvl,
                    na=NR,
                ),
                f" {unit}. ",
            )
        for ep in eps:
            name = ENDPOINT_NAMES.get(ep, ep)
            p += (
                "There were ",
                src.ref("count", "endpoints", ep, "events"),
                f" {ep} events among ",
                src.ref("count", "endpoints", ep, "n"),
                f" patients; median {name} was ",
            )
            base = ("endpoints", ep, "median")
            if src.get(*base, "estimate") is None:
                p += (
                    src.ref(f"num:1:{NR}", *base, "estimate"),
                    " (",
                    *_level_text(src, *lvl),
                    src.ref(f"num:1:{NR}", *base, "lower"),
                    " to ",
                    src.ref(f"num:1:{NR}", *base, "upper"),
                    ")",
                )
            else:
                p += (*_ci_at(src, base, "num:1", ("estimate", "lower", "upper"), lvl, na=NR),)
                p += (f" {unit}",)
            lms = sorted((src.get("endpoints", ep, "landmarks") or {}), key=float)
            if lms:
                items = [
                    (
                        "at ",
                        src.key_ref("endpoints", ep, "landmarks", k),
                        f" {unit} ",
                        src.ref("pct:1:not estimable", "endpoints", ep, "landmarks", k, "surv"),
                        "%" if src.get("endpoints", ep, "landmarks", k, "surv") is not None else "",
                    )
                    for k in lms
                ]
                p += (f"; {ep} ", *_join(items))
            p += (*xr(f"fig-km-{ep.lower()}", " (", ")"), ". ")
        out.append(("Survival", _strip(p)))

    # groups
    lrs = src.get("logrank") or []
    if lrs:
        p = ()
        for i, lr in enumerate(lrs):
            levels = lr.get("levels") or lr.get("groups") or []
            key = "levels" if lr.get("levels") else "groups"
            meds = []
            for j in level_order(src, lr.get("by"), levels):
                g = levels[j]
                if src.has("logrank", i, "curves", g, "median", "estimate"):
                    meds.append(
                        (
                            src.ref("level", "logrank", i, key, j),
                            " ",
                            src.ref(f"num:1:{NR}", "logrank", i, "curves", g, "median", "estimate"),
                        )
                    )
            p += (src.ref("str", "logrank", i, "endpoint"), " by ", *var_label(src, lr["by"]))
            if meds:
                p += (f" (median {unit}: ", *_join(meds, ", ", " vs "), ")")
            if lr.get("p") is None and lr.get("note"):
                p += (
                    ": log-rank test not estimable (",
                    src.ref("str", "logrank", i, "note"),
                    "). ",
                )
                continue
            p += (": log-rank ", *_p_eq(src, "logrank", i, "p"))
            if lr.get("strata"):
                p += (", stratified by ", *var_label(src, lr["strata"]))
            if src.has("logrank", i, "trend", "p"):
                p += ("; test for trend ", *_p_eq(src, "logrank", i, "trend", "p"))
            if lr.get("curves"):
                p += xr(f"fig-km-group-{i}", " (", ")")
            p += (". ",)
        warn = src.get("immortal_time_bias", "warning")
        if warn:
            p += (
                "These comparisons by response are subject to immortal time bias: responders "
                "had to survive until they responded, and no landmark or time-varying analysis "
                "corrects for it. ",
            )
        out.append(("Survival by group", _strip(p)))

    # response and survival without immortal time
    p = _immortal_time_results(src, unit, xr)
    if p:
        out.append(("Response and survival", p))

    # Cox
    models = src.get("cox") or []
    if models:
        p = ()
        for i, m in enumerate(models):
            if not _status_ok(m):
                p += (
                    f"Model {i + 1} (",
                    src.ref("str", "cox", i, "endpoint"),
                    ") could not be estimated",
                    *((": ", src.ref("str", "cox", i, "reason")) if m.get("reason") else ()),
                    ". ",
                )
                continue
            items = _cox_items(src, i, m)
            if items:
                p += (
                    f"Model {i + 1} (",
                    src.ref("str", "cox", i, "endpoint"),
                    ", ",
                    src.ref("count", "cox", i, "n"),
                    " patients, ",
                    src.ref("count", "cox", i, "events"),
                    " events): ",
                    *_join(items, "; ", "; "),
                    ". ",
                )
        if p:
            p = (*_strip(p), *xr("cox", " Hazard ratios are in ", "."), *cox_evalue_sentence(src))
            out.append(("Cox models", p))

    # subgroups
    subs = src.get("subgroups") or []
    if subs:
        p = ()
        for i, e in enumerate(subs):
            p += (
                "Effect of ",
                *var_label(src, e["effect"]),
                " on ",
                src.ref("str", "subgroups", i, "endpoint"),
                " within subgroups",
            )
            inter: list[Text] = []
            bys = e.get("by") if isinstance(e.get("by"), list) else [e.get("by")]
            for by in [b for b in bys if b]:
                ip = interaction_path(e, ("subgroups", i), str(by))
                if ip is not None:
                    inter.append((*var_label(src, str(by)), " ", *_p_eq(src, *ip, "p")))
            if inter:
                p += (": interaction ", *_join(inter, "; ", "; "))
            p += (*xr("subgroups", f"fig-subgroups-{i}", " (", ")"), ". ")
        out.append(("Subgroups", _strip(p)))

    # cut-offs (the full plain-language summaries are under the cut-off table)
    cuts = src.get("cutpoints") or []
    p = ()
    methods = {"maxstat": "maximally selected log-rank", "youden": "Youden index"}
    for i, cc in enumerate(cuts):
        if cc.get("cutpoint") is None:
            continue
        p += (
            src.ref("str", "cutpoints", i, "endpoint" if cc.get("endpoint") else "proportion"),
            ", ",
            *var_label(src, cc["variable"]),
            f" ({methods.get(str(cc.get('method')), str(cc.get('method')))}): cut-off ",
            src.ref("g", "cutpoints", i, "cutpoint"),
        )
        if cc.get("unit"):
            p += (" ", src.ref("str", "cutpoints", i, "unit"))
        bits: list[Text] = []
        if cc.get("p_adjusted") is not None:
            bits.append(("adjusted for the search ", *_p_eq(src, "cutpoints", i, "p_adjusted")))
        boot = cc.get("bootstrap") or {}
        if boot.get("lower") is not None and boot.get("upper") is not None:
            boot_lvl: Text = (
                (src.ref("pct:0", "cutpoints", i, "bootstrap", "conf_level"), "% ")
                if boot.get("conf_level") is not None
                else ()
            )
            bits.append(
                (
                    "bootstrap ",
                    *boot_lvl,
                    "interval ",
                    src.ref("g", "cutpoints", i, "bootstrap", "lower"),
                    DASH,
                    src.ref("g", "cutpoints", i, "bootstrap", "upper"),
                )
            )
        hr_key = "hr_low_vs_high" if cc.get("hr_low_vs_high") else "hr_predicted_event"
        if (cc.get(hr_key) or {}).get("hr") is not None:
            bits.append(("apparent HR ", src.ref("num:2", "cutpoints", i, hr_key, "hr")))
        if (cc.get("optimism") or {}).get("corrected_hr") is not None:
            bits.append(
                (
                    "optimism-corrected HR ",
                    src.ref("num:2", "cutpoints", i, "optimism", "corrected_hr"),
                )
            )
        if bits:
            p += (" (", *_join(bits, "; ", "; "), ")")
        p += (". ",)
    if p:
        p += xr("cutpoints", "Details are in ", ".")
        out.append(("Cut-offs", _strip(p)))

    # competing risks and restricted mean survival time
    if src.get("cuminc") or src.get("finegray"):
        p = _cuminc_results(src, xr, unit)
        fg = _finegray_results(src, xr)
        if fg:
            p = (*p, " ", *fg) if p else fg
        if p:
            out.append(("Competing risks", p))
    if src.get("rmst"):
        p = _rmst_results(src, xr, unit)
        if p:
            out.append(("Restricted mean survival time", p))

    # center effects, from the stored tests (not a stored sentence: no formula notation)
    ce = _center_effects(src)
    if ce:
        out.append(("Center effects", ce))

    if src.get("published"):
        pub = xr("published", "Each published estimate is set beside its reproduction in ", ".")
        if pub:
            out.append(("Comparison with the publication", pub))
    out.extend(results_paragraphs(src, xr).items())
    return out


def _derivation_results(src: Source, xr: XrFn) -> Text:
    """Anti-CD38 interference count and agreement with the recorded response."""
    p: Text = ()
    cd = ("response_derivation", "anti_cd38_interference")
    if src.has(*cd, "n_flagged"):
        p += (
            " A small serum M-spike on daratumumab or isatuximab that may hide a complete "
            "response was flagged in ",
            src.ref("count", *cd, "n_flagged"),
            " of ",
            src.ref("count", *cd, "n_anti_cd38_in_line"),
            " patients treated with daratumumab or isatuximab (",
            src.ref("count", *cd, "counts", "yes"),
            " IgG-kappa, ",
            src.ref("count", *cd, "counts", "possible"),
            " of unrecorded isotype).",
        )
    ag = ("response_derivation", "agreement")
    if src.get(*ag, "orr", "status") == "ok":
        p += (
            " The derived and recorded best responses agreed in ",
            src.ref("pct:1", *ag, "depth", "observed_agreement"),
            "% of ",
            src.ref("count", *ag, "depth", "n"),
            " patients (kappa ",
            *_ci_at(src, (*ag, "depth"), "num:2", ("kappa", "lower", "upper")),
            "); for partial response or better, kappa ",
            *_ci_at(src, (*ag, "orr"), "num:2", ("kappa", "lower", "upper")),
            *xr("response_agreement", " (", ")"),
            ".",
        )
    return p


def _immortal_time_results(src: Source, unit: str, xr: XrFn) -> Text:
    """Landmark analysis and time-varying Cox results, in words."""
    p: Text = ()
    for i in src.ok("landmark_analysis"):
        e = src.get("landmark_analysis", i)
        base = ("landmark_analysis", i)
        meds = [
            (src.ref("level", *base, "levels", j), " ",
             src.ref(f"num:1:{NR}", *base, "curves", g, "median", "estimate"))
            for j, g in enumerate(e.get("levels") or [])
        ]  # fmt: skip
        p += (
            "From the landmark at ",
            src.ref("g", *base, "landmark"),
            f" {unit}, ",
            src.ref("count", *base, "n_at_landmark"),
            " patients were free of the ",
            src.ref("str", *base, "endpoint"),
            " event",
        )
        if meds:
            p += (f" (median {unit} after the landmark: ", *_join(meds, ", ", " vs "), ")")
        if src.has(*base, "logrank", "p"):
            p += ("; log-rank ", *_p_eq(src, *base, "logrank", "p"))
        p += (". ",)
    for i in src.ok("tv_cox"):
        e = src.get("tv_cox", i)
        base = ("tv_cox", i)
        for name in e.get("time_varying") or []:
            c = (*base, "coefficients", name)
            if src.get(*c, "hr") is None:
                continue
            p += (
                "With ",
                "response" if name == "response" else name,
                " as a time-varying covariate, the hazard ratio for ",
                src.ref("str", *base, "endpoint"),
                " was ",
                *_ci_at(src, c, "num:2", ("hr", "lower", "upper")),
                ", ",
                *_p_eq(src, *c, "p"),
                ". ",
            )
    if p:
        p = (*_strip(p), *xr("landmark_analysis", "tv_cox", " See ", "."))
    return p


def _cox_items(src: Source, i: int, m: Mapping[str, Any]) -> list[Text]:
    """One item per term, in spec order; factor levels in declared order vs the reference."""
    items: list[Text] = []
    coefs = m.get("coefficients") or {}
    info = m.get("term_info") or {}
    base = ("cox", i)
    for term in m.get("terms") or []:
        ti = info.get(term) or {}
        lab: Text = (*var_label(src, term),)
        if ti.get("type") == "categorical":
            levels = ti.get("levels") or []
            ref = ti.get("reference")
            parts: list[Text] = []
            for j in level_order(src, term, levels):
                lv = levels[j]
                if lv == ref:
                    continue
                key = f"{term}={lv}"
                lvl_lab: Text = (src.ref("level", *base, "term_info", term, "levels", j),)
                if key not in coefs or not coefs[key]:
                    parts.append((*lvl_lab, " HR not estimable"))
                    continue
                parts.append(
                    (
                        *lvl_lab,
                        " HR ",
                        *_ci_at(
                            src,
                            (*base, "coefficients", key),
                            "num:2",
                            ("hr", "lower", "upper"),
                            (*base, "conf_level"),
                        ),
                        *(
                            (", ", *_p_eq(src, *base, "coefficients", key, "p"))
                            if len(levels) < 3
                            else ()
                        ),
                    )
                )
            vs: Text = (
                (" (vs ", src.ref("level", *base, "term_info", term, "reference"), ")")
                if ref is not None
                else ()
            )
            item: Text = (*lab, *vs, ": ", *_join(parts, ", ", ", "))
            if len(levels) >= 3 and src.has(*base, "term_tests", term, "p"):
                item += ("; overall ", *_p_eq(src, *base, "term_tests", term, "p"))
            items.append(item)
            continue
        unit_path: tuple[PathKey, ...] | None = None
        if src.get("variables", term, "unit") and src.get("variables", term, "unit") != "count":
            unit_path = ("variables", term, "unit")
        elif ti.get("unit") and ti.get("unit") != "count":
            unit_path = (*base, "term_info", term, "unit")
        lab += (" (per ", src.ref("unit1", *unit_path), ")") if unit_path else (" (per unit)",)
        if not coefs.get(term):
            items.append((*lab, " HR not estimable"))
            continue
        items.append(
            (
                *lab,
                " HR ",
                *_ci_at(
                    src,
                    (*base, "coefficients", term),
                    "num:2",
                    ("hr", "lower", "upper"),
                    (*base, "conf_level"),
                ),
                ", ",
                *_p_eq(src, *base, "coefficients", term, "p"),
            )
        )
    return items


def _center_effects(src: Source) -> Text:
    ce = src.get("center_effects") or {}
    eps = ce.get("endpoints") or {}
    if not eps:
        return ()
    p: Text = ()
    items: list[Text] = []
    for ep in endpoint_order(src):
        if ep not in eps:
            continue
        b: tuple[PathKey, ...] = ("center_effects", "endpoints", ep)
        items.append(
            (
                ep,
                " log-rank chi-square ",
                src.ref("num:2", *b, "chisq"),
                " on ",
                src.ref("int", *b, "df"),
                " degrees of freedom, ",
                *_p_eq(src, *b, "p"),
            )
        )
    if items:
        p += ("Outcomes across centers: ", *_join(items, "; ", "; "), ".")
    for j, cm in enumerate(ce.get("cox") or []):
        k = cm.get("index")
        b = ("center_effects", "cox", j)
        bits: list[Text] = []
        pooled = cm.get("pooled") or {}
        strat = cm.get("stratified_by_center") or {}
        terms = list(cm.get("terms") or [])
        # spec order of the terms (results.json sorts the keys), levels as stored
        keys = sorted(
            pooled,
            key=lambda k: (
                terms.index(k.partition("=")[0]) if k.partition("=")[0] in terms else len(terms),
                k,
            ),
        )
        for key in keys:
            if key not in strat or pooled[key].get("hr") is None or strat[key].get("hr") is None:
                continue
            term, _, level = key.partition("=")
            lab: Text = (*var_label(src, term),)
            if level:
                levels = src.get("cox", k, "term_info", term, "levels") or []
                lab += (
                    (
                        " ",
                        src.ref(
                            "level", "cox", k, "term_info", term, "levels", levels.index(level)
                        ),
                    )
                    if isinstance(k, int) and level in levels
                    else (" ", src.key_ref(*b, "pooled", key))
                )
            bit: Text = (
                *lab,
                " HR ",
                src.ref("num:2", *b, "pooled", key, "hr"),
                " pooled, ",
                src.ref("num:2", *b, "stratified_by_center", key, "hr"),
                " stratified by center",
            )
            if src.get(*b, "q", key, "i2") is not None:
                bit += (", I\u00b2 ", src.ref("pct:0", *b, "q", key, "i2"), "%")
            bits.append(bit)
        if not bits:
            continue
        head: Text = (f"Model {int(k) + 1} (" if isinstance(k, int) else "Cox model (",)
        head += (src.ref("str", *b, "endpoint"), "): ")
        tail: Text = ()
        if src.get(*b, "interaction", "p") is not None:
            tail = ("; term-by-center interaction ", *_p_eq(src, *b, "interaction", "p"))
        p += (" ", *head, *_join(bits, "; ", "; "), *tail, ".")
    if ce.get("endpoints"):
        p += (
            " Differences between centers are tested, not removed: a small p suggests an "
            "analysis stratified by center.",
        )
    return p


# --- competing risks and restricted mean survival time -------------------------------------------


def _competing_methods(src: Source, xr: XrFn) -> list[Text]:
    """Methods sentences for ``cuminc``, ``finegray`` and ``rmst`` (only those computed)."""
    s: list[Text] = []
    cis = src.ok("cuminc")
    if cis:
        i = cis[0]
        ci: Text = (
            "The cumulative incidence of progression and of death without progression, the two "
            "competing events that end progression-free survival, was estimated by the "
            "Aalen-Johansen estimator with the Aalen variance",
        )
        if src.has("cuminc", i, "conventions", "conf_type"):
            ci += (
                " and pointwise confidence intervals on the ",
                src.ref("str", "cuminc", i, "conventions", "conf_type"),
                " scale",
            )
        ci += (
            " (R cmprsk::cuminc, values at fixed times as cmprsk::timepoints); groups were "
            "compared with Gray's test",
        )
        if any(src.get("cuminc", j, "strata") for j in cis):
            ci += (", stratified where stated",)
        rho = next((j for j in cis if src.get("cuminc", j, "gray", "rho")), None)
        if rho is not None:
            ci += (" (weight exponent rho = ", src.ref("g", "cuminc", rho, "gray", "rho"), ")")
        s.append((*ci, *xr("cuminc", " (", ")"), "."))
    if src.ok("finegray"):
        s.append(
            (
                "The effect of covariates on a cumulative incidence was estimated by Fine-Gray "
                "subdistribution hazards models (R cmprsk::crr: censoring weights from the "
                "Kaplan-Meier estimate of the censoring distribution, sandwich variance), "
                "reported as subdistribution hazard ratios (SHR) with Wald confidence intervals, "
                "beside the cause-specific hazard ratios of Cox models of the same terms with the "
                "competing event censored (R survival::coxph, Efron ties)",
                *xr("finegray", " (", ")"),
                ".",
            )
        )
    rms = src.ok("rmst")
    if rms:
        rm: Text = (
            "The restricted mean survival time (RMST) up to a truncation time is the area "
            "under the Kaplan-Meier curve up to that time, with the Greenwood-type standard "
            "error of R survival (summary of survfit with rmean); two groups were compared "
            "by the difference in RMST and the ratios of RMST and of restricted mean time "
            "lost, with Wald confidence intervals (",
        )
        # the package name holds a digit: printed from results.json, as every number
        if src.has("rmst", rms[0], "conventions", "r_functions", "contrasts"):
            rm += (
                "as R ",
                src.ref("str", "rmst", rms[0], "conventions", "r_functions", "contrasts"),
                ", ",
            )
        rm += (
            "unadjusted; the truncation time may not exceed the follow-up of a group whose "
            "last patient is censored)",
        )
        s.append((*rm, *xr("rmst", " (", ")"), "."))
    return s


def _not_computed(src: Source, key: str, i: int, what: Text) -> Text:
    e = src.get(key, i) or {}
    return (
        *what,
        " could not be estimated",
        *((": ", src.ref("str", key, i, "reason")) if e.get("reason") else ()),
        ". ",
    )


def _event(event: Any, lower: bool = False) -> str:
    return event_name(event, lower=lower)


def _cuminc_results(src: Source, xr: XrFn, unit: str) -> Text:
    p: Text = ()
    for i, e in enumerate(src.get("cuminc") or []):
        head: Text = (f"{_event(e.get('event'))} (competing: {_event(e.get('competing'), True)})",)
        if e.get("by"):
            head += (" by ", *var_label(src, e["by"]))
        if not _status_ok(e):
            p += _not_computed(src, "cuminc", i, head)
            continue
        base: tuple[PathKey, ...] = ("cuminc", i)
        levels = e.get("levels") or list(e.get("groups") or {})
        items: list[Text] = []
        for j in level_order(src, e.get("by"), levels):
            g = levels[j]
            gb = (*base, "groups", g)
            at: list[Text] = []
            for k, est in enumerate(src.get(*gb, "estimate") or []):
                if est is None:
                    continue
                at.append(
                    (
                        src.ref("pct:1", *gb, "estimate", k),
                        "% at ",
                        src.ref("g", *gb, "times", k),
                        f" {unit}",
                    )
                )
            if not at:
                continue
            lab: Text = (src.ref("level", *base, "levels", j), " ") if e.get("by") else ()
            items.append((*lab, *_join(at, ", ", " and ")))
        p += (*head, ": cumulative incidence ", *_join(items, "; ", "; "))
        if src.get(*base, "gray", "p") is not None:
            p += ("; Gray's test ", *_p_eq(src, *base, "gray", "p"))
            if src.get(*base, "gray_competing", "p") is not None:
                p += (
                    f" ({_event(e.get('competing'), True)}: ",
                    *_p_eq(src, *base, "gray_competing", "p"),
                    ")",
                )
        elif e.get("by") and e.get("gray_reason"):
            p += ("; Gray's test not estimable (", src.ref("str", *base, "gray_reason"), ")")
        p += (*xr(f"fig-cuminc-{i}", " (", ")"), ". ")
    return _strip(p) + (xr("cuminc", " Values at each time are in ", ".") if p else ())


def _finegray_results(src: Source, xr: XrFn) -> Text:
    p: Text = ()
    for i, m in enumerate(src.get("finegray") or []):
        head: Text = (f"Model {i + 1} ({_event(m.get('event'), True)}",)
        if not _status_ok(m):
            p += _not_computed(src, "finegray", i, (*head, ")"))
            continue
        base: tuple[PathKey, ...] = ("finegray", i)
        head += (", ", *competing_counts(src, *base), ")")
        items: list[Text] = []
        info = m.get("term_info") or {}
        for term in m.get("terms") or []:
            ti = info.get(term) or {}
            keys: list[tuple[str, int | None]]
            if ti.get("type") == "categorical":
                levels = ti.get("levels") or []
                keys = [
                    (f"{term}={levels[j]}", j)
                    for j in level_order(src, term, levels)
                    if levels[j] != ti.get("reference")
                ]
            else:
                keys = [(term, None)]
            for key, j in keys:
                lab: Text = (*var_label(src, term),)
                if j is not None:
                    lab += (" ", src.ref("level", *base, "term_info", term, "levels", j))
                    lab += (" (vs ", src.ref("level", *base, "term_info", term, "reference"), ")")
                if not (m.get("coefficients") or {}).get(key):
                    items.append((*lab, " SHR not estimable"))
                    continue
                item: Text = (
                    *lab,
                    " SHR ",
                    *_ci_at(src, (*base, "coefficients", key), "num:2", ("shr", "lower", "upper"),
                            (*base, "conf_level")),
                    ", ",
                    *_p_eq(src, *base, "coefficients", key, "p"),
                )  # fmt: skip
                if (m.get("cause_specific") or {}).get(key):
                    item += (
                        "; cause-specific HR ",
                        *_ci_at(src, (*base, "cause_specific", key), "num:2",
                                ("hr", "lower", "upper"), (*base, "conf_level")),
                    )  # fmt: skip
                items.append(item)
        p += (*head, ": ", *_join(items, "; ", "; "), ". ")
    if p:
        p = (*_strip(p), *xr("finegray", " The models are in ", "."))
    return p


def _rmst_results(src: Source, xr: XrFn, unit: str) -> Text:
    p: Text = ()
    for i, e in enumerate(src.get("rmst") or []):
        base: tuple[PathKey, ...] = ("rmst", i)
        head: Text = (
            src.ref("str", *base, "endpoint"),
            " up to ",
            src.ref("g", *base, "tau"),
            f" {unit}",
        )
        if e.get("by"):
            head += (" by ", *var_label(src, e["by"]))
        if not _status_ok(e):
            p += _not_computed(src, "rmst", i, ("RMST of ", *head))
            continue
        levels = e.get("levels") or list(e.get("groups") or {})
        items: list[Text] = []
        for j in level_order(src, e.get("by"), levels):
            gb = (*base, "groups", levels[j])
            lab: Text = (src.ref("level", *base, "levels", j), " ") if e.get("by") else ()
            items.append(
                (
                    *lab,
                    *_ci_at(
                        src,
                        gb,
                        "num:1",
                        ("rmst", "lower", "upper"),
                        (*base, "conventions", "conf_level"),
                    ),
                )
            )
        p += ("RMST of ", *head, ": ", *_join(items, "; ", "; "), f" {unit}")
        if e.get("comparator") is not None and src.get(*base, "difference", "estimate") is not None:
            p += (
                "; difference ",
                src.ref("level", *base, "comparator"),
                " vs ",
                src.ref("level", *base, "reference"),
                " ",
                *_ci_at(src, (*base, "difference"), "num:1", ("estimate", "lower", "upper"),
                        (*base, "conventions", "conf_level")),
                f" {unit}, ",
                *_p_eq(src, *base, "difference", "p"),
            )  # fmt: skip
            if src.get(*base, "ratio", "estimate") is not None:
                p += (
                    "; ratio ",
                    *_ci_at(src, (*base, "ratio"), "num:2", ("estimate", "lower", "upper"),
                            (*base, "conventions", "conf_level")),
                )  # fmt: skip
        p += (". ",)
    if p:
        p = (*_strip(p), *xr("rmst", " Details are in ", "."))
    return p


def _strip(p: Text) -> Text:
    if p and isinstance(p[-1], str):
        return (*p[:-1], p[-1].rstrip())
    return p


def _median_iqr(src: Source, base: tuple[Any, ...]) -> Text:
    return (
        src.ref("num:1", *base, "median"),
        " (",
        src.ref("num:1", *base, "q1"),
        DASH,
        src.ref("num:1", *base, "q3"),
        ")",
    )


def _count_pct(src: Source, count_path: tuple[Any, ...], pct_path: tuple[Any, ...]) -> Text:
    n = src.ref("count", *count_path)
    if src.suppressed(*count_path) or src.get(*pct_path) is None:
        return (n,)
    return (n, " (", src.ref("pctv:1", *pct_path), "%)")
