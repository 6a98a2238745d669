import numpy as np
import pytest

from mmrwe.stats.descriptive import describe_numeric, kruskal_wallis, wilcoxon_rank_sum
from refdata import load_data, load_expected

pytestmark = pytest.mark.reference
REF = load_expected("descriptive")
LUNG = load_data("descriptive_lung")


@pytest.mark.parametrize(
    ("col", "key"), [("age", "age"), ("wt.loss", "wt_loss"), ("meal.cal", "meal_cal")]
)
def test_quartiles_type7(col, key):
    d = describe_numeric(LUNG[col].to_numpy(float))
    np.testing.assert_allclose([d["q1"], d["median"], d["q3"]], REF["quantiles"][key], rtol=1e-12)


def test_sd():
    assert describe_numeric(LUNG["age"].to_numpy(float))["sd"] == pytest.approx(
        REF["sd"]["age"], rel=1e-12
    )
    assert describe_numeric(LUNG["wt.loss"].to_numpy(float))["sd"] == pytest.approx(
        REF["sd"]["wt_loss"], rel=1e-12
    )


@pytest.mark.parametrize(
    ("col", "key"), [("age", "wilcox_age_by_sex"), ("wt.loss", "wilcox_wtloss_by_sex")]
)
def test_wilcoxon_normal_approximation(col, key):
    x = LUNG[col].to_numpy(float)
    s = LUNG["sex"].to_numpy()
    ok = ~np.isnan(x)
    r = wilcoxon_rank_sum(x[ok & (s == 1)], x[ok & (s == 2)])
    assert r["statistic"] == REF[key]["statistic"]
    assert r["p"] == pytest.approx(REF[key]["p"], rel=1e-9)
    assert "continuity" in r["method"]


def test_wilcoxon_exact_without_ties():
    d = load_data("descriptive_small")
    r = wilcoxon_rank_sum(d.value[d.group == "a"].to_numpy(), d.value[d.group == "b"].to_numpy())
    assert r["statistic"] == REF["wilcox_small_exact"]["statistic"]
    assert r["p"] == pytest.approx(REF["wilcox_small_exact"]["p"], rel=1e-9)
    assert "exact" in r["method"]


@pytest.mark.parametrize(
    ("col", "key"), [("age", "kruskal_age_by_ecog"), ("meal.cal", "kruskal_meal_by_ecog")]
)
def test_kruskal(col, key):
    x = LUNG[col].to_numpy(float)
    g = LUNG["ph.ecog"].to_numpy()
    ok = ~np.isnan(x) & ~np.isnan(g)
    labels = np.array([str(int(v)) for v in g[ok]], dtype=object)
    levels = sorted(set(labels))
    r = kruskal_wallis(x[ok], labels, levels)
    assert r["df"] == REF[key]["df"]
    assert r["statistic"] == pytest.approx(REF[key]["statistic"], rel=1e-9)
    assert r["p"] == pytest.approx(REF[key]["p"], rel=1e-9)
