"""The validation rules pushed into the engine find what the in-memory validator finds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("ibis", reason="the scaled path needs ibis-framework")

from mmrwe.backends import connect, open_patients
from mmrwe.backends.validation import validate_table
from mmrwe.study import Study
from mmrwe.cli.pipeline_scaled import _unit_checks
from mmrwe.core.errors import ValidationError
from mmrwe.spec import load_spec

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


def _key(issues) -> Counter:
    return Counter((i.code, i.severity, i.where.patient_id, i.where.column) for i in issues)


@pytest.mark.parametrize("exclude", [False, True], ids=["report", "exclude_invalid_rows"])
def test_same_findings_as_in_memory(tmp_path: Path, exclude: bool) -> None:
    (tmp_path / "patients.csv").write_text(CSV)
    extra = "[validation]\nexclude_invalid_rows = true" if exclude else ""
    (tmp_path / "study.toml").write_text(SPEC.format(extra="") + "\n" + extra)
    spec = load_spec(tmp_path / "study.toml")
    mem = load_and_validate(spec)
    be = connect("duckdb")
    try:
        src = open_patients(be, spec.data)
        sv = validate_table(
            src.table, spec, file_name=src.name, unit_checks=_unit_checks(spec), backend=be
        )
        n_kept = sv.table.count().to_pyarrow().as_py()
    finally:
        be.close()
    mem_rows = [i for i in mem.issues if i.where.row is not None or i.where.patient_id]
    assert _key(sv.issues) == _key(mem.issues), (
        _key(sv.issues) - _key(mem.issues),
        _key(mem.issues) - _key(sv.issues),
    )
    assert mem_rows  # the table is adversarial
    assert {i.code for i in sv.issues} >= {"MMV002", "MMV003", "MMV004", "MMV005", "MMV006",
                                           "MMV007", "MMV008", "MMV009", "MMV010", "MMV011",
                                           "MMV012", "MMV013"}  # fmt: skip
    assert n_kept == len(mem.frame)
    assert sv.n_input_rows == mem.n_input_rows
    assert len(sv.exclusions) == len(mem.exclusions)
    # the same messages, so a user sees the same text whichever engine ran
    assert sorted(i.what for i in sv.issues if i.code not in ("MMV002", "MMV018")) == sorted(
        i.what for i in mem.issues if i.code not in ("MMV002", "MMV018")
    )


def test_scaled_run_stops_on_errors(tmp_path: Path) -> None:
    from mmrwe.study.pipeline import run as run_study

    (tmp_path / "patients.csv").write_text(CSV)
    (tmp_path / "study.toml").write_text(SPEC.format(extra='engine = "duckdb"'))
    with pytest.raises(ValidationError) as err:
        run_study(load_spec(tmp_path / "study.toml"))
    assert any(i.code == "MMV006" and i.where.patient_id == "P3" for i in err.value.issues)


def test_clean_text_trims_and_nulls_tokens_like_str_strip() -> None:
    """The shortcut (trim only cells with edge whitespace) gives ``str.strip`` results."""
    import ibis

    from mmrwe.backends.validation import _clean_text

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
