"""OMOP CDM adapter on a small synthetic CDM (DuckDB file) whose canonical table is known."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ibis", reason="the OMOP adapter needs ibis-framework")

from mmrwe.engine import connect
from mmrwe.engine.omop import build_labs, build_patients, load_mapping
from mmrwe.spec import load_spec
from mmrwe.study.pipeline import run as run_study

# standard concept ids (checked against public OMOP mappings; see mapping_v2.toml)
ISA, POM, DEX, OTHER = 37498969, 43014237, 1518254, 1000001
HGB, MSPIKE, GDL, GL = 3000963, 3046299, 8713, 8636
PROG = 32677  # "Disease Progression" episode: not confirmed against a vocabulary release


def _synthetic_cdm(n: int = 60, seed: int = 7) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """CDM tables and the canonical table they must give (built independently, in pandas)."""
    rng = np.random.default_rng(seed)
    d0 = dt.date(2020, 1, 1)
    person, death, obs, drug, episode, meas, expected = [], [], [], [], [], [], []
    for pid in range(1, n + 1):
        sex = 8507 if pid % 3 else 8532
        yob = int(rng.integers(1940, 1970))
        site = int(rng.integers(1, 4))
        person.append((pid, sex, yob, site))
        start = d0 + dt.timedelta(days=int(rng.integers(0, 400)))
        exposed = pid % 10 != 0  # every 10th person never gets the regimen: not in the cohort
        # pre-regimen drug of another kind, then regimen ingredients (first one = day 0)
        drug.append((pid, OTHER, start - dt.timedelta(days=200)))
        if exposed:
            drug += [(pid, POM, start + dt.timedelta(days=2)), (pid, ISA, start), (pid, DEX, start)]
        obs_end = start + dt.timedelta(days=int(rng.integers(60, 900)))
        obs.append((pid, d0 - dt.timedelta(days=400), obs_end))
        prog = None
        if rng.random() < 0.6:
            prog = start + dt.timedelta(days=int(rng.integers(10, (obs_end - start).days)))
            # an earlier progression episode, before the regimen: must be ignored
            episode.append((pid, PROG, start - dt.timedelta(days=50), 0))
            episode.append((pid, PROG, prog, 0))
        died = rng.random() < 0.4
        ddate = obs_end if died else None
        if died:
            death.append((pid, ddate))
        # hemoglobin: one in the window (g/L for some), one older, one after start
        hv = round(float(rng.normal(11.5, 1.5)), 1)
        in_gl = pid % 4 == 0
        meas.append(
            (pid, HGB, start - dt.timedelta(days=5), hv * 10 if in_gl else hv, GL if in_gl else GDL)
        )
        meas.append((pid, HGB, start - dt.timedelta(days=90), 7.0, GDL))
        meas.append((pid, HGB, start + dt.timedelta(days=3), 15.0, GDL))
        meas.append((pid, MSPIKE, start, 2.5, GDL))
        if exposed:
            expected.append({
                "patient_id": str(pid), "center": str(site), "start_date": start.isoformat(),
                "progression_date": prog.isoformat() if prog else "",
                "death_date": ddate.isoformat() if ddate else "",
                "last_followup_date": (ddate or obs_end).isoformat(),
                "sex": "M" if sex == 8507 else "F", "age": float(start.year - yob), "hgb": hv,
            })  # fmt: skip
    tables = {
        "person": pd.DataFrame(person, columns=["person_id", "gender_concept_id", "year_of_birth", "care_site_id"]),
        "death": pd.DataFrame(death, columns=["person_id", "death_date"]),
        "observation_period": pd.DataFrame(obs, columns=["person_id", "observation_period_start_date", "observation_period_end_date"]),
        "drug_exposure": pd.DataFrame(drug, columns=["person_id", "drug_concept_id", "drug_exposure_start_date"]),
        "episode": pd.DataFrame(episode, columns=["person_id", "episode_concept_id", "episode_start_date", "episode_object_concept_id"]),
        "measurement": pd.DataFrame(meas, columns=["person_id", "measurement_concept_id", "measurement_date", "value_as_number", "unit_concept_id"]),
    }  # fmt: skip
    exp = pd.DataFrame(expected).sort_values("patient_id").reset_index(drop=True)
    return tables, exp


@pytest.fixture(scope="module")
def cdm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    import duckdb

    tables, expected = _synthetic_cdm()
    path = tmp_path_factory.mktemp("omop") / "cdm.duckdb"
    con = duckdb.connect(str(path))
    for name, df in tables.items():
        con.register("tmp", df)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM tmp")
        con.unregister("tmp")
    con.close()
    return path, expected


def test_canonical_table_from_omop(cdm: tuple[Path, pd.DataFrame]) -> None:
    path, expected = cdm
    be = connect("duckdb", database=path)
    try:
        got = build_patients(be.con, load_mapping(), "IsaPd").to_pandas()
    finally:
        be.close()
    assert len(got) == len(expected) == 54  # persons 10, 20, ... never exposed
    for c in ("start_date", "progression_date", "death_date", "last_followup_date"):
        got[c] = got[c].map(lambda v: "" if pd.isna(v) else pd.Timestamp(v).date().isoformat())
    got["center"] = got["center"].astype(str)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)


def test_labs_convert_units(cdm: tuple[Path, pd.DataFrame]) -> None:
    path, _ = cdm
    be = connect("duckdb", database=path)
    try:
        labs = build_labs(be.con, load_mapping()).to_pandas()
    finally:
        be.close()
    assert set(labs["test"]) == {"hemoglobin", "serum_m_protein"}
    assert set(labs["unit"]) == {"g/dL"}
    hgb = labs[labs.test == "hemoglobin"]
    assert hgb["value"].between(3, 22).all()  # g/L values were divided by 10


def test_study_on_omop_equals_study_on_its_canonical_csv(
    cdm: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    path, expected = cdm
    expected.to_csv(tmp_path / "patients.csv", index=False)
    body = """
[variables.hgb]
unit = "g/dL"
[km]
landmarks = [6, 12]
[[logrank]]
endpoint = "PFS"
by = "sex"
[[cox]]
endpoint = "OS"
terms = ["age", "sex", "hgb"]
[[proportion]]
name = "female"
variable = "sex"
success = ["F"]
"""
    (tmp_path / "csv.toml").write_text(
        '[study]\ntitle = "omop"\n[data]\npatients = "patients.csv"\n' + body
    )
    (tmp_path / "omop.toml").write_text(
        f'[study]\ntitle = "omop"\n[data]\npatients = "{path}"\nengine = "duckdb"\nformat = "omop"\n'
        '[data.omop]\nregimen = "IsaPd"\n' + body
    )
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parity"))
    from parity_util import diff_results, results_dict

    a = results_dict(run_study(load_spec(tmp_path / "csv.toml")))
    b = results_dict(run_study(load_spec(tmp_path / "omop.toml")))
    assert b["inputs"]["patients"]["format"] == "omop"
    assert diff_results(a, b) == []


def test_packaged_mapping_uses_the_checked_concept_ids() -> None:
    """The default mapping names the standard ids this file's synthetic CDM uses, and none
    of version 1's wrong ones (its pomalidomide id was dimethyl fumarate's)."""
    m = load_mapping(None)
    assert (m.version, m.source) == ("2", "mmrwe/data/omop/mapping_v2.toml")
    assert m.gender == {8507: "M", 8532: "F"}
    assert sorted(m.regimens["IsaPd"]["drug_concept_ids"]) == sorted([ISA, POM, DEX])
    assert m.progression_episode_ids == (PROG,)
    assert list(m.labs["hemoglobin"].concept_ids) == [HGB]
    assert list(m.labs["serum_m_protein"].concept_ids) == [MSPIKE]
    assert set(m.labs["hemoglobin"].units) == {GDL, GL}
