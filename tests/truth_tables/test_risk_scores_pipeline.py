"""[risk_scores] through the pipeline: ISS, R-ISS, R2-ISS and IMS/IMWG 2025 as columns.

Five hand-built patients; each expected stage is derived by hand from docs/clinical.md
section 5 (arithmetic in the comments). Albumin is in g/L and creatinine in umol/L (their
[variables] units): 40 g/L = 4.0 g/dL; creatinine 80 umol/L = 0.90 mg/dL, 100 = 1.13, 150 =
1.70 (/ 88.4). LDH in U/L with a per-patient upper limit of normal (ULN 250: 250 is normal).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import mmrwe
from mmrwe.core.errors import SpecError

E = ""  # not tested / missing
PATIENTS = pd.DataFrame(
    [
        # P1: B2M 2.0 < 3.5 and albumin 4.0 >= 3.5 -> ISS I; no abnormality, LDH 200 <= 250
        #     -> R-ISS I; R2 points 0 -> I; IMS: every criterion known false -> standard
        ("P1", 2.0, 40, 200, 250, "absent", E, "absent", "absent", "absent", "absent",
         "absent", "absent", 80),
        # P2: B2M 6.0 -> ISS III; del(17p) -> R-ISS III; R2 1.5 + 1 (del17p) + 1 (LDH 300 >
        #     250) + 0.5 (1q+) = 4 -> IV; IMS criterion 1: del(17p) in 50 % > 20 % -> high
        #     (TP53 not tested does not matter)
        ("P2", 6.0, 30, 300, 250, "present", 50, "absent", "absent", "absent", "present",
         "absent", E, 100),
        # P3: B2M 4.0 -> ISS II whatever the albumin; R-ISS II (not I: not ISS I; not III: not
        #     ISS III); R2 known 1 (ISS II) + 1 (t(4;14)) = 2, unknown del17p 1, LDH 1, 1q+
        #     0.5 -> 2 to 4.5 spans III and IV: not assessable; IMS: t(4;14) with 1q+ and
        #     del(1p32) unknown -> criterion 2 unknown -> not assessable
        ("P3", 4.0, None, None, 250, E, None, "present", E, E, E, E, E, None),
        # P4: B2M 3.0 < 3.5 but albumin 3.0 < 3.5 -> ISS II; R-ISS II; LDH 250 = ULN is
        #     normal; R2 1 + 0.5 (1q+) = 1.5 -> III; IMS criterion 3: monoallelic del(1p32)
        #     with 1q+ -> high
        ("P4", 3.0, 30, 250, 250, "absent", E, "absent", "absent", "absent", "present",
         "monoallelic", "absent", 70),
        # P5: B2M 7.0 -> ISS III; no abnormality and LDH 100 normal -> not R-ISS III, not I
        #     -> II; R2 1.5 -> III; IMS criterion 4 needs creatinine < 1.2: 1.70 -> false;
        #     every other criterion false -> standard
        ("P5", 7.0, 35, 100, 250, "absent", E, "absent", "absent", "absent", "absent",
         "absent", "absent", 150),
    ],
    columns=["patient_id", "b2m", "albumin", "ldh", "ldh_uln", "del17p", "del17p_pct",
             "t4_14", "t14_16", "t14_20", "gain1q", "del1p32", "tp53", "creatinine"],
)  # fmt: skip
EXPECTED = {
    "P1": ("I", "I", "I", 0.0, "standard"),
    "P2": ("III", "III", "IV", 4.0, "high"),
    "P3": ("II", "II", "not assessable", None, "not assessable"),
    "P4": ("II", "II", "III", 1.5, "high"),
    "P5": ("III", "II", "III", 1.5, "standard"),
}


def _frame() -> pd.DataFrame:
    f = PATIENTS.copy()
    f.insert(1, "center", "A")
    f.insert(2, "start_date", "2023-01-01")
    f.insert(3, "progression_date", ["2023-05-01", "", "2023-03-01", "", "2023-08-01"])
    f.insert(4, "death_date", "")
    f.insert(5, "last_followup_date", "2024-01-01")
    return f


SPEC: dict[str, Any] = {
    "data": {"patients": "in-memory"},
    "variables": {
        "albumin": {"unit": "g/L"},
        "creatinine": {"unit": "umol/L"},
        "ldh": {"unit": "U/L"},
        "del17p_pct": {"type": "numeric"},
    },
    "risk_scores": {
        "beta2m": "b2m", "albumin": "albumin", "ldh": "ldh", "ldh_uln": "ldh_uln",
        "del17p": "del17p", "del17p_pct": "del17p_pct", "t4_14": "t4_14", "t14_16": "t14_16",
        "t14_20": "t14_20", "gain1q": "gain1q", "del1p32": "del1p32", "tp53": "tp53",
        "creatinine": "creatinine",
    },
    "derive": [{"name": "riss_iii", "from": "r_iss", "in": ["III"], "labels": ["III", "I-II"]}],
    "table1": {"variables": ["iss", "r_iss", "r2_iss", "ims2025_risk", "riss_iii"]},
    "logrank": [{"endpoint": "PFS", "by": "ims2025_risk"}],
}  # fmt: skip


@pytest.fixture(scope="module")
def run() -> mmrwe.StudyResult:
    return mmrwe.Study(SPEC, patients=_frame()).run()


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_scores_per_patient(run: mmrwe.StudyResult, pid: str) -> None:
    row = run.derived_patients.set_index("patient_id").loc[pid]
    iss, riss, r2, points, ims = EXPECTED[pid]
    assert (row["iss"], row["r_iss"], row["r2_iss"], row["ims2025_risk"]) == (iss, riss, r2, ims)
    assert pd.isna(row["r2_iss_points"]) if points is None else row["r2_iss_points"] == points


def test_scores_feed_table1_derive_and_analyses(run: mmrwe.StudyResult) -> None:
    res = run.to_dict()
    rows = {r["variable"]: r for r in res["table1"]["rows"]}
    assert rows["iss"]["overall"]["counts"] == {"I": 1, "II": 2, "III": 2}
    assert rows["riss_iii"]["overall"]["counts"] == {"III": 1, "I-II": 4}
    assert res["logrank"][0]["status"] == "ok"
    assert res["logrank"][0]["levels"] == ["high", "standard", "not assessable"]  # declared order
    sec = res["risk_scores"]
    assert sec["scores"]["r2_iss"]["counts"] == {
        "I": 1, "II": 0, "III": 2, "IV": 1, "not assessable": 1}  # fmt: skip
    assert sec["units"] == {"beta2m": "mg/L", "albumin": "g/L", "creatinine": "umol/L"}
    assert sec["not_derived"] == {}
    assert res["variables"]["iss"]["label"] == "ISS (at index)"


def test_a_score_whose_inputs_are_not_all_named_is_not_derived() -> None:
    spec = {"data": {"patients": "in-memory"}, "variables": {"albumin": {"unit": "g/L"}},
            "risk_scores": {"beta2m": "b2m", "albumin": "albumin"}}  # fmt: skip
    res = mmrwe.Study(spec, patients=_frame()).run()
    sec = res.to_dict()["risk_scores"]
    assert list(sec["scores"]) == ["iss"]
    assert sec["not_derived"]["r_iss"] == "needs ldh, del17p, t4_14, t14_16 under [risk_scores]"
    assert "r_iss" not in res.derived_patients.columns


def test_albumin_without_a_unit_is_refused() -> None:
    spec = {
        "data": {"patients": "in-memory"},
        "risk_scores": {"beta2m": "b2m", "albumin": "albumin"},
    }
    with pytest.raises(mmrwe.SpecError) as err:
        mmrwe.Study(spec, patients=_frame()).run()
    assert "never guessed" in str(err.value)


def test_a_finding_that_is_not_present_absent_or_empty_is_refused() -> None:
    f = _frame()
    f.loc[0, "t4_14"] = "maybe"
    spec = dict(SPEC, table1={}, logrank=[], derive=[])
    with pytest.raises(mmrwe.MmrweError) as err:
        mmrwe.Study(spec, patients=f).run()
    assert "maybe" in str(err.value)


def test_unknown_input_column_is_a_validation_error() -> None:
    spec = {"data": {"patients": "in-memory"}, "variables": {"albumin": {"unit": "g/L"}},
            "risk_scores": {"beta2m": "beta2", "albumin": "albumin"}}  # fmt: skip
    with pytest.raises((mmrwe.ValidationError, SpecError)) as err:
        mmrwe.Study(spec, patients=_frame()).run()
    assert "beta2" in str(err.value)
