"""Cox edge cases that must not crash."""

import numpy as np

from mmrwe.stats.cox import cox_fit


def test_loglik_exactly_zero_does_not_crash():
    # One event, alone in its risk set at the last time: the partial likelihood is 1 for any
    # beta (log-likelihood 0), so coxfit6.c's ratio test divides 0 by 0 (NaN: not converged).
    fit = cox_fit(
        [1.0, 2.0, 3.0], [False, False, True], np.array([[0.0], [1.0], [2.0]]), names=["x"]
    )
    assert fit.loglik[0] == 0.0
    assert fit.events == 1
    # R 4.2.2 / survival 3.5.3: coef 0, loglik c(0, 0), iter 21, "Ran out of iterations"
    assert fit.coef[0] == 0.0
    assert fit.iterations == 21
    assert not fit.converged
