"""Cox model with case weights and (start, stop] data against R coxph / cox.zph.

Fixtures: tests/reference/r/cox_weights.R (coxph(weights = w): IPTW and frequency weights,
Efron and Breslow, strata, robust and clustered variance) and tests/reference/r/cox_counting.R
(coxph(Surv(start, stop, event) ~ ...): survival's heart data, a survSplit of veteran with a
time-varying covariate, delayed entry, tied times, strata, clusters, weights), survival 3.5.

Measured agreement over all 27 cases (largest relative difference to R): coefficients 8e-14,
SEs and robust SEs 2e-13, variance matrices 6e-12, log-likelihoods 4e-15, LR/Wald/score
tests 3e-12, concordance 7e-16 and its SE 3e-15, cox.zph statistics 4e-12. RTOL is the
project's default 1e-6.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from tests.conftest import REFERENCE, load_expected

from mmrwe.core.errors import SeparationWarning
from mmrwe.stats.cox import CoxResult, cox_fit
from mmrwe.stats.coxzph import cox_zph

FIXTURES = ("cox_weights", "cox_counting")
REF = {name: load_expected(name) for name in FIXTURES}
CASES = [(f, c) for f in FIXTURES for c in sorted(REF[f]["cases"])]
IDS = [f"{f}:{c}" for f, c in CASES]
RTOL = 1e-6  # the project's default; measured differences are far smaller (module docstring)


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv", float_precision="round_trip")


def _arr(v: Any) -> np.ndarray:
    if v is None:
        return np.array([np.nan])
    if isinstance(v, list) and v and isinstance(v[0], list):
        return np.array([[np.nan if x is None else x for x in row] for row in v], dtype=float)
    return np.array([np.nan if x is None else x for x in np.atleast_1d(v)], dtype=float)


def fit_case(fixture: str, name: str) -> tuple[CoxResult, dict[str, Any], pd.DataFrame]:
    c = REF[fixture]["cases"][name]
    d = _data(c["data"])
    names = list(c["names"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        fit = cox_fit(
            d["time"].to_numpy(),
            d["status"].to_numpy(),
            d[names].to_numpy(dtype=float),
            names=names,
            ties=c["ties"],
            start=d["start"].to_numpy() if c["has_start"] else None,
            strata=d["strata"].to_numpy() if c["has_strata"] else None,
            cluster=d["cluster"].to_numpy() if c["has_cluster"] else None,
            weights=d["weights"].to_numpy() if c["has_weights"] else None,
            robust=c.get("robust_arg"),
            init=c.get("init"),
            max_iter=int(c["iter_max"]),
        )
    return fit, c, d


def _close(actual: Any, desired: Any, what: str, rtol: float = RTOL) -> None:
    a = np.asarray(actual, dtype=float)
    b = _arr(desired).reshape(a.shape) if np.size(desired) == a.size else _arr(desired)
    npt.assert_allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True, err_msg=what)


@pytest.mark.reference
@pytest.mark.parametrize(("fixture", "name"), CASES, ids=IDS)
def test_cox_fit_matches_coxph(fixture: str, name: str) -> None:
    fit, c, _ = fit_case(fixture, name)
    tag = f"{fixture}:{name}"
    assert list(fit.names) == list(c["names"])
    assert fit.n == c["n"]
    assert fit.events == c["events"]
    assert fit.iterations == c["iter"]
    assert fit.case_weights == c["has_weights"]
    assert fit.counting_process == c["has_start"]
    _close(fit.coef, c["coef"], f"coef: {tag}")
    _close(fit.se, c["se"], f"se: {tag}")
    if c["robust"]:
        assert fit.variance == "robust"
        assert fit.robust_se is not None
        _close(fit.robust_se, c["robust_se"], f"robust_se: {tag}")
    else:
        assert fit.variance == "model"
        assert fit.robust_se is None
    for key in ("z", "p", "lower", "upper"):
        _close(getattr(fit, key), c[key], f"{key}: {tag}")
    _close(fit.var, c["var"], f"var: {tag}")
    _close(fit.naive_var, c["naive_var"], f"naive_var: {tag}")
    _close(fit.loglik, c["loglik"], f"loglik: {tag}")
    assert set(fit.tests) == set(c["tests"])
    for key, t in c["tests"].items():
        assert fit.tests[key].df == t["df"]
        _close([fit.tests[key].chisq, fit.tests[key].p], [t["chisq"], t["p"]], f"tests: {tag}")
    _close(
        [fit.concordance, fit.concordance_se],
        [c["concordance"], c["concordance_se"]],
        f"concordance: {tag}",
    )
    r_conv = not any("Ran out of iterations" in w for w in c["warnings"])
    assert fit.converged == r_conv


@pytest.mark.reference
@pytest.mark.parametrize("transform", ["km", "rank", "identity"])
@pytest.mark.parametrize(("fixture", "name"), CASES, ids=IDS)
def test_cox_zph_matches_r(fixture: str, name: str, transform: str) -> None:
    fit, c, _ = fit_case(fixture, name)
    ref = c["zph"][transform]
    assert ref is not None
    z = cox_zph(fit, transform=transform)  # type: ignore[arg-type]
    assert list(z.terms) == list(ref["terms"])
    for term, r in ref["terms"].items():
        chisq, df, p = z.terms[term]
        assert df == r["df"]
        _close([chisq, p], [r["chisq"], r["p"]], f"zph: {fixture}:{name} {transform} {term}")
    assert z.global_[1] == ref["global"]["df"]
    _close(
        [z.global_[0], z.global_[2]],
        [ref["global"]["chisq"], ref["global"]["p"]],
        f"zph: {fixture}:{name} {transform} global",
    )


@pytest.mark.reference
@pytest.mark.parametrize(("fixture", "name"), CASES, ids=IDS)
def test_cox_zph_per_column_matches_r(fixture: str, name: str) -> None:
    fit, c, _ = fit_case(fixture, name)
    ref = c["zph"]["km_columns"]
    z = cox_zph(fit, transform="km", terms=False)
    ours = dict(zip(c["r_names"], c["names"], strict=True))
    assert list(z.terms) == [ours[k] for k in ref["terms"]]
    for col, r in ref["terms"].items():
        _close(
            [z.terms[ours[col]][0], z.terms[ours[col]][2]],
            [r["chisq"], r["p"]],
            f"zph: {fixture}:{name} km column {col}",
        )


@pytest.mark.reference
def test_to_dict_marks_weights_and_counting() -> None:
    fit, _, _ = fit_case("cox_counting", "heart_weights_cluster")
    out = fit.to_dict()
    assert out["case_weights"] is True
    assert out["counting_process"] is True
    assert out["variance"] == "robust"
    assert "robust_se" in out["coefficients"]["age"]
    plain, _, _ = fit_case("cox_counting", "heart_efron")
    assert "case_weights" not in plain.to_dict()
