"""Properties of the detection behind `mmrwe init` and the CSV diagnosis, on generated tables."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mmrwe.io.sniff import diagnose_csv, order_levels, sniff_dates
from mmrwe.spec import InvalidSpecError, parse_spec

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzàèéìòùäöüñç", min_size=1, max_size=8)
DATES = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31))


@st.composite
def csv_tables(draw):
    n_cols = draw(st.integers(2, 6))
    kinds = draw(
        st.lists(
            st.sampled_from(["int", "float", "word", "date"]), min_size=n_cols, max_size=n_cols
        )
    )
    n_rows = draw(st.integers(2, 25))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    decimal = "." if delimiter == "," else draw(st.sampled_from([".", ","]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "cp1252"]))
    header = [f"col{i}" for i in range(n_cols)]
    rows = []
    for _ in range(n_rows):
        row = []
        for k in kinds:
            if k == "int":
                row.append(str(draw(st.integers(0, 500))))
            elif k == "float":
                x = draw(st.integers(0, 9999)) / 10 + 0.1  # always a fractional part
                row.append(f"{x:.1f}".replace(".", decimal))
            elif k == "word":
                row.append(draw(WORDS))
            else:
                row.append(draw(DATES).isoformat())
        rows.append(row)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    w.writerows(rows)
    raw = buf.getvalue().encode(encoding)
    return raw, delimiter, decimal, encoding, "float" in kinds


@given(csv_tables())
def test_the_dialect_of_a_written_table_is_recovered(table):
    raw, delimiter, decimal, encoding, has_decimals = table
    d = diagnose_csv(raw)
    assert d.delimiter.value == delimiter, d.delimiter.why
    assert d.decimal.value == (decimal if has_decimals else ".")
    # The detected encoding reads the bytes as the encoding they were written in.
    text = raw.decode(encoding)
    assert raw.decode(d.encoding.value).lstrip("\ufeff") == text.lstrip("\ufeff")
    if encoding == "utf-8-sig":
        assert d.encoding.value == "utf-8-sig"
    # The fix names exactly the options that differ from the defaults.
    fix = d.fix({"delimiter": ",", "encoding": "utf-8"}) or ""
    shown = "\\t" if delimiter == "\t" else delimiter
    assert (f'delimiter = "{shown}"' in fix) == (delimiter != ",")
    assert ('decimal = ","' in fix) == (decimal == "," and has_decimals)


FORMATS = ["%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y"]


@given(st.lists(DATES, min_size=1, max_size=40), st.sampled_from(FORMATS))
def test_dates_are_read_in_their_format_or_left_undecided(dates, fmt):
    texts = [d.strftime(fmt) for d in dates]
    det = sniff_dates({"c": texts})
    ambiguous = fmt != "%Y-%m-%d" and all(d.day <= 12 for d in dates)
    assert (det.format is None) == ambiguous
    if ambiguous:
        assert fmt in det.candidates and len(det.candidates) == 2
    else:
        assert det.format == fmt
    for f in det.candidates:  # every candidate reads every date
        for s in texts:
            dt.datetime.strptime(s, f)


@given(st.lists(WORDS, min_size=1, max_size=10, unique=True))
def test_levels_are_a_permutation_of_the_values(values):
    levels, rule = order_levels(values)
    assert sorted(levels) == sorted(values) and rule


MISTAKES = {
    "study.time_unit": ("MMS003", lambda d: d.setdefault("study", {}).update(time_unit="weeks")),
    "study.alpha": ("MMS002", lambda d: d.setdefault("study", {}).update(alpha="0.05")),
    "km.conf_typ": ("MMS001", lambda d: d.setdefault("km", {}).update(conf_typ="log")),
    "km.landmarks": ("MMS004", lambda d: d.setdefault("km", {}).update(landmarks=[-1])),
    "data.decimal": ("MMS003", lambda d: d["data"].update(decimal=";")),
    "[[logrank]] 1 -> endpoint": ("MMS005", lambda d: d.update(logrank=[{"by": "sex"}])),
    "[[cox]] 1 -> ties": ("MMS003", lambda d: d.update(cox=[{"endpoint": "OS", "terms": ["age"], "ties": "exact"}])),
    "report.small_cell_k": ("MMS004", lambda d: d.setdefault("report", {}).update(small_cell_k=5000)),
    "table1.by": ("MMS002", lambda d: d.setdefault("table1", {}).update(by=3)),
    "[[compare_proportion]] 1 -> outcome": ("MMS006", lambda d: d.update(compare_proportion=[{"outcome": "NOPE", "by": "x"}])),
}  # fmt: skip


@given(st.sets(st.sampled_from(sorted(MISTAKES)), min_size=1))
def test_one_load_lists_every_mistake_and_nothing_else(chosen):
    doc: dict = {"data": {"patients": "p.csv"}}
    for key in sorted(chosen):
        MISTAKES[key][1](doc)
    try:
        parse_spec(doc, path=Path("study.toml"))
    except InvalidSpecError as exc:
        found = {(i.code, i.where.spec_key) for i in exc.issues}
    else:
        found = set()
    assert found == {(MISTAKES[k][0], k) for k in chosen}
