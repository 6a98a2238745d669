"""Every analysis that takes an endpoint takes the myeloma endpoints too (TTP, DoR, TTNT,
PFS2), with DoR's population (the responders) respected; weighting analyses refuse DoR."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

import mmrwe
from mmrwe.spec.errors import InvalidSpecError
from mmrwe.study.demo import demo_dir

KEEP = {"study", "data", "response", "variables", "km", "derive", "validation", "exclusions"}


def _spec(**sections: Any) -> dict[str, Any]:
    spec = tomllib.loads((demo_dir() / "study.toml").read_text())
    return {k: v for k, v in spec.items() if k in KEEP} | sections


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    spec = _spec(
        subgroup=[{"endpoint": "DoR", "effect": "hgb_lt_11", "by": ["tcr"]}],
        rmst=[{"endpoint": "DoR", "tau": 6, "by": "tcr"}],
        iptw=[{"treatment": "tcr", "covariates": ["age", "hgb"], "endpoint": "TTNT"}],
        maic=[
            {
                "endpoint": "TTP",
                "covariates": ["age"],
                "n_boot": 20,
                "target": {"age": {"mean": 67, "sd": 9}},
            }
        ],
    )
    return mmrwe.Study(spec, base_dir=demo_dir()).run().to_dict()


def test_dor_keeps_to_the_responders(results: dict[str, Any]) -> None:
    n_dor = results["endpoints"]["DoR"]["n"]
    sg = results["subgroups"][0]
    assert sg["status"] == "ok"
    assert sg["n"] + sg["n_excluded_missing"] == n_dor
    assert sg["n_outside_population"] == results["cohort"]["n"] - n_dor
    rm = results["rmst"][0]
    assert rm["status"] == "ok"
    assert sum(g["n"] for g in rm["groups"].values()) <= n_dor


def test_weighting_takes_the_other_endpoints(results: dict[str, Any]) -> None:
    assert results["iptw"][0]["status"] == "ok"
    assert results["maic"][0]["status"] == "ok"


@pytest.mark.parametrize("section", ["iptw", "maic"])
def test_weighting_refuses_dor(section: str) -> None:
    entry = {"iptw": {"treatment": "tcr", "covariates": ["age"], "endpoint": "DoR"},
             "maic": {"endpoint": "DoR", "covariates": ["age"],
                      "target": {"age": {"mean": 67, "sd": 9}}}}[section]  # fmt: skip
    with pytest.raises(InvalidSpecError, match="responders only"):
        mmrwe.Study(_spec(**{section: [entry]}), base_dir=demo_dir())
