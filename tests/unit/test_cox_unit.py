"""Hand-derived checks of the Cox fit and the PH test (arithmetic in the comments)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mmrwe.core.errors import EstimationError, InputError, SeparationWarning
from mmrwe.stats.cox import aeq_times, cox_fit
from mmrwe.stats.coxzph import cox_zph


def test_mle_without_ties_closed_form() -> None:
    # times 1, 2, 3 (all events), x = 1, 0, 1; u = exp(b):
    # L = u/(2u + 1) * 1/(1 + u) * 1; dlogL/db = 1 - 2u/(2u+1) - u/(1+u) = 0 <=> 1 - 2u^2 = 0
    # so u = 1/sqrt(2), b = -log(2)/2
    fit = cox_fit([1, 2, 3], [1, 1, 1], [[1.0], [0.0], [1.0]], names=["x"])
    assert fit.coef[0] == pytest.approx(-math.log(2) / 2, rel=1e-9)
    # loglik at b = 0: -(log 3 + log 2 + log 1) = -log 6
    assert fit.loglik[0] == pytest.approx(-math.log(6), rel=1e-12)
    # pairs: (1,2) lp1 = b < lp2 = 0 but 1 died first -> discordant; (1,3) tied lp -> 1/2;
    # (2,3) lp2 = 0 > lp3 = b and 2 died first -> concordant: C = (1 + 1/2) / 3
    assert fit.concordance == pytest.approx(0.5)


def test_efron_and_breslow_closed_forms_with_a_tie() -> None:
    # times 1, 1, 2 (all events), x = 1, 0, 0; u = exp(b). At t = 1 two deaths {1, 2}:
    # Efron: L = u / [(u + 2)(1 + (u + 1)/2)] = 2u / [(u + 2)(u + 3)]
    #   dlogL/db = 1 - u/(u+2) - u/(u+3) = 0 <=> 6 - u^2 = 0, b = log(6)/2
    # Breslow: L = u / (u + 2)^2, 1 - 2u/(u+2) = 0 <=> u = 2, b = log 2
    t, e, x = [1, 1, 2], [1, 1, 1], [[1.0], [0.0], [0.0]]
    efron = cox_fit(t, e, x, names=["x"], ties="efron")
    breslow = cox_fit(t, e, x, names=["x"], ties="breslow")
    assert efron.coef[0] == pytest.approx(math.log(6) / 2, rel=1e-9)
    assert breslow.coef[0] == pytest.approx(math.log(2), rel=1e-9)
    assert efron.ties == "efron"
    assert breslow.ties == "breslow"


def test_score_test_is_logrank_by_hand() -> None:
    # times 1..4 all events, x = 1, 0, 1, 0; at b = 0 the risk-set means of x are
    # 2/4, 1/3, 1/2, 0 and variances 1/4, 2/9, 1/4, 0:
    # U = (1 - 1/2) + (0 - 1/3) + (1 - 1/2) + 0 = 2/3; I = 1/4 + 2/9 + 1/4 = 13/18
    # score = U^2 / I = (4/9)(18/13) = 8/13
    fit = cox_fit([1, 2, 3, 4], [1, 1, 1, 1], [[1.0], [0.0], [1.0], [0.0]], names=["x"])
    assert fit.tests["score"].chisq == pytest.approx(8 / 13, rel=1e-12)
    assert fit.tests["score"].df == 1


def test_wald_interval_uses_z_and_se() -> None:
    fit = cox_fit(
        [1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 0, 1], [[0], [1], [0], [1], [0], [1]], names=["x"]
    )
    z = 1.959963984540054
    b, se = fit.coef[0], fit.se[0]
    assert fit.lower[0] == pytest.approx(math.exp(b - z * se))
    assert fit.upper[0] == pytest.approx(math.exp(b + z * se))
    assert fit.hr[0] == pytest.approx(math.exp(b))
    assert fit.p[0] == pytest.approx(math.erfc(abs(b / se) / math.sqrt(2)))


def test_aeq_times_merges_near_ties_only() -> None:
    # 1 and 1 + 1e-12 are merged to the smaller; 2 and 2.001 stay apart
    out = aeq_times(np.array([1 + 1e-12, 1.0, 2.0, 2.001]))
    assert out.tolist() == [1.0, 1.0, 2.0, 2.001]


def test_constant_covariate_gives_none() -> None:
    # a constant column has zero information: R's coef is NA; the other column is estimated
    t = [1, 2, 3, 4, 5, 6]
    x = [[5, 0], [5, 1], [5, 0], [5, 1], [5, 0], [5, 1]]
    fit = cox_fit(t, [1, 1, 1, 1, 0, 1], x, names=["k", "x"])
    assert math.isnan(fit.coef[0])
    assert math.isfinite(fit.coef[1])
    assert fit.to_dict()["coefficients"]["k"]["coef"] is None
    assert fit.tests["lr"].df == 1
    assert any("singular" in w for w in fit.warnings)


def test_monotone_likelihood_warns_and_names_term() -> None:
    # x = 1 never has an event: the likelihood increases as b -> -inf
    t = [1, 2, 3, 4, 5, 6, 7, 8]
    e = [1, 0, 1, 0, 1, 0, 1, 0]
    x = [[0, 0.3], [1, 0.1], [0, -0.2], [1, 0.5], [0, 0.4], [1, -0.1], [0, 0.2], [1, 0.0]]
    with pytest.warns(SeparationWarning, match="grp"):
        fit = cox_fit(t, e, x, names=["grp", "z"])
    assert fit.coef[0] < -10
    assert any("Firth" in w for w in fit.warnings)


def test_input_errors() -> None:
    with pytest.raises(InputError, match="missing"):
        cox_fit([1, 2], [1, 1], [[np.nan], [1.0]], names=["x"])
    with pytest.raises(InputError):
        cox_fit([1, 2], [1, 1], [[0.0], [1.0]], names=["x", "y"])
    with pytest.raises(EstimationError, match="no events"):
        cox_fit([1, 2], [0, 0], [[0.0], [1.0]], names=["x"])


def test_zph_identity_on_a_small_fit_runs_and_is_finite() -> None:
    t = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    e = [1, 1, 0, 1, 1, 1, 0, 1, 1, 1]
    x = [[0], [1], [0], [1], [1], [0], [1], [0], [0], [1]]
    fit = cox_fit(t, e, x, names=["x"])
    for tr in ("km", "rank", "identity"):
        z = cox_zph(fit, transform=tr)
        chisq, df, p = z.global_
        assert df == 1
        assert chisq >= 0
        assert 0 <= p <= 1
        assert z.to_dict()["terms"]["x"]["df"] == 1


def test_no_warning_in_ordinary_fit() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = cox_fit(
            [1, 2, 3, 4, 5], [1, 0, 1, 1, 1], [[1.0], [2.0], [0.5], [3.0], [1.5]], names=["x"]
        )
    assert fit.converged
    assert fit.warnings == ()
