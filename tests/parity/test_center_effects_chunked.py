"""Center effects of a large study (design spilled to disk, stratified fit in chunks,
per-center fits one center at a time) equal the in-memory computation."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mmrwe import Study
from mmrwe.study.analyses import cox as cox_analysis


def _cohort(path: Path, n: int = 3000, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2018-01-01") + rng.integers(0, 900, n).astype("timedelta64[D]")
    age = rng.normal(68, 9, n).round()
    sex = np.where(rng.random(n) < 0.45, "F", "M")
    hgb = rng.normal(11.5, 1.6, n).round(1)
    center = np.char.add("C", rng.integers(1, 7, n).astype(str))
    lp = 0.02 * (age - 68) + 0.2 * (sex == "M") - 0.15 * (hgb - 11.5)
    t_death = rng.exponential(900 / np.exp(lp)).astype(int) + 1
    t_cens = rng.integers(30, 1500, n)
    died = t_death <= t_cens
    lfu = np.where(died, t_death, t_cens)
    pd.DataFrame(
        {
            "patient_id": [f"P{k:05d}" for k in range(n)],
            "center": center,
            "start_date": start,
            "progression_date": None,
            "death_date": np.where(died, start + lfu.astype("timedelta64[D]"), None),
            "last_followup_date": start + lfu.astype("timedelta64[D]"),
            "age": age,
            "sex": sex,
            "hgb": hgb,
        }
    ).to_csv(path, index=False)


SPEC = """
[study]
title = "center effects parity"
time_unit = "months"
synthetic = true
[data]
patients = "cohort.csv"
[[cox]]
endpoint = "OS"
terms = ["age", "sex", "hgb"]
reference = { sex = "F" }
ph_test = false
"""


def _close(a: Any, b: Any, path: str = "$") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{k}]")
    elif isinstance(a, float) and isinstance(b, float) and math.isfinite(a):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


def test_chunked_center_effects_equal_in_memory(tmp_path, monkeypatch):
    _cohort(tmp_path / "cohort.csv")
    (tmp_path / "study.toml").write_text(SPEC)
    small = Study.from_toml(tmp_path / "study.toml").run().to_dict()["center_effects"]["cox"][0]
    monkeypatch.setattr(cox_analysis, "COX_IN_MEMORY_MAX_ROWS", 100)
    monkeypatch.setattr(cox_analysis, "COX_CHUNK_ROWS", 700)  # several chunks per pass
    large = Study.from_toml(tmp_path / "study.toml").run().to_dict()["center_effects"]["cox"][0]
    assert large.pop("computation") == "chunked"
    assert small["interaction"]["computation"] == "joint fit"
    assert large["interaction"].pop("computation") == "sum of per-center fits"
    small["interaction"].pop("computation")
    assert sorted(large["per_center"]) == [f"C{k}" for k in range(1, 7)]
    _close(large, small)


def test_per_center_fits_in_threads_equal_one_after_another(monkeypatch) -> None:
    """The per-center fits run in threads; each is its own computation, so the results
    (and their order) are those of fitting one center after another."""
    from mmrwe.study.analyses import center_effects as ce

    rng = np.random.default_rng(11)
    n = 6000
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)]).astype(float)
    t = rng.integers(1, 400, n) / 30.4375
    e = rng.random(n) < 0.6
    e[:40] = False  # center "A" below: no events, a note instead of a fit
    center = np.array([f"C{k:02d}" for k in rng.integers(0, 9, n)], dtype=object)
    center[:40] = "A"
    e[center == "A"] = False
    monkeypatch.setenv("MMRWE_THREADS", "1")
    serial = ce._center_fits(t, e, X, ["x", "b"], center, "efron")
    monkeypatch.setenv("MMRWE_THREADS", "3")
    threaded = ce._center_fits(t, e, X, ["x", "b"], center, "efron")
    assert list(serial) == list(threaded) == sorted(set(center.tolist()))
    for lv, fit in serial.items():
        other = threaded[lv]
        if isinstance(fit, tuple):
            assert fit == other
        else:
            np.testing.assert_array_equal(fit.coef, other.coef)
            np.testing.assert_array_equal(fit.var, other.var)
            assert fit.loglik == other.loglik
