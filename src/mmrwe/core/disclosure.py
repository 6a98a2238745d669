"""Publishable and restricted outputs: what may leave the site, and what stays.

The files people send to co-authors and journals (results.json, report.html, report.docx,
figures, validation.json) hold aggregates only: no input patient id and no patient-level
date (contract section 6, docs/security.md). Row-level files (derived_patients, the response
audit, the pooled table, the ids of excluded rows, the optional per-patient QC listing) go to
``DIR/restricted/``: a folder of its owner only (0700), files 0600, with a README saying what
they hold.

A validation finding or an exclusion about one row names the patient and quotes the row's
cells ("PD reading on 2022-05-29 ... patient SYN-005"). Its *publishable* form keeps what a
reader needs to judge the study (the rule, the file, the row number in the site's file, the
column) and drops the rest: the ``patient_id``, dates, quoted cell values and numbers after
``=`` are replaced by placeholders. The exact form stays in ``restricted/``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: The sub-folder of an output folder that holds row-level files.
RESTRICTED = "restricted"

#: Text of ``restricted/README.txt``.
README = """\
RESTRICTED: patient-level data. Do not send, publish or attach this folder.

This folder holds one row per patient (or per excluded row, lab reading or finding) of the
study's input, with the input's patient ids and exact dates:

  derived_patients.csv / .parquet  endpoints and derived columns per analysed patient
  response_audit.jsonl             the IMWG response derivation, reading by reading
  pooled_patients.csv              the pooled table of `mmrwe pool`
  exclusions.csv                   the ids, files, rows and exact reasons of excluded rows
  patient_listing.csv              the per-patient QC listing ([report] patient_listing = true)

(only the files this run wrote are present). mmrwe creates the folder for its owner only
(mode 0700) and the files readable by their owner only (0600). Keep it at the site, under
the same rules as the input files: pseudonymized data are still personal data.

The files beside this folder (results.json, report.html, report.docx, figures/, run.json,
validation.json) hold aggregates only: no input patient id and no patient-level date.
See docs/security.md of mmrwe.
"""

# ISO dates and date-times (2022-05-29, 2022-05-29T10:00, 2022-05-29 10:00:00) and the
# day/month/year forms sites write (29/05/2022, 29.05.2022, 05-29-2022)
_DATE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\b"
    r"|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b"
)
# a value as repr() quotes it ('abc', "it's"): a raw cell of the row
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
# "hgb = 25.3", "value 25.3 g/dL": a number after "=" is a cell of the row
_ASSIGNED = re.compile(r"=\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_RULE = re.compile(r"\[(MM[A-Z]\d{3})\]")


def redact_text(text: str, ids: Iterable[str | None] = ()) -> str:
    """``text`` without the row's identifying parts: patient ids, dates, quoted cell values.

    Parameters
    ----------
    text : str
        A finding or exclusion reason about one row.
    ids : iterable of str
        Patient ids to remove wherever they occur (the row's own id).

    Returns
    -------
    str
        The text with ``<id>``, ``<date>`` and ``<value>`` placeholders.

    Examples
    --------
    >>> redact_text("PD reading on 2022-05-29 for SYN-5; best_response 'xx'", ["SYN-5"])
    'PD reading on <date> for <id>; best_response <value>'
    """
    out = str(text)
    for pid in sorted({str(i) for i in ids if i not in (None, "")}, key=len, reverse=True):
        out = out.replace(pid, "<id>")
    out = _QUOTED.sub("<value>", out)
    out = _DATE.sub("<date>", out)
    return _ASSIGNED.sub("= <value>", out)


def public_reason(
    reason: str, patient_id: str | None = None, rules: Mapping[str, str] | None = None
) -> str:
    """The publishable words of an exclusion reason (no id, no cell value, no date).

    A rule the validator applies (``invalid: [MMV006] progression_date 2022-01-03 is before
    start_date 2022-02-01``) becomes the rule's generic words from ``rules`` (code -> words:
    ``invalid: [MMV006] a date before start_date``); any other reason (``[[cohort.exclude]]``
    words, pooling, a code ``rules`` does not know) is redacted with :func:`redact_text`.
    """
    text = str(reason)
    codes = _RULE.findall(text)
    if text.startswith("invalid: ") and codes and rules:
        generic = rules
        parts = [f"[{c}] {generic[c]}" if c in generic else None for c in codes]
        if all(p is not None for p in parts):
            return "invalid: " + "; ".join(dict.fromkeys(p for p in parts if p))
    return redact_text(text, [patient_id])


def public_exclusion(
    e: Mapping[str, Any], rules: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An exclusion as results.json and validation.json show it: reason, file, row (``rules``
    as in :func:`public_reason`)."""
    return {
        "reason": public_reason(str(e.get("reason", "")), e.get("patient_id"), rules),
        "file": e.get("file"),
        "row": e.get("row"),
    }


def row_level(issue: Mapping[str, Any]) -> bool:
    """True for a finding about one row or patient (its words quote that row)."""
    where = issue.get("where") or {}
    return bool(where.get("patient_id")) or where.get("row") is not None


def public_issue(issue: Mapping[str, Any]) -> dict[str, Any]:
    """A validation finding without the patient's id, dates and cell values.

    Findings about the spec, a column or a file are unchanged; a finding about one row keeps
    its code, severity, file, row number and column, and its words are redacted.
    """
    out = dict(issue)
    where = dict(issue.get("where") or {})
    if not row_level(issue):
        return out
    pid = where.pop("patient_id", None)
    out["where"] = where
    out["what"] = redact_text(str(issue.get("what", "")), [pid])
    out["fix"] = _DATE.sub("<date>", redact_text_ids(str(issue.get("fix", "")), [pid]))
    return out


def redact_text_ids(text: str, ids: Iterable[str | None]) -> str:
    """``text`` with the given patient ids replaced by ``<id>`` (nothing else changed)."""
    out = text
    for pid in sorted({str(i) for i in ids if i not in (None, "")}, key=len, reverse=True):
        out = out.replace(pid, "<id>")
    return out


def exclusion_counts(exclusions: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Excluded rows per publishable reason, in first-seen order."""
    counts: dict[str, int] = {}
    for e in exclusions:
        r = str(e.get("reason", ""))
        counts[r] = counts.get(r, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------
# The restricted folder
# ---------------------------------------------------------------------------------------


def restricted_dir(out_dir: Path) -> Path:
    """``out_dir/restricted``, created for its owner only (0700) with its README (0600)."""
    path = out_dir / RESTRICTED
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    # mkdir's mode is masked by the umask; chmod sets it whatever the umask
    os.chmod(path, 0o700)
    readme = path / "README.txt"
    if not readme.exists():
        write_private(readme, README)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Write ``data`` to a new file readable by its owner only (0600), never through a link.

    The file is created with ``O_EXCL | O_NOFOLLOW`` under a temporary name, then renamed,
    so a link planted at either name is never followed.
    """
    from mmrwe.core.fileio import atomic_write

    atomic_write(path, data, mode=0o600)


def seal(folder: Path) -> None:
    """Make every file below ``folder`` 0600 and every folder 0700 (links are left alone)."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        os.chmod(root, 0o700)
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, 0o600)
        for name in dirs:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
