"""maxstat against R maxstat 0.7 (tests/reference/r/maxstat.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from tests.conftest import REFERENCE, load_expected

from mmrwe.stats import cutpoint as C
from mmrwe.stats.cutpoint import logrank_scores, maxstat_cutpoint, maxstat_cutpoint_binary


def load_data(name: str) -> pd.DataFrame:
    # pandas' default float parser is not correctly rounded (errors of ~100 ulp seen on
    # R-written CSVs); round_trip reads exactly the doubles R parsed
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv", float_precision="round_trip")


REF = load_expected("maxstat")
SURV = [k for k, c in REF["cases"].items() if c["kind"] == "survival"]
BIN = [k for k, c in REF["cases"].items() if c["kind"] == "binary"]


@pytest.mark.reference
@pytest.mark.parametrize("name", SURV)
def test_maxstat_survival_matches_r(name: str) -> None:
    c = REF["cases"][name]
    d = load_data(c["data"])
    r = maxstat_cutpoint(d.time, d.status, d[c["x"]], minprop=c["minprop"], maxprop=c["maxprop"])
    assert r.cutpoint == c["cutpoint"]
    assert r.n == c["n"]
    assert r.n_low == c["n_low"]
    assert r.events_low == c["events_low"]
    npt.assert_allclose(r.statistic, c["statistic"], rtol=1e-12)
    npt.assert_allclose(r.p_lau94, c["p_lau94"], rtol=1e-10)
    if c["p_lau92"] is None:
        assert r.p_lau92 is None or not np.isfinite(r.p_lau92)
    else:
        npt.assert_allclose(r.p_lau92, c["p_lau92"], rtol=1e-10)
    assert r.p_adjusted == r.p_lau94
    assert r.p_adjusted_method == "Lau94"
    npt.assert_allclose(r.profile.cutpoints, c["cuts"], rtol=0)
    npt.assert_allclose(r.profile.statistics, c["stats"], rtol=1e-12)
    npt.assert_array_equal(r.profile.n_low, c["m"])
    npt.assert_allclose(r.critical_value, c["critical_lau94"], rtol=1e-9)
    npt.assert_allclose(logrank_scores(d.time, d.status), c["scores"], rtol=1e-12, atol=1e-14)
    hr = r.hr_low_vs_high
    assert hr is not None
    if hr.method == "cox":
        npt.assert_allclose(hr.log_hr, c["hr"]["coef"], rtol=1e-9)
        npt.assert_allclose(hr.se, c["hr"]["se"], rtol=1e-9)
        npt.assert_allclose(
            [hr.hr, hr.lower, hr.upper], [c["hr"][k] for k in ("hr", "lower", "upper")], rtol=1e-9
        )
        npt.assert_allclose(hr.p, c["hr"]["p"], rtol=1e-8)
    else:
        # monotone likelihood: R's coxph "ran out of iterations" with an SE in the hundreds
        assert c["hr"]["se"] > 50
        assert "monotone" in (hr.note or "")
        assert np.isfinite(hr.hr)


@pytest.mark.reference
def test_tie_of_the_maximum_takes_the_smallest_cut() -> None:
    c = REF["cases"]["tie_binary"]
    stats = np.asarray(c["stats"])
    assert np.sum(np.isclose(stats, stats.max(), rtol=1e-12)) >= 2  # a genuine tie
    d = load_data(c["data"])
    r = maxstat_cutpoint_binary(d.y, d.x)
    assert r.cutpoint == c["cutpoint"] == min(np.asarray(c["cuts"])[np.isclose(stats, stats.max())])


@pytest.mark.reference
@pytest.mark.parametrize("name", BIN)
def test_maxstat_binary_matches_r(name: str) -> None:
    c = REF["cases"][name]
    d = load_data(c["data"]).iloc[c["rows"]]
    r = maxstat_cutpoint_binary(
        d[c["y"]], d[c["x"]], smethod=c["smethod"], minprop=c["minprop"], maxprop=c["maxprop"]
    )
    assert r.cutpoint == c["cutpoint"]
    assert r.n == c["n"]
    assert r.n_low == c["n_low"]
    assert r.events_low == c["events_low"]
    npt.assert_allclose(r.statistic, c["statistic"], rtol=1e-12)
    npt.assert_allclose(r.p_lau94, c["p_lau94"], rtol=1e-10)
    npt.assert_allclose(r.p_lau92, c["p_lau92"], rtol=1e-10)
    npt.assert_allclose(r.profile.statistics, c["stats"], rtol=1e-12)
    assert r.hr_low_vs_high is None


@pytest.mark.reference
@pytest.mark.parametrize("name", ["lung_age", "demo_hgb"])
def test_condmc_agrees_with_r_in_distribution(name: str) -> None:
    c = REF["condmc"][name]
    d = load_data(c["data"])
    r = maxstat_cutpoint(d.time, d.status, d[c["x"]], pmethod="condMC", n_perm=c["B"], seed=11)
    assert r.p_adjusted_method == "condMC"
    assert r.p_adjusted == r.p_permutation
    # two independent Monte-Carlo estimates of one p: difference within 4 binomial SEs
    p = (r.p_permutation + c["p"]) / 2
    se = np.sqrt(2 * p * (1 - p) / c["B"]) + 1 / c["B"]
    assert abs(r.p_permutation - c["p"]) < 4 * se


@pytest.mark.reference
def test_bootstrap_resample_equals_r_on_replicated_rows() -> None:
    c = REF["replicated"]
    d = load_data(c["data"])
    t, e, x = d.time.to_numpy(float), d.status.to_numpy(bool), d[c["x"]].to_numpy(float)
    w = np.bincount(c["rows"], minlength=t.size).astype(float)[None, :]
    cut = C._maxstat_batched(t, e.astype(float), C._XFrame(x), w, 0.1, 0.9)
    assert cut[0] == c["cutpoint"]
    # the same resample through the single-data path on replicated rows
    r = maxstat_cutpoint(t[c["rows"]], e[c["rows"]], x[c["rows"]])
    npt.assert_allclose(r.statistic, c["statistic"], rtol=1e-12)
    tf = C._TimeFrame(t, e)
    z = (x <= cut[0]).astype(float)[None, :][:, tf.order]
    b, se, _ = C._fit_binary_batched(tf, z, w[:, tf.order], "efron", "auto")
    npt.assert_allclose(b[0], c["coef"], rtol=1e-9)
    npt.assert_allclose(se[0], c["se"], rtol=1e-9)


MINPROP_ONLY = [k for k in REF["cases"] if "_minprop_" in k]


@pytest.mark.reference
@pytest.mark.parametrize("name", MINPROP_ONLY)
def test_minprop_alone_keeps_r_maxprop_0_9(name: str) -> None:
    # R maxstat.test(minprop = 0.2) searches up to its default maxprop = 0.9; moving the
    # upper bound to 1 - minprop changed the candidates and the p-value (issue #21)
    c = REF["cases"][name]
    assert c["maxprop"] == 0.9 and c["minprop"] != 0.1
    d = load_data(c["data"])
    if c["kind"] == "survival":
        r = maxstat_cutpoint(d.time, d.status, d[c["x"]], minprop=c["minprop"])
    else:
        d = d.iloc[c["rows"]]
        r = maxstat_cutpoint_binary(
            d[c["y"]], d[c["x"]], smethod=c["smethod"], minprop=c["minprop"]
        )
    assert r.maxprop == 0.9
    assert r.cutpoint == c["cutpoint"]
    npt.assert_allclose(r.p_lau94, c["p_lau94"], rtol=1e-10)
    npt.assert_allclose(r.p_lau92, c["p_lau92"], rtol=1e-10)
    npt.assert_allclose(r.profile.cutpoints, c["cuts"], rtol=0)


@pytest.mark.reference
@pytest.mark.parametrize(("minprop", "maxprop"), [(0.2, None), (0.2, 0.7)])
def test_cutpoint_spec_minprop_and_maxprop_reach_maxstat(
    tmp_path: Path, minprop: float, maxprop: float | None
) -> None:
    # [[cutpoint]] minprop (and maxprop) through the study, checked against R's numbers
    from mmrwe.spec import load_spec
    from mmrwe.study.pipeline import run as run_study

    c = REF["cases"]["lung_age_minprop_0_2"]
    d = load_data(c["data"])
    start = pd.Timestamp("2020-01-01")
    pat = pd.DataFrame(
        {
            "patient_id": [f"P{k:03d}" for k in range(len(d))],
            "start_date": start.strftime("%Y-%m-%d"),
            "death_date": [
                (start + pd.Timedelta(days=int(t))).strftime("%Y-%m-%d") if s else ""
                for t, s in zip(d.time, d.status, strict=True)
            ],
            "last_followup_date": [
                (start + pd.Timedelta(days=int(t))).strftime("%Y-%m-%d") for t in d.time
            ],
            "progression_date": "",
            "age": d.age,
        }
    )
    pat.to_csv(tmp_path / "patients.csv", index=False)
    extra = "" if maxprop is None else f"maxprop = {maxprop}\n"
    (tmp_path / "study.toml").write_text(
        '[study]\ntitle = "maxprop"\ntime_unit = "days"\n[data]\npatients = "patients.csv"\n'
        '[variables.age]\nunit = "years"\n'
        f'[[cutpoint]]\nendpoint = "OS"\nvariable = "age"\nminprop = {minprop}\n{extra}'
        "bootstrap = 0\n"
    )
    entry = run_study(load_spec(tmp_path / "study.toml")).results.to_dict()["cutpoints"][0]
    assert entry["status"] == "ok", entry
    assert (entry["minprop"], entry["maxprop"]) == (minprop, maxprop or 0.9)
    direct = maxstat_cutpoint(d.time, d.status, d.age, minprop=minprop, maxprop=maxprop)
    assert entry["cutpoint"] == direct.cutpoint
    npt.assert_allclose(entry["p_lau94"], direct.p_lau94, rtol=1e-12)
    if maxprop is None:
        assert entry["cutpoint"] == c["cutpoint"]
        npt.assert_allclose(entry["p_lau94"], c["p_lau94"], rtol=1e-10)
