"""The text dialect of a CSV file: encoding, delimiter, decimal mark, and what a read error means.

Used by :mod:`mmrwe.io.readers` to explain a CSV that does not parse (a European file read
with the defaults gets "set delimiter = ";" and decimal = ","" instead of a parse error) and
by :mod:`mmrwe.io.sniff` when ``mmrwe init`` writes a starting spec.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# ----------------------------------------------------------------------------------------
# Text dialect: encoding, delimiter, decimal mark
# ----------------------------------------------------------------------------------------

DELIMITERS = (",", ";", "\t", "|")
_DELIM_WORDS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


@dataclass(frozen=True, slots=True)
class Detected:
    """A detected value and the evidence for it, in words."""

    value: Any
    why: str


def sniff_encoding(raw: bytes) -> Detected:
    """Text encoding of a file's bytes: utf-8, utf-8-sig (BOM), cp1252 or latin-1.

    UTF-8 is tried first (strict). Bytes that are not UTF-8 are read as Windows-1252 when
    they include 0x80-0x9F (curly quotes, the euro sign: defined only there; in Latin-1
    these are control characters), else as Latin-1 (the two agree on every other byte).
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        return Detected(
            "utf-8-sig", 'the file starts with a UTF-8 byte-order mark (Excel\'s "CSV UTF-8")'
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1]
        c1 = sorted({b for b in raw if 0x80 <= b <= 0x9F})
        if c1:
            try:
                sample = bytes(c1[:3]).decode("cp1252")
            except UnicodeDecodeError:
                sample = ""
            if sample:
                return Detected(
                    "cp1252",
                    f"not UTF-8 (byte 0x{bad.hex()} at offset {exc.start}); it holds bytes only "
                    f"Windows-1252 defines ({', '.join(repr(ch) for ch in sample)})",
                )
        word = _first_non_ascii_word(raw.decode("latin-1"))
        return Detected(
            "latin-1",
            f"not UTF-8 (byte 0x{bad.hex()} at offset {exc.start}); read as Latin-1 its "
            f"letters make sense (e.g. {word!r})",
        )
    word = _first_non_ascii_word(text)
    if word is None:
        return Detected("utf-8", "plain ASCII text, which UTF-8 reads as is")
    return Detected("utf-8", f"valid UTF-8 with accented letters (e.g. {word!r})")


def _first_non_ascii_word(text: str) -> str | None:
    m = re.search(r"\w*[^\x00-\x7f]\w*", text)
    return m.group(0)[:30] if m else None


def _split_counts(lines: Sequence[str], sep: str) -> list[int]:
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""), delimiter=sep)
    try:
        return [len(r) for r in reader if any(c.strip() for c in r)]
    except csv.Error:
        return []


def sniff_delimiter(text: str, *, max_lines: int = 5000) -> Detected:
    """Field separator of CSV text: the candidate that splits every line into the same
    number (> 1) of cells, preferring more cells, then comma.

    Returns ``Detected(None, why)`` when no candidate splits the lines consistently.
    """
    lines = [ln for ln in text.splitlines()[:max_lines] if ln.strip()]
    if not lines:
        return Detected(None, "the file has no text")
    stats = {}
    for sep in DELIMITERS:
        counts = _split_counts(lines, sep)
        if counts:
            header = counts[0]
            same = sum(1 for c in counts if c == header)
            stats[sep] = (header, same, len(counts), min(counts), max(counts))
    consistent = [s for s, (h, same, n, _, _) in stats.items() if h > 1 and same == n]
    if consistent:
        best = max(consistent, key=lambda s: (stats[s][0], s == ","))
        h, _, n, _, _ = stats[best]
        others = []
        for s, (_, _, _, lo, hi) in stats.items():
            if s != best and hi > 1:
                others.append(
                    f"at {_DELIM_WORDS[s]} they split into {lo}" + (f" to {hi}" if hi != lo else "")
                    + " cells"
                )  # fmt: skip
        return Detected(
            best,
            f"every one of the {n} lines splits into {h} cells at {_DELIM_WORDS[best]} ({best!r})"
            + (f"; {'; '.join(others)}" if others else ""),
        )
    if not stats:
        return Detected(None, "no separator splits the lines (a stray quote character?)")
    best = max(
        stats, key=lambda s: (stats[s][1] / stats[s][2] if stats[s][0] > 1 else 0, stats[s][0])
    )
    h, same, n, lo, hi = stats[best]
    if h <= 1:
        return Detected(
            None, "no comma, semicolon, tab or vertical bar separates the header's names"
        )
    return Detected(
        best,
        f"{same} of the {n} lines split into {h} cells at {_DELIM_WORDS[best]} ({best!r}); "
        f"the others into {lo} to {hi}",
    )


_COMMA_DECIMAL = re.compile(r"^[+-]?\d+,\d+$")
_DOT_DECIMAL = re.compile(r"^[+-]?\d+\.\d+$")


def sniff_decimal(cells: Iterable[Any]) -> Detected:
    """Decimal mark of numbers written as text: "," when numbers like 12,5 occur and none
    like 12.5, "." otherwise (the majority when both occur)."""
    comma, dot = [], []
    for v in cells:
        if not isinstance(v, str):
            continue
        s = v.strip()
        if _COMMA_DECIMAL.match(s):
            comma.append(s)
        elif _DOT_DECIMAL.match(s):
            dot.append(s)
    if comma and not dot:
        return Detected(
            ",",
            f"{len(comma)} numbers are written with a decimal comma (e.g. {comma[0]!r}) and none with a point",
        )
    if dot and not comma:
        return Detected(
            ".",
            f"{len(dot)} numbers are written with a decimal point (e.g. {dot[0]!r}) and none with a comma",
        )
    if not comma and not dot:
        return Detected(".", "no number with decimals was seen; the point is the default")
    mark, n, other = (",", comma, dot) if len(comma) > len(dot) else (".", dot, comma)
    return Detected(
        mark,
        f"{len(n)} numbers use {mark!r} (e.g. {n[0]!r}) but {len(other)} use the other mark "
        f"(e.g. {other[0]!r}): those cells will be reported by `mmrwe validate`",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CsvDiagnosis:
    """What the reading options of a CSV file should be, and the words for a fix."""

    encoding: Detected
    delimiter: Detected
    decimal: Detected

    def keys(self, current: dict[str, str]) -> list[str]:
        """``key = "value"`` for each option that differs from ``current``."""
        out = []
        for key, det, default in (
            ("encoding", self.encoding, "utf-8"),
            ("delimiter", self.delimiter, ","),
            ("decimal", self.decimal, "."),
        ):
            if det.value is None:
                continue
            have = current.get(key) or default
            same_enc = key == "encoding" and _same_encoding(have, det.value)
            if det.value != have and not same_enc:
                shown = det.value.replace("\t", "\\t")
                out.append(f'{key} = "{shown}"')
        return out

    def fix(self, current: dict[str, str]) -> str | None:
        """A fix naming the keys to set under [data], or None when nothing differs."""
        keys = self.keys(current)
        if not keys:
            return None
        return (
            f"set {', '.join(keys)} under [data] (or the file's [[sites]] entry); "
            "`mmrwe init FILE` writes a spec with every reading option detected"
        )

    def summary(self) -> str:
        """The detected dialect in a few words, e.g. "Latin-1 text with ';' between cells"."""
        parts = []
        if self.encoding.value is not None:
            parts.append(f"{self.encoding.value} text")
        if self.delimiter.value is not None:
            shown = "tab" if self.delimiter.value == "\t" else repr(self.delimiter.value)
            parts.append(f"{shown} between cells")
        if self.decimal.value == ",":
            parts.append("',' as decimal mark")
        return ", ".join(parts)

    def evidence(self) -> str:
        """The detections in words."""
        return "; ".join(
            f"{name}: {det.why}"
            for name, det in (
                ("encoding", self.encoding),
                ("separator", self.delimiter),
                ("decimal mark", self.decimal),
            )
            if det.value is not None
        )


def _same_encoding(a: str, b: str) -> bool:
    import codecs

    try:
        return codecs.lookup(a).name == codecs.lookup(b).name
    except LookupError:
        return False


def diagnose_csv(raw: bytes) -> CsvDiagnosis:
    """Encoding, delimiter and decimal mark of a CSV file's bytes."""
    enc = sniff_encoding(raw)
    text = raw.decode(enc.value, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return _diagnose(text, enc)


def diagnose_text(text: str) -> CsvDiagnosis:
    """Delimiter and decimal mark of CSV text already decoded (encoding not judged)."""
    return _diagnose(text, Detected(None, ""))


def _diagnose(text: str, enc: Detected) -> CsvDiagnosis:
    sep = sniff_delimiter(text)
    cells: list[str] = []
    if sep.value is not None:
        lines = [ln for ln in text.splitlines()[1:2001] if ln.strip()]
        try:
            for rec in csv.reader(io.StringIO("\n".join(lines), newline=""), delimiter=sep.value):
                cells += rec
        except csv.Error:
            pass
    return CsvDiagnosis(enc, sep, sniff_decimal(cells))


def decimal_comma_rows(lines: Sequence[tuple[int, Sequence[str]]], width: int) -> list[int]:
    """Line numbers of comma-split rows whose extra cells come from decimal commas.

    A row of a comma-separated file written with decimal commas (``P1,11,5,70``) has one
    extra cell per such number; the row is explained when joining adjacent all-digit cells
    pairwise, left to right, brings it back to ``width`` cells.
    """
    out = []
    for line, cells in lines:
        extra = len(cells) - width
        if extra <= 0:
            continue
        merged, i = 0, 0
        while i < len(cells) - 1 and merged < extra:
            if re.fullmatch(r"[+-]?\d+", cells[i].strip()) and re.fullmatch(
                r"\d+", cells[i + 1].strip()
            ):
                merged += 1
                i += 2
            else:
                i += 1
        if merged == extra:
            out.append(line)
    return out
