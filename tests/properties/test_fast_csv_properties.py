"""Arrow's CSV reader (the fast path) gives exactly the strict splitter's cells, or steps aside.

Whatever the text, :func:`mmrwe.io.raw._fast_csv` either declines (None: the strict reader
then reads the file and names any problem) or returns the cells and row numbers that
:func:`mmrwe.io.readers.read_table` gives for the same file.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmrwe.core.errors import InputError
from mmrwe.io.raw import _fast_csv
from mmrwe.io.readers import read_table

CELL = st.text(alphabet=st.sampled_from([*'ab1 ."\t,;-=', "é"]), max_size=6)
MISSING = ("", "NA")


def _norm(v: object) -> object:
    if v is None:
        return None
    s = str(v).strip()
    return None if s in MISSING else s


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    rows=st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=6),
    how=st.sampled_from(["minimal", "all", "raw", "raw_crlf"]),
)
def test_fast_path_equals_the_strict_reader(rows: list[list[str]], how: str) -> None:
    header = ["patient_id", "x", "y"]
    if how in ("minimal", "all"):
        buf = io.StringIO()
        quoting = csv.QUOTE_MINIMAL if how == "minimal" else csv.QUOTE_ALL
        w = csv.writer(buf, quoting=quoting, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        text = buf.getvalue()
    else:
        end = "\r\n" if how == "raw_crlf" else "\n"
        text = end.join(",".join(r) for r in [header, *rows]) + end
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.csv"
        p.write_text(text, encoding="utf-8", newline="")
        fast = _fast_csv(p, ",", "utf-8")
        if fast is None:
            return
        strict = read_table(p, missing_values=MISSING)  # must read what the fast path read
        f = fast.table
        assert [c for c in f.column_names if not c.startswith("_")] == list(strict.frame.columns)
        assert f.column("_src_row").to_pylist() == list(strict.source_rows)
        for c in strict.frame.columns:
            assert [_norm(v) for v in f.column(c).to_pylist()] == [
                _norm(v) for v in strict.frame[c].tolist()
            ], (c, text)


def test_irregular_quotes_go_to_the_strict_reader(tmp_path: Path) -> None:
    for text in ('a,b\n1,b"c\n', 'a,b\n"ab"c,1\n', 'a,b\n"1,2\n', 'a,b\n"x\ny",1\n'):
        p = tmp_path / "t.csv"
        p.write_text(text)
        assert _fast_csv(p, ",", "utf-8") is None, text
        error: InputError | None = None
        try:
            read_table(p)
        except InputError as exc:
            error = exc
        # the strict reader either reads it or says where it breaks
        assert error is None or (error.where is not None and error.where.row is not None)
