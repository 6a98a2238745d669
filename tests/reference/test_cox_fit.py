"""Cox model and PH test against R coxph / cox.zph (tests/reference/r/cox_fit.R, survival 3.5).

Measured agreement (all 24 cases): coefficients, SEs, variance, log-likelihoods, the four
tests, concordance and its SE within 1e-12 relative; cox.zph within 1e-13 except the
monotone-likelihood case (1e-6: at coef = -21 the information is nearly singular).
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

REF = load_expected("cox_fit")
CASES = sorted(REF["cases"])
RTOL = 1e-9
# cox.zph at a diverging coefficient: the 2p x 2p information is nearly singular there
RTOL_ZPH_SEPARATION = 1e-5


def _data(name: str) -> pd.DataFrame:
    # round_trip: read exactly the doubles R wrote with %.17g
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv", float_precision="round_trip")


def _arr(v: Any) -> np.ndarray:
    if v is None:
        return np.array([np.nan])
    if isinstance(v, list) and v and isinstance(v[0], list):
        return np.array([[np.nan if x is None else x for x in row] for row in v], dtype=float)
    return np.array([np.nan if x is None else x for x in np.atleast_1d(v)], dtype=float)


def fit_case(name: str) -> tuple[CoxResult, dict[str, Any]]:
    c = REF["cases"][name]
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
            strata=d["strata"].to_numpy() if c["has_strata"] else None,
            cluster=d["cluster"].to_numpy() if c["has_cluster"] else None,
            robust=bool(c["robust"]),
            max_iter=int(c["iter_max"]),
        )
    return fit, c


def _close(actual: Any, desired: Any, rtol: float = RTOL) -> None:
    npt.assert_allclose(
        np.asarray(actual, dtype=float), _arr(desired), rtol=rtol, atol=0.0, equal_nan=True
    )


@pytest.mark.reference
@pytest.mark.parametrize("name", CASES)
def test_cox_fit_matches_coxph(name: str) -> None:
    fit, c = fit_case(name)
    assert list(fit.names) == list(c["names"])
    assert fit.n == c["n"]
    assert fit.events == c["events"]
    assert fit.iterations == c["iter"]
    _close(fit.coef, c["coef"])  # NaN where R gives NA
    estimable = np.isfinite(fit.coef)
    _close(fit.se[estimable], _arr(c["se"])[estimable])
    assert np.all(np.isnan(fit.se[~estimable]))
    if c["robust"]:
        assert fit.variance == "robust"
        assert fit.robust_se is not None
        _close(fit.robust_se[estimable], _arr(c["robust_se"])[estimable])
    else:
        assert fit.variance == "model"
        assert fit.robust_se is None
    for key in ("z", "p"):
        _close(getattr(fit, key), c[key])
    for key in ("lower", "upper"):
        # jsonlite writes R's Inf (exp overflow at a diverging coefficient) as null
        ours, theirs = getattr(fit, key), _arr(c[key])
        finite = np.isfinite(theirs)
        _close(ours[finite], theirs[finite])
        assert not np.any(np.isfinite(ours[~finite]))
    _close(fit.var, c["var"])
    _close(fit.naive_var, c["naive_var"])
    _close(fit.loglik, c["loglik"])
    assert set(fit.tests) == set(c["tests"])
    for key, t in c["tests"].items():
        assert fit.tests[key].df == t["df"]
        _close([fit.tests[key].chisq, fit.tests[key].p], [t["chisq"], t["p"]])
    _close([fit.concordance, fit.concordance_se], [c["concordance"], c["concordance_se"]])


@pytest.mark.reference
@pytest.mark.parametrize("name", CASES)
def test_cox_fit_warnings_match_coxph(name: str) -> None:
    c = REF["cases"][name]
    r_warn = " ".join(c["warnings"])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit, _ = fit_case_raw(name)
    sep = [w for w in rec if issubclass(w.category, SeparationWarning)]
    if "Loglik converged before variable" in r_warn:
        assert sep, "R warns of an infinite coefficient; we must too"
        assert any("Firth" in m for m in fit.warnings)
    else:
        assert not sep
    assert fit.converged == ("Ran out of iterations" not in r_warn)


def fit_case_raw(name: str) -> tuple[CoxResult, dict[str, Any]]:
    c = REF["cases"][name]
    d = _data(c["data"])
    names = list(c["names"])
    fit = cox_fit(
        d["time"].to_numpy(),
        d["status"].to_numpy(),
        d[names].to_numpy(dtype=float),
        names=names,
        ties=c["ties"],
        strata=d["strata"].to_numpy() if c["has_strata"] else None,
        cluster=d["cluster"].to_numpy() if c["has_cluster"] else None,
        robust=bool(c["robust"]),
        max_iter=int(c["iter_max"]),
    )
    return fit, c


@pytest.mark.reference
@pytest.mark.parametrize("transform", ["km", "rank", "identity"])
@pytest.mark.parametrize("name", CASES)
def test_cox_zph_matches_r(name: str, transform: str) -> None:
    fit, c = fit_case(name)
    ref = c["zph"][transform]
    assert ref is not None
    rtol = RTOL_ZPH_SEPARATION if name == "separation" else RTOL
    z = cox_zph(fit, transform=transform)  # type: ignore[arg-type]
    assert list(z.terms) == list(ref["terms"])
    for term, r in ref["terms"].items():
        chisq, df, p = z.terms[term]
        assert df == r["df"]
        _close([chisq, p], [r["chisq"], r["p"]], rtol)
    assert z.global_[1] == ref["global"]["df"]
    _close([z.global_[0], z.global_[2]], [ref["global"]["chisq"], ref["global"]["p"]], rtol)
    out = z.to_dict()
    assert out["transform"] == transform
    assert set(out["global"]) == {"chisq", "df", "p"}


@pytest.mark.reference
@pytest.mark.parametrize("name", ["veteran_celltype_ref", "colon_death", "lung_singular"])
def test_cox_zph_per_column_matches_r(name: str) -> None:
    # terms = FALSE: each dummy of a factor is tested on its own
    fit, c = fit_case(name)
    ref = c["zph"]["km_columns"]
    z = cox_zph(fit, transform="km", terms=False)
    # R labels the rows with its column names ("rxLev"); ours are "rx=Lev"
    ours = dict(zip(c["r_names"], c["names"], strict=True))
    assert list(z.terms) == [ours[k] for k in ref["terms"]]
    for col, r in ref["terms"].items():
        _close([z.terms[ours[col]][0], z.terms[ours[col]][2]], [r["chisq"], r["p"]])
    _close([z.global_[0]], [ref["global"]["chisq"]])


@pytest.mark.reference
def test_to_dict_na_coefficient_is_none() -> None:
    fit, c = fit_case("lung_singular")
    out = fit.to_dict()
    assert out["coefficients"]["k"] == {
        "coef": None,
        "se": None,
        "hr": None,
        "lower": None,
        "upper": None,
        "z": None,
        "p": None,
    }
    assert out["coefficients"]["age"]["coef"] == pytest.approx(c["coef"][0], rel=RTOL)
    assert out["tests"]["lr"]["df"] == 2
    assert out["n"] == c["n"]
    assert out["events"] == c["events"]
    assert out["ties"] == "efron"


@pytest.mark.reference
def test_to_dict_robust_has_robust_se() -> None:
    fit, c = fit_case("lung_cluster_inst")
    out = fit.to_dict()
    assert out["coefficients"]["age"]["robust_se"] == pytest.approx(c["robust_se"][0], rel=RTOL)
    assert set(out["tests"]) == {"lr", "wald", "score", "robust_score"}
