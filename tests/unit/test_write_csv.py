"""The per-patient CSV writer (Arrow): values read back equal, text neutralised like the
cell-by-cell rule, Parquet above the row threshold."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.core.safety import neutralize_csv_cell
from mmrwe.io.write import to_arrow_for_csv, write_csv


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["=1+1", "-1.5", "a,b", 'q"x', None, "+39 06", "@x", "ok"],
            "t": [0.1, 1 / 3, 7.0, np.nan, 1e-5, 1e20, -2.5, 12.451745379876797],
            "n": [1, 2, 3, 4, 5, 6, 7, 8],
            "event": [True, False, True, False, True, False, True, False],
            "date": pd.to_datetime(
                ["2020-01-01", None, "2021-02-03", "2020-01-01"] + ["2020-01-05"] * 4
            ),
            "stage": pd.Categorical(["I", "II", None, "I", "I", "III", "I", "I"]),
        }
    )


def test_values_read_back_equal_and_text_is_neutralised(tmp_path):
    df = _frame()
    path = tmp_path / "d.csv"
    write_csv(df, path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0] == ["patient_id", "t", "n", "event", "date", "stage"]
    ids = [r[0] for r in rows[1:]]
    expected = [neutralize_csv_cell(v) if isinstance(v, str) else "" for v in df["patient_id"]]
    assert ids == expected
    assert ids[0] == "'=1+1" and ids[1] == "-1.5" and ids[5] == "'+39 06"
    back = pd.read_csv(path)
    t = back["t"].to_numpy()
    np.testing.assert_array_equal(np.isnan(t), np.isnan(df["t"].to_numpy()))
    ok = ~np.isnan(t)
    assert (t[ok] == df["t"].to_numpy()[ok]).all()  # shortest round-trip text: exact
    assert [r[3] for r in rows[1:3]] == ["True", "False"]
    assert [r[4] for r in rows[1:4]] == ["2020-01-01", "", "2021-02-03"]
    assert [r[5] for r in rows[1:4]] == ["I", "II", ""]


def test_neutralising_can_be_turned_off(tmp_path):
    path = tmp_path / "d.csv"
    write_csv(pd.DataFrame({"x": ["=A1", "@b"]}), path, neutralize=False)
    assert list(csv.reader(io.StringIO(path.read_text())))[1:] == [["=A1"], ["@b"]]


def test_times_of_day_are_kept(tmp_path):
    path = tmp_path / "d.csv"
    write_csv(pd.DataFrame({"at": pd.to_datetime(["2020-01-01 10:30", "2020-01-02 00:00"])}), path)
    assert "2020-01-01 10:30:00" in path.read_text()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=20))
def test_every_text_cell_is_neutralised_as_the_cell_rule_says(values):
    import tempfile
    from pathlib import Path

    # no NUL/CR/LF-only subtleties of the reader: compare through the csv module, which
    # reads back exactly what a spreadsheet gets
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "d.csv"
        write_csv(pd.DataFrame({"x": pd.Series(values, dtype=object)}), path)
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    got = [r[0] if r else "" for r in rows[1:]]
    want = ["" if v is None else neutralize_csv_cell(v) for v in values]
    assert got == want


def test_derived_patients_becomes_parquet_above_the_threshold(tmp_path, monkeypatch):
    from mmrwe import Study
    from mmrwe.study.demo import copy_demo_inputs

    monkeypatch.setenv("MMRWE_DERIVED_CSV_MAX_ROWS", "10")
    spec = copy_demo_inputs(tmp_path / "in")
    result = Study.from_toml(spec).run()
    out = tmp_path / "out"
    result.write(out, report=False)
    assert not (out / "restricted" / "derived_patients.csv").exists()
    table = pd.read_parquet(out / "restricted" / "derived_patients.parquet")
    want = result.derived_patients.reset_index(drop=True)
    assert list(table.columns) == list(want.columns) and len(table) == len(want)
    for name in want.columns:
        a, b = table[name].tolist(), want[name].tolist()
        assert [None if pd.isna(v) else v for v in a] == [None if pd.isna(v) else v for v in b]
    run = json.loads((out / "run.json").read_text())
    assert run["files"]["derived_patients"] == "restricted/derived_patients.parquet"


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_frames(tmp_path, n):
    path = tmp_path / "d.csv"
    write_csv(pd.DataFrame({"a": [1.5] * n, "b": ["x"] * n}), path)
    assert pd.read_csv(path).shape == (n, 2)


def test_large_study_streams_derived_patients_from_the_engine(tmp_path, monkeypatch):
    """Above the threshold the table goes engine -> Parquet in batches, never through
    pandas; its values equal the in-memory table's, column by column."""
    import shutil

    from mmrwe import Study
    from mmrwe.study.demo import demo_dir
    from mmrwe.study.pipeline import DerivedFile

    shutil.copyfile(demo_dir() / "patients.csv", tmp_path / "patients.csv")
    (tmp_path / "study.toml").write_text(
        '[study]\ntitle = "t"\ntime_unit = "months"\nsynthetic = true\n'
        '[data]\npatients = "patients.csv"\n'
        '[[derive]]\nname = "hgb_low"\nfrom = "hgb"\nbelow = 10\n'
        '[[cox]]\nendpoint = "OS"\nterms = ["age"]\n'
    )
    small = Study.from_toml(tmp_path / "study.toml").run()
    assert isinstance(small._run.derived, pd.DataFrame)
    monkeypatch.setenv("MMRWE_DERIVED_CSV_MAX_ROWS", "10")
    large = Study.from_toml(tmp_path / "study.toml").run()
    assert isinstance(large._run.derived, DerivedFile) and len(large._run.derived) == 51
    want, got = small.derived_patients, large.derived_patients
    assert list(got.columns) == list(want.columns) and "hgb_low" in got.columns
    for name in want.columns:
        a = [None if pd.isna(v) else v for v in got[name].tolist()]
        b = [None if pd.isna(v) else v for v in want[name].tolist()]
        assert a == b, name
    out = tmp_path / "out"
    large.write(out, report=False)
    assert pd.read_parquet(out / "restricted" / "derived_patients.parquet").shape == want.shape
    assert large.to_dict() == small.to_dict()


def test_arrow_backed_text_writes_as_object_text(tmp_path: Path) -> None:
    """pandas 3 text columns (Arrow-backed) give the bytes object columns give (they arrive
    as a chunked array, which must not be re-read as a sequence of cells)."""
    values = ["a", None, "=1+2", "b,c", "é"] * 3
    obj = pd.DataFrame({"x": pd.Series(values, dtype=object), "n": range(15)})
    arrow = obj.astype({"x": "str"})
    assert not isinstance(arrow["x"].dtype, np.dtype)  # the extension (Arrow or str) dtype
    write_csv(obj, tmp_path / "obj.csv")
    write_csv(arrow, tmp_path / "arrow.csv")
    assert (tmp_path / "obj.csv").read_bytes() == (tmp_path / "arrow.csv").read_bytes()
    assert to_arrow_for_csv(arrow).column("x").num_chunks == 1
