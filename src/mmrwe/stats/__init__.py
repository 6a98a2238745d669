"""Pure estimators over numpy arrays, each proven against R (tests/reference/r/*.R).

Conventions are arguments and are recorded on every result object; ``None`` means what R
reports as NA (not estimable, not reached).
"""

from mmrwe.stats._common import Estimate
from mmrwe.stats.contingency import ChiSquareResult, FisherResult, chisq_test, fisher_exact
from mmrwe.stats.cox import ChisqTest, CoxResult, aeq_times, cox_fit
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
from mmrwe.stats.km import FollowUp, KaplanMeier, kaplan_meier, kaplan_meier_by, reverse_km_followup
from mmrwe.stats.logistic import LogisticResult, logistic_fit
from mmrwe.stats.logrank import LogRankResult, LogRankTrendResult, logrank_test, logrank_trend_test
from mmrwe.stats.proportions import ProportionCI, binom_test_p, proportion_ci

__all__ = [
    "ChiSquareResult",
    "ChisqTest",
    "CoxResult",
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
    "YoudenResult",
    "aeq_times",
    "binom_test_p",
    "bootstrap_cutpoint",
    "chisq_test",
    "cox_fit",
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
    "youden_cutpoint",
]
