"""Fine-Gray (crr): reductions to known models, conventions, errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import numpy.testing as npt
import pytest

from mmrwe.core.errors import EstimationError, InputError, MmrweWarning
from mmrwe.stats.cox import cox_fit
from mmrwe.stats.finegray import cause_specific_cox, finegray


def _sample(seed: int, n: int = 80, competing: bool = True):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)]).astype(float)
    time = np.round(rng.exponential(5 * np.exp(-0.4 * x[:, 0]), n), 1) + 0.1
    cause = rng.choice([0, 1, 2] if competing else [0, 1], n)
    return time, cause, x


def test_without_competing_events_equals_breslow_cox_with_robust_variance() -> None:
    # With no competing event the subdistribution risk set is the ordinary one, the
    # pseudo-likelihood is Cox's with Breslow ties, and crr's sandwich has no censoring
    # term (q(u) sums over competing rows only): it is coxph's robust (Lin-Wei) variance.
    # crr stops at gtol = 1e-6 (relative gradient), coxph at a 1e-9 change in the log
    # likelihood: iterate both to the maximum to compare the maximizers
    time, cause, x = _sample(1, competing=False)
    fg = finegray(time, cause, x, names=["a", "b"], gtol=1e-13, max_iter=50)
    cx = cox_fit(time, cause == 1, x, names=["a", "b"], ties="breslow", robust=True)
    npt.assert_allclose(fg.coef, cx.coef, rtol=1e-8)
    assert cx.robust_se is not None
    npt.assert_allclose(fg.se, cx.robust_se, rtol=1e-7)
    npt.assert_allclose(fg.information, np.linalg.inv(cx.naive_var), rtol=1e-6)
    assert fg.loglik == pytest.approx(cx.loglik[1], rel=1e-12)
    assert fg.loglik_null == pytest.approx(cx.loglik[0], rel=1e-12)


def test_one_binary_covariate_hand_checkable_score_at_zero() -> None:
    # Score at b = 0 with one binary x and no censoring (so every weight G(t-)/G(t_i-) = 1):
    # sum over events of x_i - xbar(t_i), xbar over the subdistribution risk set (rows with
    # T >= t plus competing rows that failed before t). Times 1..6, causes 1,2,1,1,2,1,
    # x = 1,1,0,1,0,0. Event times and risk sets:
    #   t=1: rows 1-6, xbar = 3/6;   t=3: rows 3-6 and competing row 2, xbar = 2/5;
    #   t=4: rows 4-6 and row 2, xbar = 2/4;   t=6: row 6 and rows 2, 5, xbar = 1/3
    #   U(0) = (1 - 1/2) + (0 - 2/5) + (1 - 1/2) + (0 - 1/3) = 4/15
    time = np.arange(1, 7, dtype=float)
    cause = np.array([1, 2, 1, 1, 2, 1])
    x = np.array([[1.0], [1.0], [0.0], [1.0], [0.0], [0.0]])
    with pytest.warns(MmrweWarning, match="did not converge"):
        fit = finegray(time, cause, x, names=["x"], max_iter=0)
    assert fit.score[0] == pytest.approx(4 / 15, rel=1e-14)
    assert not fit.converged  # max_iter = 0 computes at init only, as crr(maxiter = 0)


def test_row_order_and_covariate_shift_do_not_change_the_fit() -> None:
    time, cause, x = _sample(2)
    a = finegray(time, cause, x, names=["a", "b"])
    perm = np.random.default_rng(0).permutation(time.size)
    b = finegray(time[perm], cause[perm], x[perm], names=["a", "b"])
    c = finegray(time, cause, x + np.array([1000.0, -3.0]), names=["a", "b"])
    for other in (b, c):
        npt.assert_allclose(other.coef, a.coef, rtol=1e-9)
        npt.assert_allclose(other.se, a.se, rtol=1e-8)
        assert other.loglik == pytest.approx(a.loglik, rel=1e-10)


def test_cengroup_with_one_level_is_the_default() -> None:
    time, cause, x = _sample(3)
    a = finegray(time, cause, x, names=["a", "b"])
    b = finegray(time, cause, x, names=["a", "b"], cengroup=np.full(time.size, "site"))
    npt.assert_array_equal(a.coef, b.coef)
    npt.assert_array_equal(a.var, b.var)


def test_event_labels_and_to_dict() -> None:
    time, cause, x = _sample(4)
    labels = np.array(["censored", "progression", "death"])[cause]
    fit = finegray(time, labels, x, names=["age", "male"], event="progression",
                   censored="censored")  # fmt: skip
    ref = finegray(time, cause, x, names=["age", "male"])
    npt.assert_array_equal(fit.coef, ref.coef)
    d = fit.to_dict()
    assert d["event"] == "progression" and d["competing"] == "death"
    assert set(d["coefficients"]) == {"age", "male"}
    for entry in d["coefficients"].values():
        assert {"coef", "se", "shr", "lower", "upper", "p"} <= set(entry)
        assert entry["shr"] == pytest.approx(np.exp(entry["coef"]))
    assert d["conventions"]["variance"].startswith("sandwich")
    json.dumps(d, allow_nan=False)


def test_no_convergence_is_reported_not_hidden() -> None:
    time, cause, x = _sample(5)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = finegray(time, cause, x, names=["a", "b"], max_iter=1)
    assert not fit.converged
    assert any(issubclass(w.category, MmrweWarning) for w in rec)
    assert fit.warnings


def test_cause_specific_cox_censors_the_competing_events() -> None:
    time, cause, x = _sample(6)
    cs = cause_specific_cox(time, cause, x, 2, names=["a", "b"])
    ref = cox_fit(time, cause == 2, x, names=["a", "b"])
    npt.assert_array_equal(cs.coef, ref.coef)
    assert cs.events == int(np.sum(cause == 2))


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"X": np.ones((6, 1))}, EstimationError, "singular"),
        ({"cause": [0, 2, 0, 2, 0, 2]}, EstimationError, "never occurs"),
        ({"X": np.array([[1.0], [np.nan], [0], [1], [0], [1]])}, InputError, "missing"),
        ({"names": ["a", "b"]}, InputError, "names"),
        ({"X": np.ones((5, 1))}, InputError, "one row per patient"),
        ({"cengroup": ["a", None, "a", "a", "b", "b"]}, InputError, "cengroup"),
    ],
    ids=["constant covariate", "no event of interest", "NaN covariate", "names mismatch",
         "rows mismatch", "missing cengroup"],
)  # fmt: skip
def test_bad_input_raises_clear_errors(change, error, match) -> None:
    args = {"time": [1.0, 2, 3, 4, 5, 6], "cause": [1, 2, 1, 0, 1, 2],
                "X": np.array([[1.0], [0], [0], [1], [0], [1]]), "names": ["x"]}  # fmt: skip
    args.update(change)
    with pytest.raises(error, match=match):
        finegray(args.pop("time"), args.pop("cause"), args.pop("X"), **args)
