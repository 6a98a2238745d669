# ruff: noqa: C408  (dict(...) keeps the case tables readable)
"""Truth tables: ISS (Greipp 2005), R-ISS (Palumbo 2015), R2-ISS (D'Agostino 2022) and the
IMS/IMWG 2025 genomic high-risk definition (Avet-Loiseau 2025), written by hand from
docs/clinical.md section 5 and the sources cited in mmrwe.derive.risk_scores. Every stage boundary
is tested with a value exactly at the cut point, and every missing-input case with the answer
the three-valued logic must give ("not assessable" unless the known inputs decide it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.testing as npt
import pytest

from mmrwe.core.errors import InputError
from mmrwe.derive.risk_scores import (
    NOT_ASSESSABLE,
    finding,
    ims2025_high_risk,
    iss_stage,
    r2iss_stage,
    riss_stage,
)

NA = NOT_ASSESSABLE
nan = float("nan")

# ---------------------------------------------------------------------------------- ISS
ISS = [
    # beta2m mg/L, albumin g/dL, expected, why
    (3.49, 3.5, "I", "B2M just below 3.5 and albumin exactly 3.5 g/dL: I"),
    (3.5, 4.0, "II", "B2M exactly 3.5 is not < 3.5: II"),
    (2.0, 3.49, "II", "albumin just below 3.5 g/dL: II"),
    (5.49, 2.0, "II", "B2M just below 5.5 with low albumin: II"),
    (5.5, 4.0, "III", "B2M exactly 5.5: III"),
    (5.5, nan, "III", "B2M >= 5.5 decides III without albumin"),
    (4.0, nan, "II", "B2M in [3.5, 5.5) decides II without albumin"),
    (2.0, nan, NA, "B2M < 3.5 with albumin missing: I or II"),
    (nan, 4.0, NA, "B2M missing with normal albumin: I, II or III"),
    (nan, 3.0, NA, "B2M missing with low albumin: II or III"),
    (nan, nan, NA, "both missing"),
]


@pytest.mark.parametrize(("b2m", "alb", "expected", "why"), ISS, ids=[r[-1] for r in ISS])
def test_iss(b2m, alb, expected, why) -> None:
    assert iss_stage([b2m], [alb])[0] == expected


def test_iss_albumin_in_g_per_l_and_vectorized() -> None:
    # 35 g/L is 3.5 g/dL (stage I boundary); 34.9 g/L is below it
    out = iss_stage([3.0, 3.0, 6.0], [35.0, 34.9, nan], albumin_unit="g/L")
    npt.assert_array_equal(out, ["I", "II", "III"])


# -------------------------------------------------------------------------------- R-ISS
LOW = dict(b2m=2.0, alb=4.0)  # ISS I
MID = dict(b2m=4.0, alb=4.0)  # ISS II
HIGH3 = dict(b2m=6.0, alb=3.0)  # ISS III
NEG = dict(del17p="absent", t4_14="absent", t14_16="absent")

RISS: list[dict[str, Any]] = [
    dict(**LOW, ldh="normal", **NEG, expected="I", why="ISS I, FISH standard, LDH normal: I"),
    dict(**LOW, ldh="high", **NEG, expected="II", why="ISS I with LDH > ULN: II"),
    dict(**LOW, ldh="normal", **{**NEG, "del17p": "present"}, expected="II",
         why="ISS I with del(17p): II"),
    dict(**LOW, ldh="normal", **{**NEG, "del17p": "not tested"}, expected=NA,
         why="ISS I, del(17p) not tested: I or II, never standard by default"),
    dict(**LOW, ldh=None, **NEG, expected=NA, why="ISS I, LDH missing: I or II"),
    dict(**MID, ldh=None, del17p=None, t4_14=None, t14_16=None, expected="II",
         why="ISS II decides R-ISS II whatever FISH and LDH are"),
    dict(**HIGH3, ldh="normal", **{**NEG, "t4_14": "present"}, expected="III",
         why="ISS III with t(4;14): III"),
    dict(**HIGH3, ldh="high", **NEG, expected="III", why="ISS III with LDH > ULN: III"),
    dict(**HIGH3, ldh="normal", **NEG, expected="II",
         why="ISS III without a high-risk feature: II"),
    dict(**HIGH3, ldh=None, **{**NEG, "t14_16": "present"}, expected="III",
         why="ISS III: one known high-risk feature suffices with LDH missing"),
    dict(**HIGH3, ldh=None, **NEG, expected=NA,
         why="ISS III, FISH standard, LDH missing: II or III"),
    dict(**HIGH3, ldh="normal", **{**NEG, "t14_16": None}, expected=NA,
         why="ISS III, LDH normal, t(14;16) not tested: II or III"),
    dict(b2m=nan, alb=nan, ldh="high", **{**NEG, "del17p": "present"}, expected=NA,
         why="ISS missing with high-risk features: II or III"),
    dict(b2m=nan, alb=3.0, ldh="normal", **NEG, expected="II",
         why="ISS II or III (low albumin) without any high-risk feature: II"),
    dict(b2m=nan, alb=4.0, ldh="normal", **NEG, expected=NA,
         why="ISS missing, no high-risk feature: I or II"),
]  # fmt: skip


@pytest.mark.parametrize("row", RISS, ids=[r["why"] for r in RISS])
def test_riss(row: dict[str, Any]) -> None:
    out = riss_stage([row["b2m"]], [row["alb"]], [row["ldh"]], [row["del17p"]],
                     [row["t4_14"]], [row["t14_16"]])  # fmt: skip
    assert out[0] == row["expected"]


RISS_LDH_VALUES = [
    (250.0, "I", "LDH equal to the ULN (250 U/L) is normal"),
    (251.0, "II", "LDH one unit above the ULN is high"),
    (nan, NA, "LDH value missing"),
]


@pytest.mark.parametrize(
    ("ldh", "expected", "why"), RISS_LDH_VALUES, ids=[r[-1] for r in RISS_LDH_VALUES]
)
def test_riss_numeric_ldh_against_uln(ldh, expected, why) -> None:
    out = riss_stage([2.0], [4.0], [ldh], ["absent"], ["absent"], ["absent"], ldh_uln=250.0)
    assert out[0] == expected


# ------------------------------------------------------------------------------- R2-ISS
NEG2 = dict(ldh="normal", del17p="absent", t4_14="absent", gain1q="absent")
R2ISS: list[dict[str, Any]] = [
    dict(**LOW, **NEG2, expected="I", points=0.0, why="no factor: 0 points, I"),
    dict(**LOW, **{**NEG2, "gain1q": "present"}, expected="II", points=0.5,
         why="1q+ alone: 0.5 points, lower boundary of II"),
    dict(**MID, **NEG2, expected="II", points=1.0, why="ISS II alone: 1 point, upper boundary of II"),
    dict(**HIGH3, **NEG2, expected="III", points=1.5,
         why="ISS III alone: 1.5 points, lower boundary of III"),
    dict(**HIGH3, **{**NEG2, "gain1q": "present"}, expected="III", points=2.0,
         why="ISS III and 1q+: 2 points, III"),
    dict(**MID, **{**NEG2, "ldh": "high", "gain1q": "present"}, expected="III", points=2.5,
         why="ISS II, LDH high, 1q+: 2.5 points, upper boundary of III"),
    dict(**HIGH3, **{**NEG2, "ldh": "high", "gain1q": "present"}, expected="IV", points=3.0,
         why="ISS III, LDH high, 1q+: 3 points, lower boundary of IV"),
    dict(**MID, **{**NEG2, "del17p": "present", "t4_14": "present"}, expected="IV", points=3.0,
         why="ISS II, del(17p), t(4;14): 3 points, IV"),
    dict(**HIGH3, ldh="high", del17p="present", t4_14="present", gain1q="present",
         expected="IV", points=5.0, why="every factor: 5 points, IV"),
    dict(**LOW, **{**NEG2, "gain1q": None}, expected=NA, points=nan,
         why="ISS I, 1q not tested: 0 or 0.5 points, I or II"),
    dict(**MID, **{**NEG2, "gain1q": None}, expected=NA, points=nan,
         why="ISS II, 1q not tested: 1 or 1.5 points, II or III"),
    dict(**HIGH3, **{**NEG2, "gain1q": None}, expected="III", points=nan,
         why="ISS III, 1q not tested: 1.5 or 2 points, III either way"),
    dict(**HIGH3, **{**NEG2, "del17p": "present", "gain1q": None}, expected=NA, points=nan,
         why="ISS III, del(17p), 1q not tested: 2.5 or 3 points, III or IV"),
    dict(**HIGH3, ldh=None, del17p="present", t4_14="present", gain1q="absent",
         expected="IV", points=nan, why="3.5 known points: IV whatever LDH is"),
    dict(b2m=nan, alb=3.0, **NEG2, expected=NA, points=nan,
         why="ISS II or III (B2M missing, low albumin): 1 or 1.5 points"),
    dict(b2m=nan, alb=3.0, **{**NEG2, "ldh": "high", "del17p": "present"}, expected="IV",
         points=nan, why="ISS II or III with LDH high and del(17p): 3 or 3.5 points, IV"),
    dict(b2m=2.0, alb=nan, **{**NEG2, "gain1q": "present"}, expected=NA, points=nan,
         why="ISS I or II (albumin missing) with 1q+: 0.5 or 1.5 points"),
    dict(b2m=2.0, alb=nan, ldh="high", del17p="present", t4_14="present", gain1q="absent",
         expected="IV", points=nan, why="ISS I or II with three factors: 3 or 4 points, IV"),
    dict(**LOW, ldh="normal", del17p=None, t4_14=None, gain1q=None, expected=NA, points=nan,
         why="ISS I, FISH not done: 0 to 2.5 points"),
]  # fmt: skip


@pytest.mark.parametrize("row", R2ISS, ids=[r["why"] for r in R2ISS])
def test_r2iss(row: dict[str, Any]) -> None:
    out = r2iss_stage([row["b2m"]], [row["alb"]], [row["ldh"]], [row["del17p"]],
                      [row["t4_14"]], [row["gain1q"]])  # fmt: skip
    assert out.stage[0] == row["expected"]
    npt.assert_equal(out.points[0], row["points"])
    assert out.points_min[0] <= out.points_max[0]


# ---------------------------------------------------------------------- IMS/IMWG 2025
STD = dict(
    del17p="absent", del17p_pct=nan, tp53="absent", t4_14="absent", t14_16="absent",
    t14_20="absent", gain1q="absent", del1p32="absent", b2m=2.0, creat=1.0,
)  # fmt: skip


def _ims(**change: Any) -> dict[str, Any]:
    return {**STD, **change}


IMS: list[tuple[dict[str, Any], str, str]] = [
    (_ims(), "standard", "every feature known and absent: standard"),
    (_ims(del17p="present", del17p_pct=25.0), "high", "del(17p) in 25 % of clonal PCs"),
    (_ims(del17p="present", del17p_pct=20.0), "standard", "del(17p) in exactly 20 % is not > 20 %"),
    (_ims(del17p="present", del17p_pct=20.1), "high", "del(17p) in 20.1 %"),
    (_ims(del17p="present"), NA, "del(17p) present without its clonal fraction"),
    (_ims(del17p="present", tp53="present"), "high", "del(17p) with unknown fraction and TP53 mutation"),
    (_ims(tp53="present"), "high", "TP53 mutation alone"),
    (_ims(tp53=None), NA, "TP53 not sequenced: never read as wild type"),
    (_ims(del17p=None), NA, "del(17p) not tested"),
    (_ims(t4_14="present"), "standard", "t(4;14) alone is not high risk"),
    (_ims(t4_14="present", gain1q="present"), "high", "t(4;14) with 1q+"),
    (_ims(t14_16="present", del1p32="monoallelic"), "high", "t(14;16) with monoallelic del(1p32)"),
    (_ims(t14_20="present", gain1q="present"), "high", "t(14;20) with 1q+"),
    (_ims(t14_16="present", gain1q=None), NA, "t(14;16) with 1q not tested"),
    (_ims(t4_14=None, gain1q="present"), NA, "1q+ with t(4;14) not tested"),
    (_ims(gain1q="present"), "standard", "1q+ alone is not high risk"),
    (_ims(del1p32="monoallelic"), "standard", "monoallelic del(1p32) alone is not high risk"),
    (_ims(del1p32="monoallelic", gain1q="present"), "high", "monoallelic del(1p32) with 1q+"),
    (_ims(del1p32="biallelic"), "high", "biallelic del(1p32) alone"),
    (_ims(del1p32="present"), NA, "del(1p32) of unknown allelic status without 1q+: may be biallelic"),
    (_ims(del1p32="present", gain1q="present"), "high", "del(1p32) of unknown allelic status with 1q+"),
    (_ims(del1p32=None, gain1q="present"), NA, "1q+ with del(1p32) not tested"),
    (_ims(b2m=5.5, creat=1.19), "high", "B2M exactly 5.5 with creatinine 1.19 mg/dL"),
    (_ims(b2m=5.5, creat=1.2), "standard", "creatinine exactly 1.2 mg/dL is not < 1.2"),
    (_ims(b2m=5.49, creat=1.0), "standard", "B2M just below 5.5"),
    (_ims(b2m=6.0, creat=nan), NA, "B2M >= 5.5 with creatinine missing"),
    (_ims(b2m=nan, creat=1.0), NA, "B2M missing with normal creatinine"),
    (_ims(b2m=nan, creat=1.5), "standard", "creatinine >= 1.2 rules out criterion 4 without B2M"),
    (_ims(b2m=nan, creat=nan, tp53="present"), "high", "one met criterion decides despite missing labs"),
    (dict(del17p=None, del17p_pct=nan, tp53=None, t4_14=None, t14_16=None, t14_20=None,
          gain1q=None, del1p32=None, b2m=nan, creat=nan), NA, "nothing known"),
]  # fmt: skip


def _call(row: dict[str, Any], **kw: Any) -> Any:
    return ims2025_high_risk(
        del17p=[row["del17p"]], del17p_pct=[row["del17p_pct"]], tp53_mutation=[row["tp53"]],
        t4_14=[row["t4_14"]], t14_16=[row["t14_16"]], t14_20=[row["t14_20"]],
        gain1q=[row["gain1q"]], del1p32=[row["del1p32"]], beta2m=[row["b2m"]],
        creatinine=[row["creat"]], **kw,
    )  # fmt: skip


@pytest.mark.parametrize(("row", "expected", "why"), IMS, ids=[r[-1] for r in IMS])
def test_ims2025_high_risk(row: dict[str, Any], expected: str, why: str) -> None:
    assert _call(row).call[0] == expected


def test_ims2025_inclusive_cutoff_and_criteria_audit() -> None:
    row = _ims(del17p="present", del17p_pct=20.0)
    assert _call(row, del17p_inclusive=True).call[0] == "high"  # HealthTree's ">= 20 %"
    res = _call(_ims(del1p32="biallelic", tp53=None))
    assert res.call[0] == "high"
    assert res.criteria["del1p32"][0] == 1
    assert res.criteria["del17p_tp53"][0] == -1  # TP53 unknown stays unknown in the audit


def test_ims2025_creatinine_in_umol_per_l() -> None:
    # 106 umol/L = 1.199 mg/dL (< 1.2); 106.08 umol/L = 1.2 mg/dL exactly (not < 1.2)
    base = {k: [v] * 2 for k, v in STD.items()}
    res = ims2025_high_risk(
        del17p=base["del17p"], tp53_mutation=base["tp53"], t4_14=base["t4_14"],
        t14_16=base["t14_16"], t14_20=base["t14_20"], gain1q=base["gain1q"],
        del1p32=base["del1p32"], beta2m=[6.0, 6.0], creatinine=[106.0, 106.08],
        creatinine_unit="umol/L",
    )  # fmt: skip
    npt.assert_array_equal(res.call, ["high", "standard"])


# ------------------------------------------------------------------------ input coding
FINDINGS = [
    (["present", "Positive", " yes ", "1", True, 1.0], [1] * 6, "words for present"),
    (["absent", "NEGATIVE", "no", "0", False, 0.0], [0] * 6, "words for absent"),
    (["", "not tested", None, nan, "unknown", "NA"], [-1] * 6, "missing is unknown, never absent"),
]


@pytest.mark.parametrize(("values", "codes", "why"), FINDINGS, ids=[r[-1] for r in FINDINGS])
def test_finding_codes(values, codes, why) -> None:
    t = finding(np.array(values, dtype=object))
    got = np.where(t.true, 1, np.where(t.false, 0, -1))
    npt.assert_array_equal(got, codes)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: finding(["maybe"]), "not present/absent"),
        (lambda: finding(np.array([2.0])), "0 \\(absent\\) or 1"),
        (lambda: iss_stage(["3 mg/L"], [4.0]), "must be numbers"),
        (lambda: iss_stage([3.0], [4.0], albumin_unit="mg/dL"), "albumin unit"),
        (lambda: riss_stage([2], [4], [300.0], ["absent"], ["absent"], ["absent"]), "ldh_uln"),
        (lambda: riss_stage([2], [4], ["raised?"], ["absent"], ["absent"], ["absent"]), "high nor normal"),
        (lambda: iss_stage([2.0, 3.0], [4.0]), "expected 2"),
        (lambda: ims2025_high_risk(del17p=["absent"], tp53_mutation=["absent"], t4_14=["absent"],
                                   t14_16=["absent"], t14_20=["absent"], gain1q=["absent"],
                                   del1p32=["partly"], beta2m=[1.0], creatinine=[1.0]),
         "del1p32"),
    ],
    ids=["unknown word", "numeric finding other than 0/1", "unit inside a number",
         "unknown albumin unit", "numeric LDH without ULN", "unknown LDH word",
         "length mismatch", "unknown del(1p32) status"],
)  # fmt: skip
def test_bad_inputs_raise_input_error(call, match) -> None:
    with pytest.raises(InputError, match=match):
        call()
