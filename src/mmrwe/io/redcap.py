"""A REDCap project as the study's canonical tables, read as the center keeps it.

Input: the record export (CSV, raw field names as headers, raw codes or labels as values)
and the project's data dictionary (REDCap's own CSV, or the API's metadata with snake_case
headers), optionally the data access groups export for the centers' display names. Output:
the canonical patient table (an Arrow table of raw cells with ``_src_row`` and ``_ord``,
validated by :mod:`mmrwe.validate.patients` like any file) and the lab and therapy tables
(:class:`~mmrwe.core.sources.SourceTable`, read by :mod:`mmrwe.derive` like any file), each
row keeping where it came from: the record export's line, record, event, instrument and
instance.

How the export becomes tables
-----------------------------
* The dictionary's first field is ``patient_id`` (unless ``[data.columns] patient_id``
  names another field); ``redcap_data_access_group`` is ``center`` (its display name from
  the groups file) unless ``[data.columns] center`` names a field.
* The patient table is the row of each record in the baseline event (declared, or the
  event of the export's first row), not of a repeating instrument, with the fields of the
  patient forms. Field names are column names.
* The lab and therapy tables are the rows holding their instrument: each instance of a
  repeating instrument, or each event the instrument is collected in.
* Coded fields (radio, dropdown, yes/no, true/false) are decoded to their labels; a value
  that is not a choice of the dictionary is an error, never a new category. Checkbox
  columns ``field___code`` are read together: one column with the checked labels joined by
  ``;`` in the dictionary's order (``set``), or one ``yes``/``no`` column per choice
  (``columns``).
* Dates are read as their validation type writes them (``date_ymd`` 2023-01-31;
  ``date_dmy`` 31-01-2023; ``date_mdy`` 01-31-2023; ``/`` also accepted; REDCap's own
  exports write YYYY-MM-DD whatever the type, which every type accepts) and handed on as
  ISO text; a date-time keeps its date (every analysis counts whole days). Numbers of a
  ``*_comma_decimal`` field (or of any number field with ``[data] decimal = ","``) are
  handed on with a decimal point.
* Fields marked as identifiers in the dictionary are dropped at reading: they never reach
  a table, so never an output.

Every problem of the whole export is reported at once, each located by file, line,
record, event, instrument, instance and field. An invalid cell (a code not in the
dictionary, an unreadable date or number) is read as missing and reported as an error, so
the run stops unless the issue is accepted in ``[validation.accept]`` or the record is
excluded (``exclude_invalid_rows``).

Issue codes (REDCap projects)
-----------------------------
MMR001 error    a column of the record export is neither a field of the dictionary, a
                checkbox choice, a form status nor a REDCap column
MMR002 error    the spec names an instrument, field or event the project does not have
MMR003 error    a coded value (radio, dropdown, yes/no, true/false, checkbox) that is not
                a choice of the dictionary
MMR004 error    a date or date-time not readable as its validation type writes it
MMR005 warning  a number or date outside the field's validation min/max
MMR006 error    a number or integer field holding something else
MMR007 warning  an instrument holding data but not marked Complete (Incomplete/Unverified)
MMR008 error    a record without a row in the baseline event
MMR009 error    a record with more than one row in the baseline event
MMR010 error    a repeating instrument that is not a form of the dictionary (raw export), or
                whose rows hold no single form's fields (labels export)
MMR011 error    a data access group missing from the groups file
MMR012 error    the spec maps a field marked as an identifier (identifiers never reach an
                output)
MMR013 error    a redcap_repeat_instance that is not a positive whole number
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.errors import InputError, Issue, Location
from mmrwe.core.safety import check_input_file, input_limits, limit_error, shown
from mmrwe.core.sources import SourceInfo, SourceTable
from mmrwe.spec.model import RedcapInstrument, RedcapSection, VariableSpec

#: REDCap's own columns of a record export (not fields of the dictionary).
EVENT, REPEAT_INSTRUMENT, REPEAT_INSTANCE, DAG = (
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
)
_IGNORED = ("redcap_survey_identifier", "redcap_arm")
#: REDCap's own columns: where a row sits in the project (no person's data).
REDCAP_COLUMNS = (EVENT, REPEAT_INSTRUMENT, REPEAT_INSTANCE, DAG)
CODED_TYPES = ("radio", "dropdown", "yesno", "truefalse")
_YESNO = (("1", "Yes"), ("0", "No"))
_TRUEFALSE = (("1", "True"), ("0", "False"))
#: Form status: 0 Incomplete, 1 Unverified, 2 Complete (raw codes, labels).
FORM_STATUS = (("0", "Incomplete"), ("1", "Unverified"), ("2", "Complete"))
CHECKED = ("1", "Checked")
UNCHECKED = ("0", "Unchecked")
#: Examples listed per rule and field; further cells are counted in one more issue.
MAX_EXAMPLES = 1000


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """One REDCap rule: code, severity, what it checks (documented in docs/validation.md)."""

    code: str
    severity: str
    what: str


RULES: tuple[RuleInfo, ...] = (
    RuleInfo("MMR001", "error", "a column of the record export that the dictionary does not explain"),
    RuleInfo("MMR002", "error", "the spec names an instrument, field or event the project does not have"),
    RuleInfo("MMR003", "error", "a coded value that is not a choice of the dictionary"),
    RuleInfo("MMR004", "error", "a date or date-time not readable as its validation type writes it"),
    RuleInfo("MMR005", "warning", "a number or date outside the field's validation min/max"),
    RuleInfo("MMR006", "error", "a number or integer field holding something else"),
    RuleInfo("MMR007", "warning", "an instrument holding data but not marked Complete"),
    RuleInfo("MMR008", "error", "a record without a row in the baseline event"),
    RuleInfo("MMR009", "error", "a record with more than one row in the baseline event"),
    RuleInfo("MMR010", "error", "a repeating instrument the dictionary does not have"),
    RuleInfo("MMR011", "error", "a data access group missing from the groups file"),
    RuleInfo("MMR012", "error", "the spec maps a field marked as an identifier"),
    RuleInfo("MMR013", "error", "a redcap_repeat_instance that is not a positive whole number"),
)  # fmt: skip


# ----------------------------------------------------------------------------------------
# The data dictionary
# ----------------------------------------------------------------------------------------

#: Dictionary columns: REDCap's CSV header, and the API metadata's name.
DICTIONARY_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("Variable / Field Name", "field_name"),
    "form": ("Form Name", "form_name"),
    "type": ("Field Type", "field_type"),
    "label": ("Field Label", "field_label"),
    "choices": ("Choices, Calculations, OR Slider Labels", "select_choices_or_calculations"),
    "note": ("Field Note", "field_note"),
    "validation": ("Text Validation Type OR Show Slider Number", "text_validation_type_or_show_slider_number"),
    "vmin": ("Text Validation Min", "text_validation_min"),
    "vmax": ("Text Validation Max", "text_validation_max"),
    "identifier": ("Identifier?", "identifier"),
}  # fmt: skip
_REQUIRED_DICTIONARY = ("name", "form", "type")
_TAG = re.compile(r"<[^>]*>")


def plain(text: str) -> str:
    """A label without HTML tags and with single spaces (REDCap labels may hold markup)."""
    return " ".join(_TAG.sub("", text).split())


@dataclass(frozen=True, slots=True)
class Field:
    """One row of the data dictionary."""

    name: str
    form: str
    type: str
    label: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (code, label) in the dictionary's order
    validation: str = ""
    vmin: str = ""
    vmax: str = ""
    identifier: bool = False
    note: str = ""
    row: int = 0  # line of the dictionary file

    @property
    def is_coded(self) -> bool:
        """Radio, dropdown, yes/no or true/false: one code per cell."""
        return self.type in CODED_TYPES

    @property
    def is_checkbox(self) -> bool:
        """A checkbox field: one export column per choice."""
        return self.type == "checkbox"

    @property
    def is_date(self) -> bool:
        """A text field validated as a date or a date-time."""
        return self.type == "text" and self.validation.startswith(("date_", "datetime_"))

    @property
    def is_number(self) -> bool:
        """A text field validated as a number or an integer."""
        return self.type == "text" and (
            self.validation == "integer" or self.validation.startswith("number")
        )

    @property
    def has_data(self) -> bool:
        """The field has a column in the record export (descriptive fields have none)."""
        return self.type != "descriptive"

    def codes(self) -> tuple[tuple[str, str], ...]:
        """(code, label) of a coded or checkbox field, as the export writes them."""
        if self.type == "yesno":
            return _YESNO
        if self.type == "truefalse":
            return _TRUEFALSE
        return self.choices

    def date_order(self) -> str:
        """ "ymd", "dmy" or "mdy": how the field's dates are written."""
        return self.validation.rsplit("_", 1)[-1] if self.is_date else "ymd"


@dataclass(frozen=True)
class Dictionary:
    """A REDCap data dictionary: fields in order, each with its form, type and choices."""

    path: Path
    sha256: str
    fields: tuple[Field, ...]

    @property
    def first(self) -> str:
        """The record id field (the dictionary's first field)."""
        return self.fields[0].name

    @property
    def by_name(self) -> dict[str, Field]:
        """Field name -> field."""
        return {f.name: f for f in self.fields}

    @property
    def forms(self) -> tuple[str, ...]:
        """Instrument names in the dictionary's order."""
        return tuple(dict.fromkeys(f.form for f in self.fields))

    def fields_of(self, form: str) -> tuple[Field, ...]:
        """The fields of one instrument, in order."""
        return tuple(f for f in self.fields if f.form == form)


def parse_choices(text: str) -> tuple[tuple[str, str], ...]:
    """``"1, Female | 2, Male"`` -> ``(("1", "Female"), ("2", "Male"))`` (labels de-tagged).

    The code is what precedes the first comma; the label may hold further commas.
    """
    out = []
    for part in text.split("|"):
        if not part.strip():
            continue
        code, sep, label = part.partition(",")
        out.append((code.strip(), plain(label) if sep else code.strip()))
    return tuple(out)


def read_dictionary(path: Path, *, encoding: str = "utf-8") -> Dictionary:
    """Read a REDCap data dictionary (CSV).

    Raises
    ------
    InputError
        Missing or unreadable file, a file that is not a data dictionary (its header lacks
        Variable / Field Name, Form Name or Field Type), a field listed twice, a coded field
        without choices.
    """
    header, rows, lines, sha = read_csv_cells(path, delimiter=",", encoding=encoding,
                                              what="data dictionary")  # fmt: skip
    found: dict[str, int] = {}
    for key, names in DICTIONARY_COLUMNS.items():
        for k, h in enumerate(header):
            if h in names or h.lower() in (n.lower() for n in names):
                found[key] = k
                break
    missing = [DICTIONARY_COLUMNS[k][0] for k in _REQUIRED_DICTIONARY if k not in found]
    if missing:
        raise InputError(
            f"{path.name} is not a REDCap data dictionary: its header has no {', '.join(repr(m) for m in missing)}",
            where=Location(file=path.name, row=1),
            fix="download the dictionary from REDCap (Project Setup > Data Dictionary > Download the current Data Dictionary) and name it under [data.redcap] dictionary",
        )  # fmt: skip
    fields: list[Field] = []
    seen: dict[str, int] = {}
    for line, cells in zip(lines, rows, strict=True):

        def get(key: str, cells: list[str] = cells) -> str:
            k = found.get(key)
            return cells[k].strip() if k is not None and k < len(cells) else ""

        name = get("name")
        if not name:
            if any(c.strip() for c in cells):
                raise InputError(
                    f"{path.name}: a field without a name",
                    where=Location(file=path.name, row=line, column=DICTIONARY_COLUMNS["name"][0]),
                    fix="every row of the dictionary names a field",
                )
            continue
        if name in seen:
            raise InputError(
                f"{path.name}: field {shown(name)} is listed twice (lines {seen[name]} and {line})",
                where=Location(file=path.name, row=line, field=name),
                fix="download the dictionary from REDCap again (field names are unique in a project)",
            )
        seen[name] = line
        ftype = get("type").lower()
        choices = (
            parse_choices(get("choices")) if ftype in ("radio", "dropdown", "checkbox") else ()
        )
        if ftype in ("radio", "dropdown", "checkbox") and not choices:
            raise InputError(
                f"{path.name}: the {ftype} field {shown(name)} has no choices",
                where=Location(file=path.name, row=line, field=name),
                fix="download the dictionary from REDCap again: coded fields list their choices as '1, label | 2, label'",
            )
        fields.append(
            Field(
                name=name, form=get("form"), type=ftype, label=plain(get("label")),
                choices=choices, validation=get("validation").lower(), vmin=get("vmin"),
                vmax=get("vmax"), identifier=get("identifier").lower() in ("y", "yes", "1"),
                note=plain(get("note")), row=line,
            )
        )  # fmt: skip
    if not fields:
        raise InputError(f"{path.name} lists no fields", where=Location(file=path.name),
                         fix="download the project's data dictionary from REDCap")  # fmt: skip
    return Dictionary(path, sha, tuple(fields))


def read_groups(path: Path, *, encoding: str = "utf-8") -> dict[str, str]:
    """The data access groups export: unique group name -> display name."""
    return _read_groups(path, encoding)[0]


def _read_groups(path: Path, encoding: str) -> tuple[dict[str, str], str]:
    header, rows, lines, sha = read_csv_cells(path, delimiter=",", encoding=encoding,
                                              what="data access groups file")  # fmt: skip
    low = [h.lower() for h in header]
    if "unique_group_name" not in low or "data_access_group_name" not in low:
        raise InputError(
            f"{path.name} is not REDCap's data access groups export: its header needs data_access_group_name and unique_group_name",
            where=Location(file=path.name, row=1),
            fix="export the groups from REDCap (Data Access Groups > export, or the API's exportDags)",
        )  # fmt: skip
    u, n = low.index("unique_group_name"), low.index("data_access_group_name")
    out: dict[str, str] = {}
    for line, cells in zip(lines, rows, strict=True):
        unique = cells[u].strip() if u < len(cells) else ""
        name = cells[n].strip() if n < len(cells) else ""
        if unique:
            if not name:
                raise InputError(f"{path.name}: group {shown(unique)} has no name",
                                 where=Location(file=path.name, row=line),
                                 fix="export the groups from REDCap again")  # fmt: skip
            out[unique] = name
    return out, sha


# ----------------------------------------------------------------------------------------
# CSV text with REDCap's quoting (cells may run over several lines)
# ----------------------------------------------------------------------------------------


def read_csv_cells(
    path: Path, *, delimiter: str = ",", encoding: str = "utf-8", what: str = "file"
) -> tuple[list[str], list[list[str]], list[int], str]:
    """Header, rows of cells, the line each row starts on, and the SHA-256 of the bytes.

    REDCap quotes cells holding separators, quotes or line breaks (notes fields, field
    labels), so a cell may span lines; every row must have the header's width.

    Raises
    ------
    InputError
        Missing file, not a regular file, over the size caps, not text in ``encoding``, a
        stray quote, a row of another width than the header, a repeated column name.
    """
    import contextlib

    from mmrwe.io.readers import check_csv_text

    if not path.exists():
        raise InputError(
            f"REDCap {what} not found: {path}",
            where=Location(file=str(path)),
            fix="check the path under [data.redcap]; paths are relative to the study spec's folder",
        )
    st = check_input_file(path)
    lim = input_limits()
    if st.st_size > lim.max_input_bytes:
        raise limit_error(f"{path.name} has {st.st_size:,} bytes", "max_input_bytes",
                          lim.max_input_bytes, where=Location(file=path.name),
                          fix="export fewer fields or records at a time")  # fmt: skip
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(
            f"{path.name} is not {encoding} text ({exc})",
            where=Location(file=path.name),
            fix='REDCap writes UTF-8; if the file was re-saved by another program, set encoding = "..." under [data]',
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise InputError(f"{path.name} contains a NUL character; it is not a CSV export",
                         where=Location(file=path.name), fix=f"export the {what} from REDCap again")  # fmt: skip
    check_csv_text(text, delimiter, path.name, lim)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    end = 0
    try:
        for rec in reader:
            start, end = end + 1, reader.line_num
            if rec and any(c.strip() for c in rec):
                rows.append(rec)
                lines.append(start)
    except csv.Error as exc:
        raise InputError(
            f"{path.name}: cannot split line {reader.line_num} into cells ({exc})",
            where=Location(file=path.name, row=reader.line_num),
            fix=f"export the {what} from REDCap again (a stray quote character?)",
        ) from None
    if not rows:
        raise InputError(f"{path.name} is empty", where=Location(file=path.name),
                         fix=f"export the {what} from REDCap again")  # fmt: skip
    header = [h.strip() for h in rows[0]]
    with contextlib.suppress(ValueError):
        k = header.index("")
        raise InputError(f"column {k + 1} of {path.name} has no header", where=Location(file=path.name, row=1),
                         fix=f"export the {what} from REDCap again")  # fmt: skip
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise InputError(f"{path.name}: column(s) {', '.join(map(shown, dup))} appear more than once",
                         where=Location(file=path.name, row=1),
                         fix=f"export the {what} from REDCap again")  # fmt: skip
    width = len(header)
    bad = [(ln, len(r)) for ln, r in zip(lines[1:], rows[1:], strict=True) if len(r) != width]
    if bad:
        ln, k = bad[0]
        raise InputError(
            f"{path.name}: {len(bad)} row(s) have another number of cells than the header's {width} (line {ln}: {k})",
            where=Location(file=path.name, row=ln),
            fix=f"export the {what} from REDCap again, and check the delimiter under [data]",
        )
    return header, rows[1:], lines[1:], sha


# ----------------------------------------------------------------------------------------
# Reading cells by field type
# ----------------------------------------------------------------------------------------

_DATE = {
    "ymd": re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    "dmy": re.compile(r"^(\d{1,2})[-/](\d{1,2})[-/](\d{4})$"),
    "mdy": re.compile(r"^(\d{1,2})[-/](\d{1,2})[-/](\d{4})$"),
}
_TIME = re.compile(r"^(.*\S)\s+(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_WRITTEN = {"ymd": "YYYY-MM-DD", "dmy": "DD-MM-YYYY", "mdy": "MM-DD-YYYY"}


def parse_date(text: str, order: str, *, with_time: bool) -> dt.date | None:
    """A date as a field of validation ``date_<order>`` (or ``datetime_*``) writes it.

    YYYY-MM-DD (REDCap's export format) is read for every order; ``dmy`` and ``mdy`` also
    read DD-MM-YYYY and MM-DD-YYYY (``-`` or ``/``). A date-time's time is checked and
    dropped. None when the text is no such date.
    """
    s = text.strip()
    m_time = _TIME.match(s) if with_time else None
    if m_time is not None:
        s = m_time.group(1)
        hh, mm, ss = int(m_time.group(2)), int(m_time.group(3)), int(m_time.group(4) or 0)
        if hh > 23 or mm > 59 or ss > 59:
            return None
    for kind in ("ymd", order) if order != "ymd" else ("ymd",):
        m = _DATE[kind].match(s)
        if m is None:
            continue
        a, b, c = (int(x) for x in m.groups())
        y, mo, d = {"ymd": (a, b, c), "dmy": (c, b, a), "mdy": (c, a, b)}[kind]
        try:
            return dt.date(y, mo, d)
        except ValueError:
            return None
    return None


def parse_number(text: str, *, comma: bool, integer: bool) -> str | None:
    """The number's text with a decimal point, or None when it is no number."""
    s = text.strip()
    if comma:
        if "." in s and "," in s:
            return None  # thousands separators are ambiguous: refused, never guessed
        s = s.replace(",", ".")
    ok = _INTEGER.match(s) if integer else _NUMBER.match(s)
    return s if ok else None


def _per_distinct(
    values: np.ndarray, fn: Callable[[str], tuple[Any, bool]]
) -> tuple[np.ndarray, np.ndarray]:
    """``fn`` applied once per distinct cell text: (values, is_bad) per row.

    Cells repeat (codes, dates, units), so each distinct text is parsed once and the
    result broadcast to the rows.
    """
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    out = np.empty(len(uniques) + 1, dtype=object)
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for k, u in enumerate(uniques):
        out[k], ok = fn(str(u))
        bad[k] = not ok
    out[-1] = None  # the sentinel -1 (missing cell) indexes the last slot
    return out[codes], bad[codes]


# ----------------------------------------------------------------------------------------
# The project
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    """The record export: cells (str or None) per column, and each row's line."""

    path: Path
    sha256: str
    header: tuple[str, ...]
    cells: dict[str, np.ndarray]
    lines: np.ndarray

    @property
    def n(self) -> int:
        """Rows of the export."""
        return len(self.lines)

    def column(self, name: str) -> np.ndarray:
        """A column's cells (all None when the export lacks it)."""
        got = self.cells.get(name)
        return got if got is not None else np.full(self.n, None, dtype=object)


def read_records(
    path: Path,
    *,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    missing_values: Sequence[str] = ("",),
) -> Records:
    """Read a record export: cells stripped, missing-value texts read as missing."""
    header, rows, lines, sha = read_csv_cells(path, delimiter=delimiter or ",",
                                              encoding=encoding, what="record export")  # fmt: skip
    missing = set(missing_values) | {""}
    cells: dict[str, np.ndarray] = {}
    if rows:
        grid = np.array(rows, dtype=object)
        strip = np.frompyfunc(lambda v: None if v.strip() in missing else v.strip(), 1, 1)
        grid = strip(grid)
        for k, h in enumerate(header):
            cells[h] = grid[:, k].astype(object)
    else:
        cells = {h: np.empty(0, dtype=object) for h in header}
    return Records(path, sha, tuple(header), cells, np.asarray(lines, dtype=np.int64))


def _lookup(values: np.ndarray, table: Mapping[str, str]) -> np.ndarray:
    """``table[v]`` per cell (None for a missing cell or an unknown value)."""
    mapped = pd.Series(values, dtype=object).map(lambda v: table.get(v) if v is not None else None)
    return mapped.to_numpy(dtype=object)


def checkbox_column(field: str, code: str) -> str:
    """The export column of one checkbox choice: ``field___code`` (code lower-cased, signs
    and dots written as underscores, as REDCap names them)."""
    return f"{field}___{re.sub(r'[^a-z0-9_]', '_', code.lower())}"


@dataclass
class _Collector:
    """Issues of the whole export, capped per (code, field), in a stable order."""

    file: str
    issues: list[tuple[tuple[Any, ...], Issue]] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, code: str, severity: str, what: str, fix: str, where: Location,
            order: int = 0) -> None:  # fmt: skip
        key = (code, where.field or where.column or "")
        n = self.counts.get(key, 0) + 1
        self.counts[key] = n
        if n <= MAX_EXAMPLES:
            self.issues.append(
                ((code, order, where.row or 0, n), Issue(code, severity, what, where, fix))
            )

    def done(self) -> tuple[Issue, ...]:
        extra = []
        for (code, name), n in self.counts.items():
            if n > MAX_EXAMPLES:
                sev = next(i.severity for _, i in self.issues if i.code == code)
                extra.append(((code, 1 << 30, 0, 0), Issue(
                    code, sev, f"{n - MAX_EXAMPLES} more cell(s) of {name!r} break the same rule ({code})",
                    Location(file=self.file, field=name or None),
                    "fix the listed cells first; `mmrwe validate --json` lists the rest once they are fewer")))  # fmt: skip
        return tuple(i for _, i in sorted(self.issues + extra, key=lambda t: t[0]))


@dataclass(frozen=True)
class RowPlace:
    """Where each row of the export sits: record, event, instrument and instance."""

    file: str
    lines: np.ndarray
    record: np.ndarray
    event: np.ndarray
    instrument: np.ndarray  # the repeating instrument's form name (None otherwise)
    instance: np.ndarray  # int or None

    def index_of_line(self) -> dict[int, int]:
        """Export line -> row index."""
        return {int(v): i for i, v in enumerate(self.lines)}

    def at(self, i: int, **extra: Any) -> Location:
        """The location of row ``i`` (plus column, field, instrument ...)."""
        inst = self.instance[i]
        return Location(
            file=self.file, row=int(self.lines[i]), patient_id=self.record[i],
            event=self.event[i], instance=None if inst is None else int(inst), **extra,
        )  # fmt: skip


@dataclass
class TableMap:
    """How one canonical table was built: which field each column reads, and its form."""

    form: str | None  # the instrument of a lab/therapy table (None: the patient table)
    fields: dict[str, str]  # table column -> REDCap field (or a REDCap column)
    forms: dict[str, str]  # table column -> the field's instrument


@dataclass
class Project:
    """A REDCap project read into the study's canonical tables.

    Attributes
    ----------
    patients : pyarrow.Table
        The patient table's raw cells (text), ``_src_row`` (the export's line) and ``_ord``.
    source : SourceInfo
        The record export, as results.json records it.
    labs, therapy : SourceTable or None
        The lab and therapy tables (rows from the export's lines).
    issues : tuple of Issue
        Every REDCap finding (codes MMR001-MMR013), located.
    invalid : dict
        Export line of a baseline row -> the reasons of its errors (the rows
        ``exclude_invalid_rows`` leaves out).
    variables : tuple of VariableSpec
        Type, levels (choices in the dictionary's order) and label of every patient-table
        column the dictionary describes.
    identifiers : tuple of str
        Fields marked as identifiers (dropped at reading).
    """

    dictionary: Dictionary
    records: Records
    patients: Any
    source: SourceInfo
    labs: SourceTable | None
    therapy: SourceTable | None
    issues: tuple[Issue, ...]
    invalid: dict[int, list[str]]
    variables: tuple[VariableSpec, ...]
    identifiers: tuple[str, ...]
    place: RowPlace
    maps: dict[str, TableMap]
    baseline_event: str | None
    events: tuple[str, ...]
    repeating: dict[str, str]  # value written in redcap_repeat_instrument -> form
    notes: tuple[str, ...] = ()
    groups: tuple[Path, str, int] | None = None  # the groups file: path, SHA-256, groups
    renamed: dict[str, str] = field(default_factory=dict)  # [data.columns]: canonical -> field

    @property
    def n_records(self) -> int:
        """Records (patients) in the export."""
        return len({r for r in self.place.record if r is not None})

    def input_entries(self) -> dict[str, dict[str, Any]]:
        """results.json ``inputs`` entries of the dictionary (and groups file)."""
        d = self.dictionary
        out = {"redcap_dictionary": {"file": d.path.name, "format": "redcap dictionary",
                                     "sha256": d.sha256, "n_rows": len(d.fields)}}  # fmt: skip
        if self.groups is not None:
            path, sha, n = self.groups
            out["redcap_groups"] = {"file": path.name, "format": "redcap groups",
                                    "sha256": sha, "n_rows": n}  # fmt: skip
        return out

    def locate(self, issue: Issue, table: str = "patients") -> Issue:
        """An issue of the validator or the derivation, located in the project's terms.

        ``table``: "patients", "labs" or "therapy" (the table the issue's row and column
        belong to). The export's line gives record, event and instance; the column gives
        the field and its instrument.
        """
        w = issue.where
        if w.file != self.records.path.name or w.event is not None:
            return issue
        tmap = self.maps.get(table)
        # the validator names a column by its canonical name, after [data.columns]
        col = self.renamed.get(w.column, w.column) if table == "patients" and w.column else w.column
        fld = tmap.fields.get(col or "") if tmap is not None and col else None
        form = tmap.form if tmap is not None and tmap.form else None
        if form is None and tmap is not None and col:
            form = tmap.forms.get(col)
        extra: dict[str, Any] = {"field": fld, "instrument": form}
        if w.row is not None:
            i = self._lines.get(int(w.row))
            if i is not None:
                inst = self.place.instance[i]
                extra.update(event=self.place.event[i],
                             instance=None if inst is None else int(inst))  # fmt: skip
        return replace(issue, where=replace(w, **extra))

    @property
    def _lines(self) -> dict[int, int]:
        cached = self.__dict__.get("_line_index")
        if cached is None:
            cached = self.place.index_of_line()
            self.__dict__["_line_index"] = cached
        return cached


def read_project(
    section: RedcapSection,
    *,
    columns: Mapping[str, str] | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    decimal: str = ".",
    missing_values: Sequence[str] = ("",),
    instruments: bool = True,
) -> Project:
    """Read a REDCap project into the canonical patient, lab and therapy tables.

    Parameters
    ----------
    section : RedcapSection
        ``[data] redcap`` (files, export kind, baseline event, forms, checkboxes,
        instruments of the lab and therapy tables).
    columns : mapping
        ``[data.columns]`` (canonical name -> field): ``patient_id`` and ``center`` there
        replace the record id and the data access group.
    delimiter, encoding, decimal, missing_values
        How the record export is written (``[data]``).
    instruments : bool
        Build the lab and therapy tables (False for a pooled site: patients only).

    Returns
    -------
    Project

    Raises
    ------
    InputError
        A file cannot be read, the dictionary is not one, the export lacks the record id
        column. Problems of single cells and of the spec are issues, not exceptions.
    """
    from mmrwe.io.raw import frame_to_arrow

    columns = dict(columns or {})

    dictionary = read_dictionary(section.dictionary, encoding=encoding)
    records = read_records(section.records, delimiter=delimiter, encoding=encoding,
                           missing_values=missing_values)  # fmt: skip
    groups, groups_sha = _read_groups(section.groups, encoding) if section.groups else (None, None)
    name = records.path.name
    out = _Collector(name)
    by_name = dictionary.by_name
    first = dictionary.first
    if first not in records.cells:
        raise InputError(
            f"{name} has no column {shown(first)}, the record id (the dictionary's first field)",
            where=Location(file=name, row=1, field=first),
            fix="export the records with the record id field, or give the dictionary of the same project",
        )
    _check_header(records, dictionary, out)
    labels = section.export == "labels"

    # Where each row sits: record, event, repeating instrument, instance.
    record = records.column(first)
    event = records.column(EVENT)
    rep_raw = records.column(REPEAT_INSTRUMENT)
    inst_raw = records.column(REPEAT_INSTANCE)
    instance = np.full(records.n, None, dtype=object)
    for i in (
        int(k) for k in np.flatnonzero(pd.notna(pd.Series(inst_raw, dtype=object)).to_numpy())
    ):
        t = str(inst_raw[i])
        if re.fullmatch(r"\d+", t) and int(t) > 0:
            instance[i] = int(t)
        else:
            out.add("MMR013", "error", f"redcap_repeat_instance {shown(t)} is not a positive whole number",
                    "export the records from REDCap again",
                    Location(file=name, row=int(records.lines[i]), patient_id=record[i],
                             event=event[i], field=REPEAT_INSTANCE))  # fmt: skip
    repeating = _repeating_forms(records, dictionary, rep_raw, labels, out, record, event)
    rep_form = _lookup(rep_raw, repeating)
    place = RowPlace(name, records.lines, record, event, rep_form, instance)

    events = tuple(dict.fromkeys(e for e in event if e is not None))
    has_events = EVENT in records.cells
    baseline: str | None = None
    if has_events:
        baseline = section.baseline_event or (event[0] if records.n else None)
        if section.baseline_event is not None and section.baseline_event not in events:
            out.add("MMR002", "error",
                    f"the baseline event {section.baseline_event!r} is not in {name} (events: {', '.join(map(repr, events)) or 'none'})",
                    "name one of the events as written in redcap_event_name: baseline_event = \"...\" under [data.redcap]",
                    Location(file=name, spec_key="data.redcap.baseline_event"))  # fmt: skip

    # The lab and therapy instruments, and the patient table's forms.
    table_forms: dict[str, RedcapInstrument] = {}
    if instruments:
        for key, inst in (("labs", section.labs), ("therapy", section.therapy)):
            if inst is None:
                continue
            if inst.instrument not in dictionary.forms:
                out.add("MMR002", "error",
                        f"[data.redcap.{key}] instrument {inst.instrument!r} is not an instrument of {dictionary.path.name}",
                        f"use one of: {', '.join(dictionary.forms)}",
                        Location(file=dictionary.path.name, spec_key=f"data.redcap.{key}.instrument"))  # fmt: skip
                continue
            table_forms[key] = inst
    in_tables = {i.instrument for i in table_forms.values()}
    is_base = pd.isna(pd.Series(rep_raw, dtype=object)).to_numpy().copy()
    if has_events:
        is_base &= (pd.Series(event, dtype=object) == baseline).to_numpy(dtype=bool)
    base_rows = np.flatnonzero(is_base)
    if section.forms is not None:
        forms = []
        for form in section.forms:
            if form not in dictionary.forms:
                out.add("MMR002", "error", f"[data.redcap] forms names {form!r}, which is not an instrument of {dictionary.path.name}",
                        f"use instruments of: {', '.join(dictionary.forms)}",
                        Location(file=dictionary.path.name, spec_key="data.redcap.forms"))  # fmt: skip
            else:
                forms.append(form)
    else:
        forms = [f for f in forms_with_data(records, dictionary, base_rows)
                 if f not in in_tables and f not in repeating.values()]  # fmt: skip
        if dictionary.fields[0].form not in forms:
            forms.insert(0, dictionary.fields[0].form)

    # Identifiers: dropped at reading; a spec that maps one is refused.
    identifiers = tuple(f.name for f in dictionary.fields if f.identifier)
    mapped = [(f"data.columns.{c}", src) for c, src in columns.items()]
    for key, inst in table_forms.items():
        mapped += [(f"data.redcap.{key}.columns.{c}", src) for c, src in inst.columns]
    for key, src in mapped:
        fm = by_name.get(src)
        if fm is not None and fm.identifier and src != first:
            out.add("MMR012", "error",
                    f"{key} maps {src!r}, a field marked as an identifier in {dictionary.path.name}",
                    "identifiers never reach mmrwe's outputs: map another field, or, if the field identifies nobody, clear its Identifier? mark in REDCap",
                    Location(file=dictionary.path.name, row=fm.row, field=src, spec_key=key))  # fmt: skip

    boxes = dict(section.checkboxes)
    for fname, _mode in section.checkboxes:
        fb = by_name.get(fname)
        if fb is None or not fb.is_checkbox:
            out.add("MMR002", "error",
                    f"[data.redcap.checkboxes] names {fname!r}, which is not a checkbox field of {dictionary.path.name}",
                    "name checkbox fields only", Location(file=dictionary.path.name, spec_key=f"data.redcap.checkboxes.{fname}"))  # fmt: skip
    reader = _CellReader(records, dictionary, place, out, labels, decimal, boxes)

    # --- patient table
    invalid: dict[int, list[str]] = {}
    seen: dict[Any, int] = {}
    keep = []
    for i in (int(k) for k in base_rows):
        r = record[i]
        if r in seen:
            out.add("MMR009", "error",
                    f"record {r} has another row in the baseline event{f' {baseline!r}' if baseline else ''} (the first, line {seen[r]}, is read)",
                    "a record has one baseline row: remove the repeated row in REDCap (a repeating baseline event?)",
                    place.at(int(i)))  # fmt: skip
            invalid.setdefault(int(records.lines[i]), []).append(
                f"[MMR009] record {r} repeated in the baseline event"
            )
            continue
        seen[r] = int(records.lines[i])
        keep.append(int(i))
    rows = np.asarray(keep, dtype=np.int64)
    for r in dict.fromkeys(x for x in record if x is not None and x not in seen):
        i = int(np.flatnonzero(record == r)[0])
        out.add("MMR008", "error",
                f"record {r} has no row in the baseline event{f' {baseline!r}' if baseline else ''}; it cannot be a patient of the study",
                "enter the record's baseline instruments in REDCap, or delete the record",
                place.at(i, field=first))  # fmt: skip
    pmap = TableMap(None, {}, {})
    pcols: dict[str, np.ndarray] = {}
    pid_col = "patient_id" if "patient_id" not in columns else first
    pcols[pid_col] = record[rows]
    pmap.fields[pid_col] = first
    pmap.forms[pid_col] = dictionary.fields[0].form
    if "center" not in columns and DAG in records.cells:
        pcols["center"] = _groups(records.column(DAG)[rows], groups, place, rows, out, section)
        pmap.fields["center"] = DAG
    patient_fields = [f for f in dictionary.fields if f.form in forms and f.name != first]
    variables: list[VariableSpec] = []
    back = {src: canon for canon, src in columns.items()}
    for f in patient_fields:
        if f.identifier or not f.has_data or f.type == "file":
            continue
        got = reader.read(f, rows, f.form)
        for col, values in got.items():
            pcols[col] = values
            pmap.fields[col] = f.name
            pmap.forms[col] = f.form
            variables.append(_variable(back.get(col, col), f, col != f.name))
    invalid_rows = reader.invalid
    for line, why in invalid_rows.items():
        invalid.setdefault(line, []).extend(why)
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in pcols.items()})
    patients = frame_to_arrow(frame, [int(x) for x in records.lines[rows]])
    _completion(reader, dictionary, forms, rows, out)

    # --- lab and therapy tables
    maps = {"patients": pmap}
    tables: dict[str, SourceTable | None] = {"labs": None, "therapy": None}
    for key, inst in table_forms.items():
        tables[key], maps[key] = _instrument_table(reader, inst, key, repeating, out)

    notes = [f"{name}: REDCap {section.export} export, {len(seen)} records"
             + (f", baseline event {baseline!r}" if baseline else "")
             + f"; patient table from instrument(s) {', '.join(forms)}"]  # fmt: skip
    dropped = [f for f in identifiers if f in records.cells or f == first]
    if [f for f in dropped if f != first]:
        notes.append(
            f"{name}: {len([f for f in dropped if f != first])} field(s) marked as identifiers not read"
        )
    source = SourceInfo(records.path, "redcap", name, records.sha256, None, tuple(notes))
    return Project(
        dictionary=dictionary, records=records, patients=patients, source=source,
        labs=tables["labs"], therapy=tables["therapy"], issues=out.done(), invalid=invalid,
        variables=tuple(variables), identifiers=identifiers, place=place, maps=maps,
        baseline_event=baseline, events=events, repeating=repeating, notes=tuple(notes),
        renamed=columns,
        groups=(section.groups, groups_sha, len(groups))
        if section.groups is not None and groups is not None and groups_sha is not None else None,
    )  # fmt: skip


def forms_with_data(records: Records, dictionary: Dictionary, rows: np.ndarray) -> list[str]:
    """Instruments with at least one filled cell (form status aside) in ``rows``."""
    out = []
    for form in dictionary.forms:
        fields = [f for f in dictionary.fields_of(form) if f.name != dictionary.first]
        if _filled(records, fields, rows).any():
            out.append(form)
    return out


def _filled(records: Records, fields: Sequence[Field], rows: np.ndarray) -> np.ndarray:
    """Per row: one of ``fields`` holds a value (a ticked box counts; an unticked one is
    written in every row, so it does not)."""
    out = np.zeros(len(rows), dtype=bool)
    for f in fields:
        for col in _export_columns(records, f):
            v = pd.Series(records.cells[col][rows], dtype=object)
            filled = v.notna()
            if f.is_checkbox:
                filled &= ~v.isin(UNCHECKED)
            out |= filled.to_numpy(dtype=bool)
    return out


def _export_columns(records: Records, f: Field) -> list[str]:
    if f.is_checkbox:
        return [
            c
            for c in (checkbox_column(f.name, code) for code, _ in f.choices)
            if c in records.cells
        ]
    return [f.name] if f.name in records.cells else []


def _check_header(records: Records, dictionary: Dictionary, out: _Collector) -> None:
    """MMR001: every column of the export is explained by the dictionary or REDCap."""
    known = {EVENT, REPEAT_INSTRUMENT, REPEAT_INSTANCE, DAG, *_IGNORED}
    for f in dictionary.fields:
        if f.is_checkbox:
            known |= {checkbox_column(f.name, c) for c, _ in f.choices}
        else:
            known.add(f.name)
    forms = set(dictionary.forms)
    for k, col in enumerate(records.header):
        if col in known:
            continue
        stem, _, tail = col.rpartition("_")
        if tail in ("complete", "timestamp") and stem in forms:
            continue
        near = [c for c in known if c.lower() == col.lower()]
        out.add("MMR001", "error",
                f"column {col!r} (column {k + 1}) of {records.path.name} is not a field of {dictionary.path.name}",
                (f"did you mean {near[0]!r}? " if near else "")
                + "export the records and the dictionary of the same project at the same time (a field renamed or deleted since?)",
                Location(file=records.path.name, row=1, column=col, field=col))  # fmt: skip


def _repeating_forms(
    records: Records,
    dictionary: Dictionary,
    rep_raw: np.ndarray,
    labels: bool,
    out: _Collector,
    record: np.ndarray,
    event: np.ndarray,
) -> dict[str, str]:
    """What each value of redcap_repeat_instrument names: a form of the dictionary.

    A raw export writes the form's name. A labels export writes the instrument's label,
    which the dictionary does not hold: the form is then the one whose fields (or status)
    hold the data of those rows, and it must be exactly one.
    """
    forms = dictionary.forms
    out_map: dict[str, str] = {}
    values = [v for v in dict.fromkeys(rep_raw) if v is not None]
    for v in values:
        if v in forms:
            out_map[v] = v
            continue
        idx = np.flatnonzero(rep_raw == v)
        holding = []
        if labels:
            for form in forms:
                status = records.cells.get(f"{form}_complete")
                cols = [c for f in dictionary.fields_of(form) if f.name != dictionary.first
                        for c in _export_columns(records, f)]  # fmt: skip
                if status is not None:
                    cols.append(f"{form}_complete")
                if any(
                    pd.notna(pd.Series(records.cells[c][idx], dtype=object)).any() for c in cols
                ):
                    holding.append(form)
        if len(holding) == 1:
            out_map[v] = holding[0]
            continue
        i = int(idx[0])
        why = (f"rows of {v!r} hold the fields of {len(holding)} instruments ({', '.join(holding)})" if holding
               else f"{v!r} is not an instrument of {dictionary.path.name}")  # fmt: skip
        out.add("MMR010", "error", f"redcap_repeat_instrument {why}; its {len(idx)} row(s) are not read",
                f"export the records and the dictionary of the same project (instruments: {', '.join(forms)})",
                Location(file=records.path.name, row=int(records.lines[i]), patient_id=record[i],
                         event=event[i], field=REPEAT_INSTRUMENT))  # fmt: skip
    return out_map


def _groups(
    dags: np.ndarray,
    groups: dict[str, str] | None,
    place: RowPlace,
    rows: np.ndarray,
    out: _Collector,
    section: RedcapSection,
) -> np.ndarray:
    if groups is None:
        return dags
    res = np.empty(len(dags), dtype=object)
    for k, g in enumerate(dags):
        if g is None:
            res[k] = None
        elif g in groups:
            res[k] = groups[g]
        elif g in groups.values():  # a display name written in place of the unique name
            res[k] = g
        else:
            res[k] = None
            assert section.groups is not None
            out.add("MMR011", "error", f"data access group {g!r} is not in {section.groups.name}",
                    f"export the groups file again (groups: {', '.join(sorted(groups))})",
                    place.at(int(rows[k]), column="center", field=DAG))  # fmt: skip
    return res


def _variable(name: str, f: Field, per_choice: bool) -> VariableSpec:
    """What the dictionary says of a patient-table column (spec entries win over it)."""
    label = f.label or None
    if per_choice:
        code = name.rsplit("___", 1)[-1]
        choice = next((lab for c, lab in f.choices if checkbox_column(f.name, c) == name), code)
        return VariableSpec(name, label=f"{label or f.name}: {choice}", type="categorical",
                            levels=("no", "yes"))  # fmt: skip
    if f.is_coded:
        return VariableSpec(name, label=label, type="categorical",
                            levels=tuple(dict.fromkeys(lab for _, lab in f.codes())))  # fmt: skip
    if f.is_checkbox:
        return VariableSpec(name, label=label, type="categorical")
    if f.is_date:
        return VariableSpec(name, label=label, type="date")
    if f.is_number or f.type == "slider":
        return VariableSpec(name, label=label, type="numeric")
    return VariableSpec(name, label=label)


class _CellReader:
    """Decodes the export's cells field by field, collecting located issues."""

    def __init__(self, records: Records, dictionary: Dictionary, place: RowPlace,
                 out: _Collector, labels: bool, decimal: str, boxes: Mapping[str, str]) -> None:  # fmt: skip
        self.records, self.dictionary, self.place, self.out = records, dictionary, place, out
        self.labels, self.decimal, self.boxes = labels, decimal, boxes
        self.invalid: dict[int, list[str]] = {}

    def _bad(self, code: str, rows: np.ndarray, bad: np.ndarray, values: np.ndarray, form: str,
             column: str, f: Field, what: Callable[[Any], str], fix: str, *,
             severity: str = "error", track: bool = True) -> None:  # fmt: skip
        for k in np.flatnonzero(bad):
            i = int(rows[k])
            text = what(values[k])
            self.out.add(code, severity, text, fix,
                         self.place.at(i, column=column, field=f.name, instrument=form),
                         order=f.row)  # fmt: skip
            if severity == "error" and track:
                self.invalid.setdefault(int(self.records.lines[i]), []).append(f"[{code}] {text}")

    def read(
        self, f: Field, rows: np.ndarray, form: str, *, track: bool = True
    ) -> dict[str, np.ndarray]:
        """Column name -> decoded cells of field ``f`` in ``rows`` (several for per-choice
        checkboxes; none when the export lacks the field)."""
        recs = self.records
        if f.is_checkbox:
            return self._checkbox(f, rows, form, track)
        if f.name not in recs.cells:
            return {}
        raw = recs.cells[f.name][rows]
        name = f.name
        if f.is_coded:
            table = {lab: lab for _, lab in f.codes()} if self.labels else dict(f.codes())
            values, bad = _per_distinct(raw, lambda s: (table.get(s), s in table))
            choices = " | ".join(f"{c}, {lab}" for c, lab in f.codes())
            other = "labels" if not self.labels else "raw"
            alt = {lab: lab for _, lab in f.codes()} if not self.labels else dict(f.codes())
            hint = (f'; the export looks like a {other} export: set export = "{other}" under [data.redcap]'
                    if bad.any() and all(str(v) in alt for v in raw[bad]) else "")  # fmt: skip
            self._bad("MMR003", rows, bad, raw, form, name, f,
                      lambda v: f"{f.name} = {v!r} is not a {'label' if self.labels else 'code'} of the field's choices ({choices})",
                      "correct the value in REDCap (a choice deleted from the dictionary?), or export the dictionary and the records at the same time" + hint,
                      track=track)  # fmt: skip
            return {name: values}
        if f.is_date:
            order = f.date_order()
            with_time = f.validation.startswith("datetime")

            def date(s: str) -> tuple[Any, bool]:
                d = parse_date(s, order, with_time=with_time)
                return (None if d is None else d.isoformat(), d is not None)

            values, bad = _per_distinct(raw, date)
            written = _WRITTEN[order] + (" HH:MM" if with_time else "")
            self._bad("MMR004", rows, bad, raw, form, name, f,
                      lambda v: f"{f.name} = {v!r} is not a date as {f.validation} writes it ({written}, or YYYY-MM-DD)",
                      "correct the date in REDCap", track=track)  # fmt: skip
            self._range(f, rows, values, form, name, is_date=True)
            return {name: values}
        if f.is_number or f.type in ("calc", "slider"):
            integer = f.validation == "integer"
            comma = f.validation.endswith("comma_decimal") or self.decimal == ","

            def number(s: str) -> tuple[Any, bool]:
                n = parse_number(s, comma=comma, integer=integer)
                return (n, n is not None)

            values, bad = _per_distinct(raw, number)
            if f.type == "calc":  # a calculation may give text (e.g. an empty result)
                values = np.where(bad, raw, values)
                return {name: values}
            self._bad("MMR006", rows, bad, raw, form, name, f,
                      lambda v: f"{f.name} = {v!r} is not {'an integer' if integer else 'a number'} ({f.validation or f.type})",
                      "correct the value in REDCap", track=track)  # fmt: skip
            self._range(f, rows, values, form, name, is_date=False)
            return {name: values}
        return {name: raw.copy()}

    def _range(self, f: Field, rows: np.ndarray, values: np.ndarray, form: str, name: str,
               *, is_date: bool) -> None:  # fmt: skip
        """MMR005: REDCap's min/max are soft limits (data entry may confirm a value outside
        them), so a value outside is a warning, not an error."""
        if not (f.vmin or f.vmax):
            return

        def bound(text: str) -> Any:
            if not text:
                return None
            if is_date:
                d = parse_date(text, f.date_order(), with_time=f.validation.startswith("datetime"))
                return None if d is None else d.isoformat()  # "today" and the like: not checked
            n = parse_number(text, comma=True, integer=False)
            return None if n is None else float(n)

        lo, hi = bound(f.vmin), bound(f.vmax)
        if lo is None and hi is None:
            return
        v = pd.Series(values, dtype=object)
        x: Any = v if is_date else pd.to_numeric(v, errors="coerce")
        present = v.notna()
        bad = np.zeros(len(values), dtype=bool)
        if lo is not None:
            bad |= (present & (x < lo).fillna(False)).to_numpy(dtype=bool)
        if hi is not None:
            bad |= (present & (x > hi).fillna(False)).to_numpy(dtype=bool)
        self._bad("MMR005", rows, bad, values, form, name, f,
                  lambda v: f"{f.name} = {v} is outside the field's validation range ({f.vmin or '-'} to {f.vmax or '-'})",
                  "check the value in REDCap (the range is a soft limit there); accept MMR005 under [validation.accept] if it is right",
                  severity="warning")  # fmt: skip

    def _checkbox(
        self, f: Field, rows: np.ndarray, form: str, track: bool
    ) -> dict[str, np.ndarray]:
        recs = self.records
        present = [(code, lab, checkbox_column(f.name, code)) for code, lab in f.choices]
        present = [p for p in present if p[2] in recs.cells]
        if not present:
            return {}
        n = len(rows)
        checked = np.zeros((n, len(present)), dtype=bool)
        seen = np.zeros((n, len(present)), dtype=bool)  # a cell was written (not blank)
        for j, (_code, lab, col) in enumerate(present):
            raw = recs.cells[col][rows]
            on = {CHECKED[0]} if not self.labels else {CHECKED[1], lab}
            off = {UNCHECKED[0]} if not self.labels else {UNCHECKED[1]}

            def flag(s: str, on: set[str] = on, off: set[str] = off) -> tuple[Any, bool]:
                return (s in on, s in on or s in off)

            vals, bad = _per_distinct(raw, flag)
            checked[:, j] = vals == True  # noqa: E712 (object array of True/False/None)
            seen[:, j] = pd.notna(pd.Series(raw, dtype=object)).to_numpy() & ~bad
            expect = "1 or 0" if not self.labels else f"Checked, Unchecked, {lab!r} or empty"

            def what(v: Any, expect: str = expect) -> str:
                return f"checkbox {f.name} = {v!r} is neither checked nor unchecked (expected {expect})"

            self._bad("MMR003", rows, bad, raw, form, col, f, what,
                      "correct the export: checkbox columns hold 1/0 (raw) or Checked/Unchecked (labels)",
                      track=track)  # fmt: skip
        any_written = seen.any(axis=1) | checked.any(axis=1)
        if self.boxes.get(f.name, "set") == "columns":
            out = {}
            for j, (_code, _lab, col) in enumerate(present):
                vals = np.where(checked[:, j], "yes", "no").astype(object)
                vals[~any_written] = None
                out[col] = vals
            return out
        labels = [lab for _, lab, _ in present]
        # one text per distinct pattern of ticks (few), broadcast to the rows
        patterns, which = np.unique(checked, axis=0, return_inverse=True)
        texts = np.array([";".join(labels[j] for j in np.flatnonzero(p)) or None for p in patterns]
                         + [None], dtype=object)  # fmt: skip
        return {f.name: texts[np.asarray(which).reshape(-1)] if n else np.empty(0, dtype=object)}


def _completion(reader: _CellReader, dictionary: Dictionary, forms: Sequence[str],
                rows: np.ndarray, out: _Collector) -> None:  # fmt: skip
    """MMR007: an instrument holding data in a row but not marked Complete."""
    recs = reader.records
    incomplete = {"0", "1"} if not reader.labels else {"Incomplete", "Unverified"}
    words = dict(FORM_STATUS) | {lab: lab for _, lab in FORM_STATUS}
    for form in forms:
        status = recs.cells.get(f"{form}_complete")
        if status is None:
            continue
        st = status[rows]
        fields = [f for f in dictionary.fields_of(form) if f.name != dictionary.first]
        has_data = _filled(recs, fields, rows)
        bad = has_data & pd.Series(st, dtype=object).isin(incomplete).to_numpy(dtype=bool)
        for k in np.flatnonzero(bad):
            i = int(rows[k])
            out.add("MMR007", "warning",
                    f"instrument {form!r} of record {reader.place.record[i]} holds data but is marked {words.get(st[k], st[k])}",
                    "check the instrument in REDCap and mark it Complete, or accept MMR007 under [validation.accept]",
                    reader.place.at(i, instrument=form, field=f"{form}_complete"), order=-1)  # fmt: skip


def _instrument_table(
    reader: _CellReader,
    inst: RedcapInstrument,
    key: str,
    repeating: Mapping[str, str],
    out: _Collector,
) -> tuple[SourceTable, TableMap]:
    """The lab or therapy table: one row per row of the export holding the instrument."""
    recs, dictionary = reader.records, reader.dictionary
    form = inst.instrument
    fields = [f for f in dictionary.fields_of(form) if f.name != dictionary.first]
    names = {f.name for f in fields}
    colmap = dict(inst.columns)
    for canon, src in inst.columns:
        if src not in names:
            near = [f.name for f in fields]
            out.add("MMR002", "error",
                    f"[data.redcap.{key}.columns] {canon} = {src!r}: {src!r} is not a field of instrument {form!r}",
                    f"use one of its fields: {', '.join(near)}",
                    Location(file=dictionary.path.name, spec_key=f"data.redcap.{key}.columns.{canon}"))  # fmt: skip
    holds = (pd.Series(reader.place.instrument, dtype=object) == form).to_numpy(dtype=bool)
    not_rep = pd.isna(pd.Series(recs.column(REPEAT_INSTRUMENT), dtype=object)).to_numpy().copy()
    # a non-repeating row holds the instrument when one of its fields is filled (an unticked
    # checkbox is written as 0 in every row, so it is no evidence)
    filled = _filled(recs, fields, np.arange(recs.n))
    rows = np.flatnonzero(holds | (not_rep & filled))
    back = {src: canon for canon, src in colmap.items()}
    tmap = TableMap(form, {"patient_id": dictionary.first}, {"patient_id": form})
    cols: dict[str, np.ndarray] = {"patient_id": reader.place.record[rows]}
    for f in fields:
        if f.identifier or not f.has_data or f.type == "file":
            continue
        got = reader.read(f, rows, form, track=False)
        for col, values in got.items():
            name = back.get(col, col)
            cols[name] = values
            tmap.fields[name] = f.name
            tmap.forms[name] = form
    _completion(reader, dictionary, [form], rows, out)
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in cols.items()})
    note = f"{recs.path.name}: instrument {form!r}, {len(rows)} row(s) (the {key} table)"
    table = SourceTable(path=recs.path, kind="redcap", frame=frame,
                        source_rows=tuple(int(x) for x in recs.lines[rows]), sha256=recs.sha256,
                        sheet=None, notes=(note,))  # fmt: skip
    return table, tmap


# ----------------------------------------------------------------------------------------
# For `mmrwe init --redcap`: how an export is written
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportKind:
    """Whether coded cells are raw codes or labels, with the evidence in words."""

    export: str
    why: str


def detect_export(records: Records, dictionary: Dictionary) -> ExportKind:
    """Raw codes or labels: the reading under which the coded cells are choices.

    Cells that read the same either way (a choice ``1, 1``) are no evidence; checkbox
    columns holding ``Checked``/``Unchecked`` are labels. When both readings leave cells
    unexplained, the one that explains more wins and the rest is listed by ``mmrwe validate``.
    """
    raw_ok = lab_ok = both = n = 0
    for f in dictionary.fields:
        if f.is_coded and f.name in records.cells:
            codes = {c for c, _ in f.codes()}
            labs = {lab for _, lab in f.codes()}
            for v in records.cells[f.name]:
                if v is None:
                    continue
                n += 1
                a, b = v in codes, v in labs
                raw_ok += a and not b
                lab_ok += b and not a
                both += a and b
        elif f.is_checkbox:
            for c, _ in f.choices:
                col = checkbox_column(f.name, c)
                for v in records.cells.get(col, ()):
                    if v is None:
                        continue
                    n += 1
                    raw_ok += v in ("0", "1")
                    lab_ok += v in ("Checked", "Unchecked")
    if n == 0:
        return ExportKind(
            "raw", "no coded field holds a value; raw assumed (it does not matter here)"
        )
    if lab_ok > raw_ok:
        return ExportKind(
            "labels",
            f"{lab_ok + both} of {n} coded cells are labels of their choices, {raw_ok} only codes",
        )
    return ExportKind(
        "raw",
        f"{raw_ok + both} of {n} coded cells are codes of their choices, {lab_ok} only labels",
    )


__all__ = [
    "REDCAP_COLUMNS",
    "RULES",
    "Dictionary",
    "ExportKind",
    "Field",
    "Project",
    "Records",
    "checkbox_column",
    "detect_export",
    "parse_choices",
    "parse_date",
    "parse_number",
    "read_dictionary",
    "read_groups",
    "read_project",
    "read_records",
]
