"""Youden cut-offs against R cutpointr 1.1 and DeLong AUC intervals against pROC."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from tests.conftest import REFERENCE, load_expected

from mmrwe.stats.cutpoint import youden_cutpoint

REF = load_expected("cutpointr")


def load_data(name: str) -> pd.DataFrame:
    # correctly rounded parsing: exactly the doubles R read (pandas' default is not)
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv", float_precision="round_trip")


@pytest.mark.reference
@pytest.mark.parametrize("name", list(REF["cases"]))
def test_youden_matches_cutpointr_and_proc(name: str) -> None:
    c = REF["cases"][name]
    d = load_data(c["data"])
    r = youden_cutpoint(d[c["x"]], d.event, direction=c["direction"], conf_level=c["conf_level"])
    assert r.cutpoint == pytest.approx(c["cutpoint"], rel=1e-15)
    npt.assert_allclose(r.sensitivity, c["sensitivity"], rtol=1e-12)
    npt.assert_allclose(r.specificity, c["specificity"], rtol=1e-12)
    npt.assert_allclose(r.youden, c["youden"], rtol=1e-12)
    npt.assert_allclose(r.auc, c["auc"], rtol=1e-12)
    npt.assert_allclose(r.auc, c["auc_cutpointr"], rtol=1e-12)
    npt.assert_allclose(r.auc_lower, c["auc_lower"], rtol=1e-12, atol=1e-15)
    npt.assert_allclose(r.auc_upper, c["auc_upper"], rtol=1e-12)
    npt.assert_allclose(r.tied_cutpoints, np.atleast_1d(c["tied"]), rtol=0)
    assert r.n == c["n"]


@pytest.mark.reference
def test_median_of_tied_cuts_can_have_a_lower_youden() -> None:
    # cutpointr reports the metrics of the rule at the median cut, not the tied maximum
    c = REF["cases"]["tie_ge"]
    assert c["youden"] < c["max_youden"]
    d = load_data(c["data"])
    r = youden_cutpoint(d.x, d.event, direction=">=")
    assert r.youden < float(np.max(r.profile.statistics))
    assert r.notes


@pytest.mark.reference
def test_median_cut_need_not_be_observed() -> None:
    c = REF["cases"]["gap_ge"]
    d = load_data(c["data"])
    assert c["cutpoint"] not in set(d.x)
    r = youden_cutpoint(d.x, d.event, direction=">=")
    assert r.cutpoint == c["cutpoint"]
