"""The validation rules evaluated by the engine: an adversarial table, every finding located."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrwe.core.errors import ValidationError
from mmrwe.spec import load_spec
from mmrwe.study import Study

CSV = """\
patient_id,center,start_date,progression_date,death_date,last_followup_date,hgb,best_response,mixed,age
P1,A,2021-01-01,,,2021-06-01,11.2,PR,1,60
P2,A,2021-01-01,2021-03-01,2021-05-01,2021-05-01,10.1,cr,2,61
P3,A,2021-01-01,,2020-12-01,2020-12-01,12.0,VGPR,3,62
P4,B,2021-01-01,2021-08-01,,2021-06-01,9.5,SD,4,63
P5,B,2021-01-01,,2021-04-01,2021-05-01,45,PD,5,64
P6,B,2021-01-01,2021-05-02,2021-05-01,2021-05-01,5.5,XR,x,65
P6,B,2021-01-01,,,2021-06-01,11,PR,7,66
,C,2021-01-01,,,2021-06-01,11,PR,8,67
P9,C,01/02/2021,,,2021-06-01,abc,PR,9,68
P10,C,2021-02-30,,,,11,PR,10,69
P11,C,2021-01-01,,,2021-06-01,"11,5",PR,11,70
,,,,,,,,,
"""

SPEC = """\
[study]
title = "adversarial"
[data]
patients = "patients.csv"
{extra}
[variables.hgb]
unit = "g/dL"
[variables.age]
unit = "years"
"""


# Every finding of the adversarial table, in the order a reader sees them, checked by hand
# against the rows above (row = line of the file; the header is row 1).
EXPECTED = [
    ("MMV002", 8, "patient_id", "P6"),  # P6 again; the first P6 (row 7) is kept
    ("MMV003", 9, "patient_id", None),
    ("MMV004", 10, "start_date", "P9"),  # 01/02/2021 is not %Y-%m-%d
    ("MMV004", 11, "start_date", "P10"),  # 2021-02-30 does not exist
    ("MMV013", 10, "hgb", "P9"),  # abc
    ("MMV013", 12, "hgb", "P11"),  # 11,5 with the decimal point declared
    ("MMV018", None, "mixed", None),  # one "x" among numbers: categorical, said
    ("MMV006", 4, "death_date", "P3"),
    ("MMV006", 4, "last_followup_date", "P3"),
    ("MMV007", 5, "progression_date", "P4"),
    ("MMV008", 6, "last_followup_date", "P5"),
    ("MMV007", 7, "progression_date", "P6"),
    ("MMV009", 7, "progression_date", "P6"),
    ("MMV005", 11, "last_followup_date", "P10"),
    ("MMV010", 6, "hgb", "P5"),  # 45 g/dL
    ("MMV011", 7, "hgb", "P6"),  # 5.5 g/dL: unusual, a warning
    ("MMV012", 7, "best_response", "P6"),  # XR ("cr" is read as CR)
]


@pytest.mark.parametrize("exclude", [False, True], ids=["report", "exclude_invalid_rows"])
def test_every_finding_located_in_order(tmp_path: Path, exclude: bool) -> None:
    (tmp_path / "patients.csv").write_text(CSV)
    extra = "[validation]\nexclude_invalid_rows = true" if exclude else ""
    (tmp_path / "study.toml").write_text(SPEC.format(extra="") + "\n" + extra)
    v = Study.from_toml(tmp_path / "study.toml").validate()
    got = [(i.code, i.where.row, i.where.column, i.where.patient_id) for i in v.issues]
    assert got == EXPECTED
    error = "excluded" if exclude else "error"
    assert [i.severity for i in v.issues] == [
        "warning" if code in ("MMV011", "MMV018") else error for code, *_ in EXPECTED
    ]
    assert v.n_input_rows == 12
    mixed = next(i for i in v.issues if i.code == "MMV018")
    assert "row 7 'x'" in mixed.what
    if not exclude:
        assert [(e.reason, e.row) for e in v.exclusions] == [("empty row", 13)]
        assert v.n_analysed == 11
        return
    # every row with an error is excluded, with its reasons in issue order; the rest kept
    reasons = {(e.patient_id, e.row): e.reason for e in v.exclusions}
    assert reasons[(None, 13)] == "empty row"
    assert reasons[("P6", 8)] == "invalid: [MMV002] patient_id 'P6' appears again (first at row 7)"
    assert reasons[("P9", 10)] == (
        "invalid: [MMV004] start_date '01/02/2021' is not a date in the declared format "
        "'%Y-%m-%d'; [MMV013] hgb 'abc' is not a number"
    )
    assert [r for _, r in reasons] == [13, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert v.n_analysed == 2 and v.n_analysed + len(v.exclusions) == v.n_input_rows


def test_run_stops_on_errors(tmp_path: Path) -> None:
    from mmrwe.study.pipeline import run as run_study

    (tmp_path / "patients.csv").write_text(CSV)
    (tmp_path / "study.toml").write_text(SPEC.format(extra='engine = "duckdb"'))
    with pytest.raises(ValidationError) as err:
        run_study(load_spec(tmp_path / "study.toml"))
    assert any(i.code == "MMV006" and i.where.patient_id == "P3" for i in err.value.issues)


def test_clean_text_trims_and_nulls_tokens_like_str_strip() -> None:
    """The shortcut (trim only cells with edge whitespace) gives ``str.strip`` results."""
    import ibis

    from mmrwe.validate.patients import _clean_text

    cells = [" P1 ", "\tP2", "P3\n", "NA", " NA ", "", "   ", "x NA", "N/A\t", None,
             "P 4", "\n\t.\t\n", "NULLX", "nan ", "a\tb"]  # fmt: skip
    tokens = ("NA", "N/A", ".", "NULL", "nan")
    expected = [
        None if c is None or c.strip(" \t\n") in (*tokens, "") else c.strip(" \t\n") for c in cells
    ]
    con = ibis.duckdb.connect()
    try:
        t = ibis.memtable({"i": list(range(len(cells))), "c": cells})
        out = con.to_pyarrow(t.select("i", v=_clean_text(t.c, tokens)).order_by("i"))
    finally:
        con.disconnect()
    assert out["v"].to_pylist() == expected


def test_unreadable_parquet_is_a_clear_input_error(tmp_path: Path) -> None:
    from mmrwe.core.errors import InputError

    (tmp_path / "p.parquet").write_bytes(b"not a parquet file")
    (tmp_path / "study.toml").write_text(
        '[study]\ntitle = "x"\n[data]\npatients = "p.parquet"\nengine = "duckdb"\n'
    )
    with pytest.raises(InputError, match="cannot be read as a Parquet file") as exc:
        Study(load_spec(tmp_path / "study.toml")).validate()
    assert exc.value.where.file == "p.parquet"
