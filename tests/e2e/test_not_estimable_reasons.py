"""Not estimable is null with a reason, never a sentinel number (issue #21).

On 60 patients of R survival's lung data in two centers, with columns made to break things
(a factor with one level, a group without deaths, a covariate constant in one center):

* every null number of a Cox entry, a median, a landmark, a per-center coefficient and the
  term x center test has a ``<name>_reason`` (or the entry's ``reason``) beside it;
* a one-level factor is reported, in memory and in the chunked fit, never dropped silently;
* a column constant in a center has no coefficient there, even where the fit returned one
  (0 with a standard error of 0 when another coefficient diverges);
* the center text says "not estimable" in words, never "NA" or a negative df;
* a PH test that cannot be computed is null with ``ph_test_reason``, the model standing.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mmrwe
from mmrwe.study.analyses import center_effects as ce

LUNG = Path(__file__).resolve().parent / "lung"

EXTRA = """
[[cox]]
endpoint = "OS"
terms = ["one", "age"]

[[cox]]
endpoint = "OS"
terms = ["nodeath"]

[[cox]]
endpoint = "OS"
terms = ["const_a"]
"""


def _folder(d: Path) -> Path:
    p = pd.read_csv(LUNG / "patients.csv", dtype=str, keep_default_na=False).iloc[:60].copy()
    k = np.arange(len(p))
    p["center"] = np.where(k < 30, "A", "B")
    p["one"] = "x"  # a factor with one level
    p["const_a"] = np.where(k < 30, "1", (k % 2).astype(str))  # constant in center A
    dead = p["death_date"] != ""
    p["nodeath"] = np.where(dead, "no", np.where(k % 2 == 0, "yes", "no"))  # no deaths in "yes"
    p.to_csv(d / "patients.csv", index=False)
    (d / "study.toml").write_text((LUNG / "study.toml").read_text() + EXTRA)
    return d / "study.toml"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    spec = _folder(tmp_path_factory.mktemp("reasons"))
    return mmrwe.Study.from_toml(spec).run().to_dict()


NUMBERS = {"estimate", "lower", "upper", "se", "robust_se", "p", "z", "hr", "coef", "surv"}
NUMBERS |= {"std_err", "concordance", "ph_test", "chisq", "df"}


def _unexplained(node: Any, path: str = "") -> list[str]:
    """Paths of null numbers with neither a ``<name>_reason`` nor a ``reason`` beside them."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if v is None and k in NUMBERS and not (node.get(f"{k}_reason") or node.get("reason")):
                out.append(f"{path}.{k}")
            out += _unexplained(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _unexplained(v, f"{path}[{i}]")
    return out


def test_every_null_number_says_why(result: dict[str, Any]) -> None:
    parts = {
        "endpoints": result["endpoints"],
        "logrank": [{k: v for k, v in e.items() if k != "curves"} for e in result["logrank"]],
        "curves": [e.get("curves") for e in result["logrank"]],
        "cox": [
            {k: v for k, v in e.items() if k in ("coefficients", "concordance", "ph_test")}
            for e in result["cox"]
        ],
        "center_cox": [
            {k: c.get(k) for k in ("per_center", "stratified_by_center", "interaction")}
            for c in result["center_effects"]["cox"]
        ],
    }
    assert _unexplained(parts) == []


def test_an_infinite_limit_has_its_reason(result: dict[str, Any]) -> None:
    [entry] = [e for e in result["cox"] if e["terms"] == ["nodeath"]]
    c = entry["coefficients"]["nodeath=yes"]
    assert c["upper"] is None and "infinite" in c["upper_reason"]
    assert c["hr"] is not None  # the rest of the entry stands


def test_a_one_level_factor_is_reported_not_dropped(result: dict[str, Any]) -> None:
    [entry] = [e for e in result["cox"] if e["terms"] == ["one", "age"]]
    assert entry["status"] == "not_estimable"
    assert "one has one level (x)" in entry["reason"]
    [center] = [c for c in result["center_effects"]["cox"] if c["terms"] == ["one", "age"]]
    assert "one level" in center["note"] and "per_center" not in center


def test_a_one_level_factor_in_the_chunked_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmrwe.study.analyses import cox

    monkeypatch.setattr(cox, "COX_IN_MEMORY_MAX_ROWS", 0)  # every model fitted in chunks
    res = mmrwe.Study.from_toml(_folder(tmp_path)).run().to_dict()
    [entry] = [e for e in res["cox"] if e["terms"] == ["one", "age"]]
    assert entry["status"] == "not_estimable" and "one level" in entry["reason"]
    ok = [e for e in res["cox"] if e["status"] == "ok"]
    assert ok and all(e["computation"]["method"] == "chunked" for e in ok)
    assert all(e["concordance"] is not None or e["concordance_reason"] for e in ok)


def test_a_covariate_constant_in_a_center(result: dict[str, Any]) -> None:
    [c] = [c for c in result["center_effects"]["cox"] if c["terms"] == ["const_a"]]
    a = c["per_center"]["A"]["coefficients"]["const_a"]
    assert a["coef"] is None and a["se"] is None and "one value" in a["reason"]
    assert c["per_center"]["B"]["coefficients"]["const_a"]["se"] > 0
    it = c["interaction"]
    assert it["df"] is None and it["chisq"] is None and it["p"] is None
    assert "not estimable" in it["df_reason"]


def test_the_center_text_says_not_estimable_in_words(result: dict[str, Any]) -> None:
    text = result["center_effects"]["statement"]
    assert "interaction not estimable" in text
    assert "NA" not in text.replace("NAN", "") and "-1 df" not in text


def test_no_sentinel_when_another_coefficient_diverges() -> None:
    # Found by a random search: the constant column's "estimate" was 0 with a standard
    # error of 0 (the fit did not flag it singular: the other coefficient diverges).
    t = np.array([90.0, 20, 46, 15, 86, 78, 59])
    e = np.array([1, 0, 0, 0, 1, 0, 1], dtype=bool)
    b = np.array([-0.91, 0.82, 1.28, 0.13, -0.27, 0.21, 0.4])
    rng = np.random.default_rng(0)
    t2, e2 = rng.integers(1, 100, 20).astype(float), rng.random(20) < 0.6
    X = np.column_stack(
        [np.r_[np.full(7, 105.75), rng.normal(100, 5, 20)], np.r_[b, rng.normal(size=20)]]
    )
    center = np.array(["A"] * 7 + ["B"] * 20, dtype=object)
    names = ["a", "b"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = ce._center_fits(np.r_[t, t2], np.r_[e, e2], X, names, center, "efron")
    per, q = ce._per_center(fits, names, ce._constant_in_center(X, center, names))
    a = per["A"]["coefficients"]["a"]
    assert a["coef"] is None and a["se"] is None and a["reason"]
    assert q["a"]["n_centers"] == 1  # left out of Cochran's Q
    for lv in per:
        for c in per[lv]["coefficients"].values():
            assert c["se"] is None or c["se"] > 0


def test_a_ph_test_that_cannot_be_computed_is_null_with_its_reason(tmp_path: Path) -> None:
    # one death: cox.zph's information is singular (it ended in an internal error before)
    d = tmp_path / "one"
    d.mkdir()
    p = pd.read_csv(LUNG / "patients.csv", dtype=str, keep_default_na=False).iloc[:20].copy()
    dead = np.flatnonzero(p["death_date"] != "")
    p.loc[p.index[dead[1:]], "death_date"] = ""
    p.to_csv(d / "patients.csv", index=False)
    shutil.copy(LUNG / "study.toml", d / "study.toml")
    res = mmrwe.Study.from_toml(d / "study.toml").run().to_dict()
    [entry] = res["cox"]
    assert entry["status"] == "ok", entry["reason"]
    assert entry["ph_test"] is None and "singular" in entry["ph_test_reason"]
    assert entry["coefficients"]["age"]["hr"] is not None


def test_every_event_on_day_0_is_not_an_internal_error(tmp_path: Path) -> None:
    # km.median_symmetric divided by zero (issue #21, item 5): now no SE, with the reason
    p = pd.read_csv(LUNG / "patients.csv", dtype=str, keep_default_na=False).iloc[:30].copy()
    p["death_date"] = p["last_followup_date"] = p["start_date"]
    p["progression_date"] = ""
    p.to_csv(tmp_path / "patients.csv", index=False)
    shutil.copy(LUNG / "study.toml", tmp_path / "study.toml")
    result = mmrwe.Study.from_toml(tmp_path / "study.toml").run()
    assert result.failed == []
    sym = result.to_dict()["endpoints"]["OS"]["median_symmetric"]
    assert sym["estimate"] == 0.0 and sym["std_err"] is None and "time 0" in sym["std_err_reason"]
    assert _unexplained(result.to_dict()["endpoints"]) == []


def test_a_firth_fit_that_cannot_be_computed_is_null_with_its_reason(tmp_path: Path) -> None:
    # a text column as a factor (a level per patient, 50 dummies for 51 patients): the
    # penalized information is singular; the random-spec property test found it as an
    # internal error (LinAlgError) on the demo
    from mmrwe.study.demo import demo_dir

    p = pd.read_csv(demo_dir() / "patients.csv", dtype=str, keep_default_na=False)
    p["note"] = [f"text {i}" for i in range(len(p))]
    p.to_csv(tmp_path / "patients.csv", index=False)
    (tmp_path / "study.toml").write_text(
        '[study]\ntitle = "firth"\n[data]\npatients = "patients.csv"\n'
        '[[cox]]\nendpoint = "OS"\nterms = ["note", "fish_risk", "hgb"]\nfirth = "always"\n'
    )
    result = mmrwe.Study.from_toml(tmp_path / "study.toml").run()
    assert result.failed == []
    [entry] = result.to_dict()["cox"]
    assert entry["firth"] is None and "singular" in entry["firth_reason"]
