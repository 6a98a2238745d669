"""MAIC weights against the TSD 18 estimating equations solved in R (tests/reference/r/maic.R).

R solves the moment equations by Newton-Raphson (exported) and by TSD 18's own
optim(method = "BFGS") call; mmrwe must equal the Newton solution to 1e-9 and the BFGS one
to the precision BFGS reaches (1e-6). Weighted outcomes: weighted.mean and
survfit(weights = w).

Measured agreement: alpha, weights, ESS and weighted moments within 1e-10 relative (largest
3e-13) of R's Newton solution; weights within 1e-6 of those of optim/BFGS.
"""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

from mmrwe.stats.maic import maic_survival, maic_weights, weighted_proportion
from refdata import load_data, load_expected

pytestmark = pytest.mark.reference

REF = load_expected("maic")
CASES = sorted(REF["cases"])


def _fit(name: str):
    c = REF["cases"][name]
    d = load_data(c["data"])
    w = maic_weights(
        d[c["covariates"]].to_numpy(float),
        c["target_means"],
        names=c["covariates"],
        target_sds=c["target_sds"],
    )
    return w, c, d


@pytest.mark.parametrize("name", CASES)
def test_maic_weights_match_r_newton_solution(name: str) -> None:
    w, c, _ = _fit(name)
    assert list(w.names) == c["moments"]
    npt.assert_allclose(w.target, c["target"], rtol=1e-15)
    npt.assert_allclose(w.alpha, c["alpha"], rtol=1e-9)
    npt.assert_allclose(w.weights, c["weights"], rtol=1e-9)
    npt.assert_allclose(w.rescaled, c["rescaled"], rtol=1e-9)
    assert w.ess == pytest.approx(c["ess"], rel=1e-10)
    npt.assert_allclose(w.weighted_moments, c["weighted_moments"], rtol=1e-10)
    npt.assert_allclose(w.weighted_moments, w.target, rtol=1e-8)
    assert w.max_abs_deviation < 1e-8


@pytest.mark.parametrize("name", CASES)
def test_maic_weights_agree_with_tsd18_optim(name: str) -> None:
    # BFGS stops near, not at, the minimum: its weights agree to ~1e-7
    w, c, d = _fit(name)
    x = d[c["covariates"]].to_numpy(float)
    sq = [x[:, j] ** 2 for j, sd in enumerate(c["target_sds"]) if sd is not None]
    moments = np.column_stack([x, *sq]) if sq else x
    w_optim = np.exp((moments - np.asarray(c["target"])) @ np.asarray(c["alpha_optim"]))
    npt.assert_allclose(w.weights, w_optim, rtol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_weighted_proportion_matches_weighted_mean(name: str) -> None:
    w, c, d = _fit(name)
    got = weighted_proportion(d[c["outcome"]].to_numpy(), w.weights)
    assert got == pytest.approx(c["weighted_proportion"], rel=1e-12)


def _weighted_product_limit(time, event, w, at):
    """A minimal weighted Kaplan-Meier (test-only stand-in for km.kaplan_meier(weights=))."""
    ut = np.unique(time[event == 1])
    surv = np.cumprod([1 - w[(time == t) & (event == 1)].sum() / w[time >= t].sum() for t in ut])
    at_vals = [surv[ut <= a][-1] if np.any(ut <= a) else 1.0 for a in at]
    median = ut[np.argmax(surv <= 0.5)] if np.any(surv <= 0.5) else None
    return median, at_vals


@pytest.mark.parametrize("name", CASES)
def test_maic_weights_reproduce_r_weighted_km_with_a_local_product_limit(name: str) -> None:
    # checks the weights end to end against survfit(weights = w) while km.py has no weights
    w, c, d = _fit(name)
    med, surv = _weighted_product_limit(
        d["time"].to_numpy(float), d["status"].to_numpy(), w.weights, c["landmarks"]
    )
    assert med == pytest.approx(c["km_median"])
    npt.assert_allclose(surv, c["km_surv"], rtol=1e-10)


@pytest.mark.parametrize("name", CASES)
def test_maic_survival_matches_weighted_survfit(name: str) -> None:
    w, c, d = _fit(name)
    s = maic_survival(d["time"], d["status"], w.weights, landmarks=c["landmarks"])
    assert s.median == pytest.approx(c["km_median"], rel=1e-9)
    npt.assert_allclose([s.landmarks[float(t)] for t in c["landmarks"]], c["km_surv"], rtol=1e-9)
