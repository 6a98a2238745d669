"""The shortcuts of the CSV fast path give the answers of the plain computations they replace.

* :func:`mmrwe.io.raw._irregular_quotes` finds a few quotes one by one and many quotes with a
  mask of the whole text: both ways agree on every text.
* :func:`mmrwe.io.readers.check_csv_text` skips its search for long cells when no line is
  longer than the cap in bytes: the error, or its absence, is the same with and without the
  bytes.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.core.errors import InputError
from mmrwe.core.safety import InputLimits
from mmrwe.io import raw as raw_mod
from mmrwe.io.readers import _longest_line_bytes, check_csv_text

TEXT = st.text(alphabet=st.sampled_from([*'ab1 ,;"\n\r', "é"]), max_size=60)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(text=TEXT, sep=st.sampled_from([",", ";"]))
def test_few_and_many_quote_paths_agree(text: str, sep: str) -> None:
    data = text.encode("utf-8")
    few = raw_mod._irregular_quotes(data, sep)
    saved = raw_mod._FEW_QUOTES
    raw_mod._FEW_QUOTES = -1  # every text takes the mask path
    try:
        many = raw_mod._irregular_quotes(data, sep)
    finally:
        raw_mod._FEW_QUOTES = saved
    assert few == many


@pytest.mark.parametrize(
    ("text", "regular"),
    [
        ('"a","b"\n1,2\n', False),
        ('a,b\n"1",2\n"3","4"\r\n', False),
        ('a,b\n1,"2\n3",4\n', True),  # a cell across lines
        ('a,b\n1,x"y\n', True),  # a quote inside a cell
        ('a,b\n"1" ,2\n', True),  # text after the closing quote
    ],
)
def test_quote_examples(text: str, regular: bool) -> None:
    assert raw_mod._irregular_quotes(text.encode(), ",") is regular


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=TEXT)
def test_longest_line_bytes(text: str) -> None:
    data = text.encode("utf-8")
    expected = max(len(line) for line in data.split(b"\n"))
    assert _longest_line_bytes(data) == expected


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(alphabet=st.sampled_from([*"ab,\n", "é"]), min_size=1, max_size=40),
       cap=st.integers(1, 8))  # fmt: skip
def test_long_cell_check_same_with_bytes(text: str, cap: int) -> None:
    lim = dataclasses.replace(InputLimits(), max_cell_chars=cap)

    def outcome(**kw: bytes) -> str | None:
        try:
            check_csv_text(text, ",", "t.csv", lim, **kw)
        except InputError as exc:
            return exc.what
        return None

    assert outcome(utf8=text.encode("utf-8")) == outcome()
