"""Shared helpers of the security tests: synthetic sites, fast .xlsx files, bounded runs."""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import mmrwe

CUTOFF = dt.date(2024, 6, 30)
# Patient tables below are SYNTHETIC: random names, dates and codes made by this module.
FIRST = ["Ada", "Bruno", "Carla", "Dario", "Elena", "Fabio", "Giulia", "Luca", "Marta", "Nico"]
LAST = ["Rossi", "Bianchi", "Verdi", "Russo", "Ferrari", "Esposito", "Romano", "Gallo"]
STREETS = ["Via Roma", "Via Garibaldi", "Corso Italia", "Piazza Dante", "Viale Europa"]


def cutoff_site(n: int = 30, seed: int = 7) -> list[dict[str, str]]:
    """A site where every patient but the first is alive at the data cut-off 2024-06-30."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        start = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(900))
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(35 * 365))
        died = i == 0
        end = start + dt.timedelta(days=200) if died else CUTOFF
        prog = start + dt.timedelta(days=rng.randrange(1, (end - start).days)) if i % 3 else None
        rows.append(
            {
                "patient_id": f"S-{i + 1:03d}",
                "center": "Center S",
                "birth_date": birth.isoformat(),
                "start_date": start.isoformat(),
                "progression_date": prog.isoformat() if prog else "",
                "death_date": end.isoformat() if died else "",
                "last_followup_date": end.isoformat(),
                "sex": rng.choice("MF"),
                "hgb": f"{rng.uniform(7, 15):.1f}",
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def private_key(
    folder: Path, text: bytes = b"3f9c1a7e5b2d4c6a8e0f1b3d5a7c9e2f4b6d8a0c1e3f5a7b"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    k = folder / "site.key"
    k.write_bytes(text + b"\n")
    k.chmod(0o600)
    return k


_CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_BOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="patients" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_BOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# Style 1 = built-in number format 14 (a date), so date cells read as dates.
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _col(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def fast_xlsx(path: Path, header: list[str], rows: list[list[object]], *, comment: int = 0) -> Path:
    """A minimal .xlsx written as XML strings (openpyxl takes ~15 s for 100,000 rows).

    Text cells are inline strings, numbers are numbers, ``datetime.date`` cells are
    serial numbers with a date format. ``comment`` bytes of an XML comment are added
    before the data (a decompression bomb when large: it compresses ~1000:1).
    """
    refs = [_col(j + 1) for j in range(len(header))]

    def cell(ref: str, v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, dt.date):
            return f'<c r="{ref}" s="1"><v>{(v - _EXCEL_EPOCH).days}</v></c>'
        if isinstance(v, int | float):
            return f'<c r="{ref}"><v>{v!r}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>'

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _BOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        z.writestr("xl/styles.xml", _STYLES)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as w:
            w.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            )
            if comment:
                w.write(b"<!--")
                chunk = b"A" * (1 << 24)
                for _ in range(comment // len(chunk)):
                    w.write(chunk)
                w.write(b"A" * (comment % len(chunk)) + b"-->")
            w.write(b"<sheetData>")
            buf = io.StringIO()
            for r, values in enumerate([header, *rows], start=1):
                buf.write(f'<row r="{r}">')
                buf.write("".join(cell(f"{refs[j]}{r}", v) for j, v in enumerate(values)))
                buf.write("</row>")
                if r % 10_000 == 0:
                    w.write(buf.getvalue().encode())
                    buf = io.StringIO()
            w.write(buf.getvalue().encode())
            w.write(b"</sheetData></worksheet>")
    return path


@dataclass(frozen=True)
class Bounded:
    """What a bounded child run did."""

    timed_out: bool
    seconds: float
    returncode: int | None
    out: str
    peak_mib: float | None


def run_bounded(code: str, *, timeout: float = 60.0, env: dict[str, str] | None = None) -> Bounded:
    """Run ``code`` in a fresh interpreter with the same mmrwe; wall time and peak RSS.

    A read that hangs (a FIFO) or runs for minutes (a bomb) fails the test after
    ``timeout`` seconds instead of hanging the suite. The child prints its own peak
    resident memory on exit.
    """
    src = str(Path(mmrwe.__file__).resolve().parents[1])
    # VmHWM, not ru_maxrss: the child is started by vfork+exec, and Linux carries the
    # parent's (pytest's) high-water mark across exec into ru_maxrss, so late in a long
    # suite every child would "peak" at the size of the test process itself.
    wrapped = (
        "import resource, sys\n"
        "def _peak_kib():\n"
        "    try:\n"
        "        with open('/proc/self/status') as fh:\n"
        "            for line in fh:\n"
        "                if line.startswith('VmHWM:'):\n"
        "                    return int(line.split()[1])\n"
        "    except OSError:\n"
        "        pass\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        + "".join(f"    {line}\n" for line in code.strip().splitlines())
        + "except Exception as exc:\n"
        "    print('ERROR', type(exc).__name__, str(exc).replace(chr(10), ' | '))\n"
        "print('PEAK_KIB', _peak_kib())\n"
    )
    full_env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    full_env.update(env or {})
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", wrapped],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        return Bounded(True, time.perf_counter() - t0, None, out, None)
    seconds = time.perf_counter() - t0
    peak = next(
        (int(line.split()[1]) / 1024 for line in out.splitlines() if line.startswith("PEAK_KIB")),
        None,
    )
    return Bounded(False, seconds, proc.returncode, out, peak)
