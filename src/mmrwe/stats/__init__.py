"""Pure estimators over numpy arrays, each proven against R (tests/reference/r/*.R).

Conventions are arguments and are recorded on every result object; ``None`` means what R
reports as NA (not estimable, not reached).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmrwe.stats._common import Estimate
    from mmrwe.stats.contingency import ChiSquareResult, FisherResult, chisq_test, fisher_exact
    from mmrwe.stats.cox import ChisqTest, CoxResult, aeq_times, cox_fit
    from mmrwe.stats.cox_terms import (
        CoxTermTests,
        SubgroupResult,
        cox_term_tests,
        cox_wald_term_tests,
        subgroup_hrs,
    )
    from mmrwe.stats.coxzph import PHTest, cox_zph
    from mmrwe.stats.cutpoint import (
        CutpointBootstrap,
        MaxstatResult,
        OptimismResult,
        YoudenResult,
        bootstrap_cutpoint,
        maxstat_cutpoint,
        maxstat_cutpoint_binary,
        optimism_corrected_hr,
        youden_cutpoint,
    )
    from mmrwe.stats.firth import FirthCoxResult, detect_monotone_likelihood, firth_cox
    from mmrwe.stats.km import (
        FollowUp,
        KaplanMeier,
        kaplan_meier,
        kaplan_meier_by,
        reverse_km_followup,
    )
    from mmrwe.stats.logistic import LogisticResult, logistic_fit
    from mmrwe.stats.logrank import (
        LogRankResult,
        LogRankTrendResult,
        logrank_test,
        logrank_trend_test,
    )
    from mmrwe.stats.proportions import ProportionCI, binom_test_p, proportion_ci

# Imported on first use (PEP 562): ``import mmrwe.stats.km`` must not pull in scipy.stats
# (half a second) through contingency tables, logistic models and cut-offs it never uses.
_WHERE: dict[str, str] = {
    "ChiSquareResult": "mmrwe.stats.contingency",
    "ChisqTest": "mmrwe.stats.cox",
    "CoxResult": "mmrwe.stats.cox",
    "CoxTermTests": "mmrwe.stats.cox_terms",
    "CutpointBootstrap": "mmrwe.stats.cutpoint",
    "Estimate": "mmrwe.stats._common",
    "FirthCoxResult": "mmrwe.stats.firth",
    "FisherResult": "mmrwe.stats.contingency",
    "FollowUp": "mmrwe.stats.km",
    "KaplanMeier": "mmrwe.stats.km",
    "LogRankResult": "mmrwe.stats.logrank",
    "LogRankTrendResult": "mmrwe.stats.logrank",
    "LogisticResult": "mmrwe.stats.logistic",
    "MaxstatResult": "mmrwe.stats.cutpoint",
    "OptimismResult": "mmrwe.stats.cutpoint",
    "PHTest": "mmrwe.stats.coxzph",
    "ProportionCI": "mmrwe.stats.proportions",
    "SubgroupResult": "mmrwe.stats.cox_terms",
    "YoudenResult": "mmrwe.stats.cutpoint",
    "aeq_times": "mmrwe.stats.cox",
    "binom_test_p": "mmrwe.stats.proportions",
    "bootstrap_cutpoint": "mmrwe.stats.cutpoint",
    "chisq_test": "mmrwe.stats.contingency",
    "cox_fit": "mmrwe.stats.cox",
    "cox_term_tests": "mmrwe.stats.cox_terms",
    "cox_wald_term_tests": "mmrwe.stats.cox_terms",
    "cox_zph": "mmrwe.stats.coxzph",
    "detect_monotone_likelihood": "mmrwe.stats.firth",
    "firth_cox": "mmrwe.stats.firth",
    "fisher_exact": "mmrwe.stats.contingency",
    "kaplan_meier": "mmrwe.stats.km",
    "kaplan_meier_by": "mmrwe.stats.km",
    "logistic_fit": "mmrwe.stats.logistic",
    "logrank_test": "mmrwe.stats.logrank",
    "logrank_trend_test": "mmrwe.stats.logrank",
    "maxstat_cutpoint": "mmrwe.stats.cutpoint",
    "maxstat_cutpoint_binary": "mmrwe.stats.cutpoint",
    "optimism_corrected_hr": "mmrwe.stats.cutpoint",
    "proportion_ci": "mmrwe.stats.proportions",
    "reverse_km_followup": "mmrwe.stats.km",
    "subgroup_hrs": "mmrwe.stats.cox_terms",
    "youden_cutpoint": "mmrwe.stats.cutpoint",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mmrwe.stats' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ChiSquareResult",
    "ChisqTest",
    "CoxResult",
    "CoxTermTests",
    "CutpointBootstrap",
    "Estimate",
    "FirthCoxResult",
    "FisherResult",
    "FollowUp",
    "KaplanMeier",
    "LogRankResult",
    "LogRankTrendResult",
    "LogisticResult",
    "MaxstatResult",
    "OptimismResult",
    "PHTest",
    "ProportionCI",
    "SubgroupResult",
    "YoudenResult",
    "aeq_times",
    "binom_test_p",
    "bootstrap_cutpoint",
    "chisq_test",
    "cox_fit",
    "cox_term_tests",
    "cox_wald_term_tests",
    "cox_zph",
    "detect_monotone_likelihood",
    "firth_cox",
    "fisher_exact",
    "kaplan_meier",
    "kaplan_meier_by",
    "logistic_fit",
    "logrank_test",
    "logrank_trend_test",
    "maxstat_cutpoint",
    "maxstat_cutpoint_binary",
    "optimism_corrected_hr",
    "proportion_ci",
    "reverse_km_followup",
    "subgroup_hrs",
    "youden_cutpoint",
]
