"""Lab harmonization: unit conversion (docs/clinical.md section 7), plausibility, issue reporting."""

from __future__ import annotations

import datetime as dt
import pathlib

import pandas as pd
import pytest

from mmrwe.core.errors import SchemaError
from mmrwe.derive import labs as L
from mmrwe.derive.labs import MAX_ISSUES_PER_CAUSE, harmonize_labs, normalise_unit
from mmrwe.io.readers import SourceTable


def src(rows: list[tuple], columns=("patient_id", "date", "test", "value", "unit")) -> SourceTable:
    f = pd.DataFrame(rows, columns=list(columns), dtype=object)
    f = f.where(f.notna(), None)
    return SourceTable(pathlib.Path("labs.csv"), "csv", f, tuple(range(2, len(f) + 2)), "")


PTS = pd.DataFrame(
    {
        "patient_id": ["p1", "p2", "p3"],
        "last_followup_date": pd.to_datetime(["2023-01-01"] * 3),
        "center": ["A", "B", "C"],
    }
)


def one(test: str, value: str, unit: str) -> float:
    h = harmonize_labs(src([("p1", "2022-01-01", test, value, unit)]), PTS)
    assert not h.issues, [i.format() for i in h.issues]
    return float(h.rows["value"].iloc[0])


@pytest.mark.parametrize(
    ("test", "value", "unit", "canonical"),
    [
        ("serum_m_protein", "25", "g/L", 2.5),  # g/L / 10 = g/dL
        ("serum_m_protein", "2.5", "g/dL", 2.5),
        ("serum_m_protein", "7.3", "G/L", 0.73),  # case-insensitive; 7.3 / 10 rounds to 0.73
        ("urine_m_protein", "0.35", "g/24h", 350.0),  # g x 1000 = mg
        ("urine_m_protein", "350", "mg/24 h", 350.0),
        ("urine_m_protein", "350", "mg/day", 350.0),
        ("flc_kappa", "600", "mg/L", 60.0),  # mg/L / 10 = mg/dL
        ("flc_lambda", "1.2", "mg/dL", 1.2),
        ("calcium", "2.495", "mmol/L", 10.0),  # mmol/L / 0.2495 = mg/dL
        ("creatinine", "88.4", "µmol/L", 1.0),  # umol/L / 88.4 = mg/dL
        ("hemoglobin", "110", "g/L", 11.0),
        ("hemoglobin", "6.206", "mmol/L", 10.0),  # mmol/L / 0.6206 = g/dL
        ("bm_plasma_cells", "40", "%", 40.0),
        ("plasmacytoma_spd", "12.5", "cm²", 12.5),
        ("serum_ife", "Positive", "", 1.0),
        ("urine_ife", "NEG", "", 0.0),
        ("new_lesion", "yes", "", 1.0),
        ("bm_clonal_plasma_cells", "negative", "", 0.0),
    ],
)
def test_conversion_to_canonical_units(test, value, unit, canonical):
    assert one(test, value, unit) == canonical


def test_unit_normalisation():
    assert normalise_unit(" mg / 24 hours ") == "mg/24h"
    assert normalise_unit("μmol/L") == "umol/l"
    assert normalise_unit("cm^2") == "cm2"


def test_same_measurement_in_two_units_is_the_same_double():
    # 0.7 * 10 is 7.000000000000001 in binary; rounding the canonical value removes it
    a = one("serum_m_protein", "0.7", "g/dL")
    b = one("serum_m_protein", repr(0.7 * 10), "g/L")
    assert a == b == 0.7


def test_missing_column_is_a_schema_error():
    with pytest.raises(SchemaError, match="MML001") as e:
        harmonize_labs(src([("p1", "2022-01-01", "serum_m_protein", "1", "g/dL")],
                           columns=("patient_id", "date", "test", "value", "units")), PTS)  # fmt: skip
    assert "rename column 'units'" in str(e.value)


def test_issue_says_file_row_column_patient_and_fix():
    h = harmonize_labs(src([("p1", "2022-01-01", "serum_m_protein", "1.0", "g/dL"),
                            ("p2", "2022-01-01", "serum_m_protein", "30", "g/dL")]), PTS)  # fmt: skip
    (i,) = h.issues
    assert (i.code, i.severity) == ("MML004", "error")
    assert (i.where.file, i.where.row, i.where.column, i.where.patient_id) == (
        "labs.csv", 3, "value", "p2",
    )  # fmt: skip
    assert "g/L" in i.fix  # 30 g/L = 3.0 g/dL is plausible: the label is suspect
    assert h.n_used == 1


@pytest.mark.parametrize(
    ("row", "code"),
    [
        (("p9", "2022-01-01", "serum_m_protein", "1.0", "g/dL"), "MML007"),
        ((None, "2022-01-01", "serum_m_protein", "1.0", "g/dL"), "MML007"),
        (("p1", "2022-01-01", "m_spike", "1.0", "g/dL"), "MML002"),
        (("p1", "2022-01-01", "serum_m_protein", "1.0", "mg/dL"), "MML003"),
        (("p1", "2022-01-01", "serum_m_protein", "1.0", None), "MML003"),
        (("p1", "2022-01-01", "serum_ife", "positive", "g/L"), "MML003"),
        (("p1", "01/02/2022", "serum_m_protein", "1.0", "g/dL"), "MML005"),
        (("p1", None, "serum_m_protein", "1.0", "g/dL"), "MML005"),
        (("p1", "2022-01-01", "serum_m_protein", "abc", "g/dL"), "MML006"),
        (("p1", "2022-01-01", "serum_ife", "weak", ""), "MML006"),
        (("p1", "2022-01-01", "serum_m_protein", "-0.5", "g/dL"), "MML004"),
        (("p1", "2022-01-01", "bm_plasma_cells", "140", "%"), "MML004"),
        (("p1", "2022-01-01", "serum_m_protein", "12", "g/dL"), "MML008"),
        (("p1", "2023-06-01", "serum_m_protein", "1.0", "g/dL"), "MML011"),
    ],
)
def test_each_row_problem_has_its_code(row, code):
    h = harmonize_labs(src([row]), PTS)
    assert [i.code for i in h.issues] == [code]
    severity = "warning" if code in ("MML008", "MML011") else "error"
    assert h.issues[0].severity == severity
    # errors and left-out warnings are not used; an unusual value (MML008) is kept
    assert h.n_used == (1 if code == "MML008" else 0)


def test_known_test_with_a_near_miss_name_gets_a_suggestion():
    h = harmonize_labs(src([("p1", "2022-01-01", "serum_m_proten", "1.0", "g/dL")]), PTS)
    assert "serum_m_protein" in h.issues[0].fix


def test_excel_dates_and_numbers_accepted_serials_refused():
    h = harmonize_labs(src([("p1", dt.date(2022, 1, 5), "serum_m_protein", 1.5, "g/dL"),
                            ("p1", dt.datetime(2022, 2, 5, 10, 30), "serum_m_protein", 1.2, "g/dL"),
                            ("p1", 44567, "serum_m_protein", 1.0, "g/dL")]), PTS)  # fmt: skip
    assert [i.code for i in h.issues] == ["MML005"]
    days = h.rows["day"].to_numpy().astype("datetime64[D]").astype(str).tolist()
    assert days == ["2022-01-05", "2022-02-05"]


def test_decimal_comma():
    rows = [("p1", "2022-01-01", "serum_m_protein", "1,5", "g/dL")]
    h = harmonize_labs(src(rows), PTS, decimal=",")
    assert h.rows["value"].tolist() == [1.5]


def test_other_date_format():
    h = harmonize_labs(src([("p1", "05/01/2022", "serum_m_protein", "1", "g/dL")]), PTS,
                       date_format="%d/%m/%Y")  # fmt: skip
    assert str(h.rows["day"].to_numpy()[0].astype("datetime64[D]")) == "2022-01-05"


def test_duplicates_keep_the_worst_and_are_reported():
    h = harmonize_labs(src([("p1", "2022-01-01", "serum_m_protein", "1.0", "g/dL"),
                            ("p1", "2022-01-01", "serum_m_protein", "14", "g/L"),
                            ("p1", "2022-01-01", "serum_ife", "negative", ""),
                            ("p1", "2022-01-01", "serum_ife", "positive", "")]), PTS)  # fmt: skip
    assert h.rows["value"].tolist() == [1.4, 1.0]  # serum M 1.4 (worst), IFE positive
    assert [i.code for i in h.issues] == ["MML012", "MML012"]


def test_identical_duplicates_are_not_reported():
    h = harmonize_labs(src([("p1", "2022-01-01", "serum_m_protein", "1.0", "g/dL"),
                            ("p1", "2022-01-01", "serum_m_protein", "10", "g/L")]), PTS)  # fmt: skip
    assert not h.issues
    assert len(h.rows) == 1


def test_isolated_tenfold_jump_is_left_out():
    # 2.5, 2.4, then "2.4 g/L" (= 0.24 g/dL), then 2.5: the third is ~10x below both
    rows = [("p1", f"2022-0{m}-01", "serum_m_protein", v, u)
            for m, v, u in ((1, "2.5", "g/dL"), (2, "2.4", "g/dL"), (3, "2.4", "g/L"),
                            (4, "2.5", "g/dL"))]  # fmt: skip
    h = harmonize_labs(src(rows), PTS)
    assert [(i.code, i.where.row) for i in h.issues] == [("MML009", 4)]
    assert h.rows["value"].tolist() == [2.5, 2.4, 2.5]


def test_a_real_deep_response_is_not_a_unit_slip():
    # 2.5 -> 0.24 -> 0.2: the neighbours of 0.24 do not agree, so it stays
    rows = [("p1", f"2022-0{m}-01", "serum_m_protein", v, "g/dL")
            for m, v in ((1, "2.5"), (2, "0.24"), (3, "0.2"))]  # fmt: skip
    h = harmonize_labs(src(rows), PTS)
    assert not h.issues and len(h.rows) == 3


def test_many_identical_problems_are_summarised():
    rows = [("p1", f"2022-01-{d:02d}", "serum_m_protein", "1", "mg/dL") for d in range(1, 31)]
    h = harmonize_labs(src(rows), PTS)
    assert len(h.issues) == MAX_ISSUES_PER_CAUSE + 1
    summary = [i for i in h.issues if i.where.row is None]
    assert len(summary) == 1 and "10 more row(s)" in summary[0].what


def test_center_median_off_by_a_unit_factor():
    # three centers with the same case mix; center C writes g/dL values under a g/L label,
    # which no single-value range check can catch (0.1-0.4 g/dL is plausible)
    pts = pd.DataFrame({"patient_id": [f"q{i}" for i in range(30)],
                        "last_followup_date": pd.to_datetime(["2023-01-01"] * 30),
                        "center": ["A"] * 10 + ["B"] * 10 + ["C"] * 10})  # fmt: skip
    values = [f"{1.0 + 0.3 * (i % 10):.1f}" for i in range(30)]
    rows = [(f"q{i}", "2022-01-01", "serum_m_protein", values[i], "g/dL" if i < 20 else "g/L")
            for i in range(30)]  # fmt: skip
    h = harmonize_labs(src(rows), pts)
    mml010 = [i for i in h.issues if i.code == "MML010"]
    assert len(mml010) == 1 and "center C" in mml010[0].what and mml010[0].severity == "warning"
    assert h.n_used == 30  # reported, not converted or dropped


def test_center_median_of_hemoglobin_outside_its_range():
    # center B writes g/dL values (9-13) under a g/L label: 0.9-1.3 g/dL; single values are
    # rejected (< 3 g/dL), and so is the center median
    pts = pd.DataFrame({"patient_id": [f"q{i}" for i in range(12)],
                        "last_followup_date": pd.to_datetime(["2023-01-01"] * 12),
                        "center": ["B"] * 12})  # fmt: skip
    rows = [(f"q{i}", "2022-01-01", "hemoglobin", "110", "g/L") for i in range(12)]
    h = harmonize_labs(src(rows), pts)
    assert not h.issues  # 11 g/dL: fine
    rows = [(f"q{i}", "2022-01-01", "hemoglobin", "30", "g/L") for i in range(12)]
    h = harmonize_labs(src(rows), pts)  # 3.0 g/dL: not rejected, unusual, and so is B's median
    assert {i.code for i in h.issues} == {"MML008", "MML010"}


def test_units_seen_counts_rows_kept():
    h = harmonize_labs(src([("p1", "2022-01-01", "serum_m_protein", "10", "g/L"),
                            ("p1", "2022-02-01", "serum_m_protein", "0.9", "g/dL")]), PTS)  # fmt: skip
    assert h.units_seen == {"serum_m_protein": {"g/L": 1, "g/dL": 1}}


def test_empty_table():
    h = harmonize_labs(src([]), PTS)
    assert h.n_input == 0 and h.rows.empty and not h.issues


def test_every_contract_test_is_known():
    contract = {"serum_m_protein": {"g/dL", "g/L"}, "urine_m_protein": {"mg/24h", "g/24h"},
                "flc_kappa": {"mg/L", "mg/dL"}, "flc_lambda": {"mg/L", "mg/dL"},
                "serum_ife": set(), "urine_ife": set(), "bm_plasma_cells": {"%"},
                "plasmacytoma_spd": {"cm2"}, "new_lesion": set(),
                "calcium": {"mg/dL", "mmol/L"}, "hemoglobin": {"g/dL", "g/L"},
                "creatinine": {"mg/dL", "umol/L"}}  # fmt: skip
    for name, units in contract.items():
        t = L.TEST_BY_NAME[name]
        assert units <= {u[0] for u in t.units}, name
