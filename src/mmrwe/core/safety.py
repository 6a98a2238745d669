"""Nothing leaked: safe cells in written files, safe text on the console, bounded input.

Three small tools every stage shares (docs/security.md explains the threat model):

* :func:`neutralize_csv_cell` / :func:`neutralize_csv_frame`: CSV injection (OWASP). A text
  cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
  to a spreadsheet program that opens the CSV; it gets a leading single quote, as OWASP
  recommends. Numbers stay numbers (see the function for how a negative number written as
  text is told apart). Machine-only pipelines turn it off with ``enabled=False``.
* :func:`console_text`: a value from a data file, a spec or a file name made safe to print
  on a terminal: control characters and escape sequences removed (an id holding ``ESC[2J``
  must not clear the screen, an OSC-8 sequence must not become a link), rich markup escaped
  (a title holding ``[link=...]`` must not become a live link), long values cut.
* :class:`InputLimits` and :func:`check_input_file`: caps on what a reader accepts (columns,
  rows, cells, characters per cell, bytes after decompression, spec size and nesting), each
  configurable with an ``MMRWE_MAX_*`` environment variable, each refused with its own
  message before the data are parsed where the format allows it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrwe.core.errors import InputError, Location

if TYPE_CHECKING:
    import pandas as pd

# ---------------------------------------------------------------------------------------
# CSV injection
# ---------------------------------------------------------------------------------------

#: Characters that make a spreadsheet program read a cell as a formula (OWASP CSV injection).
CSV_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# A decimal number as text: optional sign, digits with at most one decimal mark ("." or ","
# for sites that write decimal commas), optional exponent. Spreadsheets read such a cell as a
# number, never as a formula, so "-1.5" and "-1,5" are left as they are; "-1.5+2", "-",
# "-inf" or "+39 06 1234" are not numbers and get the quote.
_NUMBER_TEXT = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"
_NEEDS_QUOTE = re.compile(rf"(?!{_NUMBER_TEXT}\Z)[=+\-@\t\r]")


def neutralize_csv_cell(value: Any, *, enabled: bool = True) -> Any:
    """Make one cell safe to open in a spreadsheet program (OWASP CSV injection).

    Parameters
    ----------
    value : object
        The cell as it will be written. Only ``str`` values are changed.
    enabled : bool
        ``False`` returns every value unchanged: for files read only by programs (the
        pipeline's machine-only outputs), where the quote would change the data.

    Returns
    -------
    object
        ``"'" + value`` when ``value`` is text starting with ``=``, ``+``, ``-``, ``@``, a tab
        or a carriage return and is not a number written as text; otherwise ``value``.

    Notes
    -----
    How a negative number written as text is told apart: a cell whose whole text is a
    decimal number (optional sign, digits, at most one ``.`` or ``,`` decimal mark, optional
    exponent, e.g. ``-1.5``, ``-1,5``, ``+2``, ``-3e-4``) is left alone, because spreadsheet
    programs read it as a number. Numeric cells (``int``/``float``) are never touched. The
    quote is visible to a program that reads the file back; an original cell that itself
    starts with a quote cannot be told apart from a neutralised one, which is why machine-only
    pipelines turn neutralising off.

    Examples
    --------
    >>> neutralize_csv_cell('=HYPERLINK("http://x", "Center B")')
    '\\'=HYPERLINK("http://x", "Center B")'
    >>> neutralize_csv_cell("-1.5"), neutralize_csv_cell(-1.5), neutralize_csv_cell("-")
    ('-1.5', -1.5, "'-")
    """
    if enabled and isinstance(value, str) and _NEEDS_QUOTE.match(value):
        return "'" + value
    return value


def neutralize_csv_frame(frame: pd.DataFrame, *, enabled: bool = True) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell passed through :func:`neutralize_csv_cell`.

    Numeric, boolean and datetime columns are returned as they are; text in object, string
    and categorical columns is neutralised. Call it just before ``to_csv`` in every writer of
    a CSV a person may open (``derived_patients.csv``, ``exclusions.csv``, ...).

    Parameters
    ----------
    frame : pandas.DataFrame
        Not modified.
    enabled : bool
        ``False`` returns an unchanged copy (machine-only pipelines).

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    out = frame.copy()
    if not enabled:
        return out
    for j in range(out.shape[1]):
        s = out.iloc[:, j]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = [neutralize_csv_cell(c) for c in s.cat.categories]
            if len(set(cats)) == len(cats):
                out.isetitem(j, s.cat.rename_categories(cats).array)
                continue
            s = s.astype(object)
        elif not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        mask = s.map(lambda v: isinstance(v, str) and _NEEDS_QUOTE.match(v) is not None)
        if bool(mask.any()):
            fixed = s.astype(object).copy()
            fixed[mask.to_numpy(dtype=bool)] = "'" + s[mask].astype(str)
            out.isetitem(j, (fixed.astype(s.dtype) if s.dtype != object else fixed).array)
    return out


# ---------------------------------------------------------------------------------------
# Console text
# ---------------------------------------------------------------------------------------

_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC (titles, OSC-8 links), BEL/ST ended
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI (cursor moves, ESC[2J clears the screen, colours)
    r"|\x1b[ -/]*[0-~]?"  # any other escape (ESC c resets the terminal)
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x90\x98\x9d-\x9f][^\x07\x9c]*(?:\x07|\x9c)?"  # 8-bit DCS/SOS/OSC/PM/APC
)
# C0 and C1 controls, DEL, and the bidirectional overrides that make a terminal show text in
# another order than it is ("Trojan Source", CVE-2021-42574).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[\t\n\r\x0b\x0c]")
ELLIPSIS = "…"


def console_text(
    value: object, max_len: int | None = 200, *, markup: bool = True, keep_newlines: bool = False
) -> str:
    """Text safe to print on a terminal: no escapes or controls, no live markup, bounded length.

    Parameters
    ----------
    value : object
        Anything; ``str(value)`` is printed.
    max_len : int or None
        Longest result in characters before markup escaping; a longer text is cut and ends
        with ``…``. ``None`` keeps the whole text.
    markup : bool
        Escape rich markup (``[bold]``, ``[link=...]``) so ``rich`` prints it literally; set
        ``False`` for text printed without markup (``print``, ``markup=False``).
    keep_newlines : bool
        Keep line breaks (multi-line messages such as ``what / at / fix``); otherwise tabs and
        line breaks become spaces, so a value cannot fake a new message line.

    Returns
    -------
    str

    Examples
    --------
    >>> console_text("MM-\\x1b[2J001")
    'MM-001'
    >>> console_text("[link=http://x]Study[/link]")
    '\\\\[link=http://x]Study\\\\[/link]'
    >>> console_text("x" * 10, max_len=5)
    'xxxx…'
    """
    s = value if isinstance(value, str) else str(value)
    s = _ESCAPES.sub("", s)
    if keep_newlines:
        s = s.replace("\r\n", "\n").replace("\t", " ")
        s = _CONTROLS.sub(lambda m: "\n" if m.group() == "\n" else "", s)
    else:
        s = _CONTROLS.sub("", _SPACES.sub(" ", s))
    if max_len is not None and len(s) > max_len:
        s = s[: max(max_len - 1, 0)] + ELLIPSIS
    if markup:
        s = escape_markup(s)
    return s


def shown(value: object, max_len: int = 60) -> str:
    """A data value quoted inside a message: ``repr`` of the safe text, cut to ``max_len``.

    Examples
    --------
    >>> shown("ab\\x1b]8;;http://x\\x07c")
    "'abc'"
    """
    return repr(console_text(value, max_len, markup=False))


# ---------------------------------------------------------------------------------------
# Bounded input
# ---------------------------------------------------------------------------------------

_ENV_PREFIX = "MMRWE_"


@dataclass(frozen=True, slots=True)
class InputLimits:
    """Caps on what a reader accepts; each field has an environment variable ``MMRWE_<NAME>``.

    The defaults keep reading a table under about 2 GiB of memory; larger studies run on
    the engine (DuckDB over Parquet) or raise a cap knowingly, e.g.
    ``MMRWE_MAX_CELLS=50000000 mmrwe analyze study.toml``.

    Attributes
    ----------
    max_input_bytes : int
        Bytes of table data after decompression: a CSV file's size, the uncompressed parts of
        an ``.xlsx`` (read from the zip directory before parsing), the uncompressed column
        data of a Parquet file (from its metadata). 256 MiB.
    max_columns : int
        Columns of a table: 16,384, Excel's own limit.
    max_rows : int
        Data rows of a table (Parquet, SPSS and SAS checked from their metadata). 5,000,000.
    max_cells : int
        Rows times columns. 10,000,000 (about 1.5 GB once read as Python objects).
    max_cell_chars : int
        Characters in one cell: 32,767, Excel's own limit.
    max_spec_bytes : int
        Size of a study spec (TOML). 1 MiB.
    max_spec_depth : int
        Nesting of arrays and tables in a study spec. 32.
    """

    max_input_bytes: int = 256 * 2**20
    max_columns: int = 16_384
    max_rows: int = 5_000_000
    max_cells: int = 10_000_000
    max_cell_chars: int = 32_767
    max_spec_bytes: int = 2**20
    max_spec_depth: int = 32

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> InputLimits:
        """The defaults, overridden by ``MMRWE_MAX_*`` environment variables.

        Raises
        ------
        InputError
            A variable that is not a whole number >= 1.
        """
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for f in fields(cls):
            name = _ENV_PREFIX + f.name.upper()
            raw = env.get(name)
            if raw is None or not raw.strip():
                continue
            text = raw.strip().replace("_", "")
            if not text.isdigit() or int(text) < 1:
                raise InputError(
                    f"environment variable {name} = {shown(raw)} is not a whole number >= 1",
                    fix=f"set {name} to a positive whole number, or unset it (default {getattr(cls(), f.name)})",
                )
            values[f.name] = int(text)
        return cls(**values)

    @staticmethod
    def variable(field_name: str) -> str:
        """The environment variable of a field, e.g. ``MMRWE_MAX_CELLS``."""
        return _ENV_PREFIX + field_name.upper()


def input_limits() -> InputLimits:
    """The caps in force: defaults overridden by the environment (read at each call)."""
    return InputLimits.from_env()


def limit_error(
    what: str, field_name: str, limit: int, *, where: Location | None = None, fix: str = ""
) -> InputError:
    """An :class:`InputError` for a cap, naming the cap and how to raise it knowingly."""
    var = InputLimits.variable(field_name)
    hint = f"if the file is genuine, raise the cap knowingly: {var}={limit * 4} (now {limit:,})"
    return InputError(
        f"{what} (cap {var} = {limit:,})",
        where=where,
        fix=f"{fix}; {hint}" if fix else hint,
    )


def check_input_file(path: Path) -> os.stat_result:
    """Refuse anything but a regular file before it is opened (FIFOs, devices, folders hang or never end).

    Parameters
    ----------
    path : Path
        The input as named by the user (symbolic links are followed).

    Returns
    -------
    os.stat_result
        The file's status (size for the caps).

    Raises
    ------
    InputError
        Missing path, a folder, a named pipe, a device or a socket.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(
            f"input file not found: {console_text(path, 300, markup=False)}",
            where=Location(file=str(path)),
            fix="check the path in [data]; paths are relative to the study spec's folder",
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot open input {console_text(path, 300, markup=False)}: {exc.strerror}",
            where=Location(file=str(path)),
            fix="check the path and its permissions",
        ) from None
    if stat.S_ISREG(st.st_mode):
        return st
    kind = (
        "a folder"
        if stat.S_ISDIR(st.st_mode)
        else "a named pipe (FIFO)"
        if stat.S_ISFIFO(st.st_mode)
        else "a device"
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
        else "a socket"
        if stat.S_ISSOCK(st.st_mode)
        else "not a regular file"
    )
    raise InputError(
        f"input path is {kind}, not a regular file: {console_text(path, 300, markup=False)}",
        where=Location(file=str(path)),
        fix="name a data file saved on disk (a pipe, a device or a folder cannot be read as a table)",
    )


def nesting_depth(doc: object) -> int:
    """Deepest nesting of dicts and lists in ``doc`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((c, depth) for c in children)
    return deepest


_MARKUP = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape_markup(text: str) -> str:
    """Escape console markup (``[bold]``, ``[link=...]``) so it prints literally.

    The rule of ``rich.markup.escape`` (a tag is ``[`` followed by a letter, ``#``, ``/`` or
    ``@``), written here so the core needs no console library.
    """

    def esc(m: re.Match[str]) -> str:
        backslashes, tag = m.groups()
        return f"{backslashes}{backslashes}\\{tag}"

    out = _MARKUP.sub(esc, text)
    if out.endswith("\\") and not out.endswith("\\\\"):
        return out + "\\"
    return out


# ---------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------

#: DuckDB settings of every connection mmrwe opens: no extension is installed or loaded on
#: demand (a query naming ``httpfs`` would otherwise download and load it), no community
#: extensions. External access is turned off once the inputs are open (docs/security.md).
DUCKDB_SAFE_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}
