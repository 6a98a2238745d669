"""Detect how a table file is written, and what its columns hold, for ``mmrwe init``.

Detection reads, it never guesses silently: each function returns the value it found with
the evidence in words, and says when it cannot decide (dates whose day and month are both
<= 12 everywhere read as day/month and as month/day; several visible sheets). The same
text-dialect detection explains CSV read errors (:func:`diagnose_csv`), so a European file
read with the defaults gets "set delimiter = ";" and decimal = ","" instead of a parse
error.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmrwe.core.errors import InputError, Location
from mmrwe.io.dialect import Detected, diagnose_csv, sniff_decimal  # noqa: F401 (re-exported)
from mmrwe.spec.model import RESPONSE_CATEGORIES
from mmrwe.spec.writer import ColumnChoice, Setting, StarterSpec, VariableChoice

# ----------------------------------------------------------------------------------------
# Dates
# ----------------------------------------------------------------------------------------

#: Date formats tried, with words. Day/month and month/day orders are both tried; the
#: detection refuses to pick one when every date fits both.
DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d", "year-month-day (ISO)"),
    ("%d/%m/%Y", "day/month/year"),
    ("%m/%d/%Y", "month/day/year (US)"),
    ("%d.%m.%Y", "day.month.year"),
    ("%m.%d.%Y", "month.day.year"),
    ("%d-%m-%Y", "day-month-year"),
    ("%m-%d-%Y", "month-day-year"),
    ("%Y/%m/%d", "year/month/day"),
    ("%d/%m/%y", "day/month/two-digit year"),
    ("%m/%d/%y", "month/day/two-digit year"),
    ("%d.%m.%y", "day.month.two-digit year"),
    ("%Y-%m-%d %H:%M:%S", "year-month-day with a time of day"),
    ("%d/%m/%Y %H:%M", "day/month/year with a time of day"),
    ("%m/%d/%Y %H:%M", "month/day/year with a time of day"),
)
_FORMAT_WORDS = dict(DATE_FORMATS)
_DATE_SHAPE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}( \d{1,2}:\d{2}(:\d{2})?)?$")


def _parses(s: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(s, fmt)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class DateDetection:
    """The date format of a table's text dates.

    ``format`` is None when undecided (``candidates`` lists the formats that read every
    date) or when there are no text dates (``candidates`` empty).
    """

    format: str | None
    candidates: tuple[str, ...]
    why: str
    date_columns: tuple[str, ...]  # columns holding dates (text or typed)


def _text_date_columns(columns: dict[str, list[Any]]) -> dict[str, list[str]]:
    """Columns whose cells are dates written as text (spreadsheets may mix in real dates)."""
    out = {}
    for name, values in columns.items():
        present = [v for v in values if v is not None]
        texts = [v.strip() for v in present if isinstance(v, str)]
        typed = sum(1 for v in present if isinstance(v, dt.date))
        if (
            texts
            and len(texts) + typed == len(present)
            and all(_DATE_SHAPE.match(s) for s in texts)
        ):
            out[name] = texts
    return out


def _typed_date_columns(columns: dict[str, list[Any]]) -> list[str]:
    out = []
    for name, values in columns.items():
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, dt.date) for v in present):
            out.append(name)
    return out


def sniff_dates(columns: dict[str, list[Any]], rows: Sequence[int] | None = None) -> DateDetection:
    """Find the date columns and the one format that reads every text date.

    ``columns``: column name -> cell values (None = missing); ``rows``: the row number the
    user sees for each position (for the evidence).
    """
    text_cols = _text_date_columns(columns)
    typed = _typed_date_columns(columns)
    all_dates = [(c, s) for c, vals in text_cols.items() for s in vals]
    if not all_dates:
        why = (
            "the dates are stored as dates in the file; no format is needed"
            if typed
            else "no column holds dates written as text"
        )
        return DateDetection(None, (), why, tuple(typed))
    # Dates repeat: parse each distinct text once, and stop a format at its first failure.
    distinct = list(dict.fromkeys(s for _, s in all_dates))
    full = [f for f, _ in DATE_FORMATS if all(_parses(s, f) for s in distinct)]
    n = len(all_dates)
    ncols = len(text_cols)

    def where(col: str, s: str) -> str:
        if rows is None:
            return f"{s!r} in {col!r}"
        i = next(i for i, v in enumerate(columns[col]) if isinstance(v, str) and v.strip() == s)
        return f"{s!r} in {col!r}, row {rows[i]}"

    cols_words = f"{n} dates in {ncols} column{'s' if ncols != 1 else ''}"
    date_columns = tuple(typed) + tuple(text_cols)
    if len(full) == 1:
        f = full[0]
        why = f"all {cols_words} read as {_FORMAT_WORDS[f]}"
        swapped = _swap_day_month(f)
        if swapped in _FORMAT_WORDS:  # a format with a swapped twin: say why not the twin
            not_twin = {s for s in distinct if not _parses(s, swapped)}
            proof = [(c, s) for c, s in all_dates if s in not_twin]
            if proof:
                c, s = proof[0]
                why += (
                    f"; {len(proof)} of them cannot be {_FORMAT_WORDS[swapped]} "
                    f"(e.g. {where(c, s)}: {_day_month_words(s, f)})"
                )
        return DateDetection(f, (f,), why, date_columns)
    if len(full) > 1:
        c, s = all_dates[0]
        why = (
            f"every one of the {cols_words} has day and month <= 12 (e.g. {where(c, s)}), "
            f"so each reads as {' and as '.join(_FORMAT_WORDS[f] for f in full)}: "
            "the file alone cannot tell which"
        )
        return DateDetection(None, tuple(full), why, date_columns)
    # No single format reads every date: take the one that reads the most and say which fail.
    failing = {f: {s for s in distinct if not _parses(s, f)} for f, _ in DATE_FORMATS}
    best = min(failing, key=lambda f: len(failing[f]))
    bad = [s for _, s in all_dates if s in failing[best]]
    c, s = next((c, s) for c, s in all_dates if s == bad[0])
    why = (
        f"{n - len(bad)} of the {cols_words} read as {_FORMAT_WORDS[best]}; {len(bad)} do not "
        f"(e.g. {where(c, s)}): `mmrwe validate` lists them"
    )
    return DateDetection(best, (best,), why, date_columns)


def _swap_day_month(fmt: str) -> str | None:
    if "%d" in fmt and "%m" in fmt:
        return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
    return None


def _day_month_words(s: str, fmt: str) -> str:
    d = dt.datetime.strptime(s, fmt)
    return f"day {d.day}" if d.day > 12 else f"month {d.month}"


# ----------------------------------------------------------------------------------------
# Columns: canonical names by name similarity and content
# ----------------------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    """Lower case, accents removed, words separated by single spaces."""
    s = unicodedata.normalize("NFKD", str(name))
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    # SPSS and SAS names run words together: LetzterKontakt, PatID.
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", s).lower()
    s = re.sub(r"([a-z])([0-9])", r"\1 \2", s)
    return " ".join(re.findall(r"[a-z0-9]+", s))


# English first; Italian, Spanish, French and German words as they appear in site exports.
NAME_HINTS: dict[str, tuple[str, ...]] = {
    "patient_id": ("patient id", "id", "pid", "patient", "patient no", "patient number",
                   "subject", "subject id", "usubjid", "record id", "study id", "case id",
                   "codice paziente", "codice", "id paziente", "paziente", "cod paz",
                   "paciente", "id paciente", "codigo paciente", "numero paciente",
                   "identifiant", "id patient", "numero patient", "patienten id",
                   "patientennummer", "pat id", "patient code", "code"),
    "center": ("center", "centre", "site", "site id", "center id", "centro", "sede",
               "ospedale", "struttura", "hospital", "hopital", "etablissement", "zentrum",
               "klinik", "krankenhaus", "institution", "inst", "centro id"),
    "start_date": ("start date", "start", "date start", "day 0", "index date", "treatment start",
                   "therapy start", "start of therapy", "regimen start", "baseline date",
                   "data inizio", "inizio", "inizio terapia", "data inizio terapia",
                   "data inizio trattamento", "fecha inicio", "inicio", "fecha de inicio",
                   "inicio tratamiento", "date debut", "debut", "date de debut",
                   "debut traitement", "beginn", "therapiebeginn", "startdatum",
                   "behandlungsbeginn", "t 0", "t0"),
    "progression_date": ("progression date", "progression", "date progression", "pd date",
                         "date pd", "date of progression", "relapse date", "data progressione",
                         "progressione", "data pd", "data recidiva", "recidiva",
                         "fecha progresion", "progresion", "fecha de progresion",
                         "date de progression", "date progression", "progressionsdatum",
                         "datum progression", "pd"),
    "death_date": ("death date", "date death", "date of death", "death", "dod", "died",
                   "data decesso", "decesso", "data morte", "morte", "exitus",
                   "fecha muerte", "fecha defuncion", "fecha fallecimiento", "fallecimiento",
                   "defuncion", "muerte", "date deces", "date de deces", "deces",
                   "todesdatum", "sterbedatum", "tod", "datum tod"),
    "last_followup_date": ("last followup date", "last follow up date", "last followup",
                           "last follow up", "last fu", "lfu", "date last followup",
                           "last contact", "date last contact", "last visit",
                           "last known alive", "follow up date", "followup date", "fu date",
                           "data ultimo follow up", "ultimo follow up", "ultimo fu",
                           "ultimo controllo", "data ultimo controllo", "ultima visita",
                           "data ultima visita", "ultimo contatto", "data ultimo contatto",
                           "fecha ultimo seguimiento", "ultimo seguimiento", "ultimo control",
                           "fecha ultimo control", "date dernieres nouvelles",
                           "dernieres nouvelles", "derniere visite", "date derniere visite",
                           "letzter kontakt", "letzte visite", "letztes follow up",
                           "datum letzter kontakt", "censor date"),
    "best_response": ("best response", "response", "bor", "best overall response",
                      "best resp", "imwg response", "risposta", "miglior risposta",
                      "risposta migliore", "migliore risposta", "respuesta",
                      "mejor respuesta", "reponse", "meilleure reponse", "ansprechen",
                      "bestes ansprechen"),
}  # fmt: skip

DATE_ROLES = ("start_date", "progression_date", "death_date", "last_followup_date")
ROLES = ("patient_id", "center", *DATE_ROLES, "best_response")

# Analytes named in other languages (analyte_of knows the English names).
_ANALYTE_WORDS: tuple[tuple[str, str], ...] = (
    (r"\b(hb|hgb|emoglobina|hemoglobina|hemoglobine|hamoglobin|haemoglobin|hemoglobin)\b", "hemoglobin"),
    (r"\b(creatinina|creatinine|kreatinin|crea|scr)\b", "creatinine"),
    (r"\b(calcio|calcium|kalzium|calcemia)\b", "calcium"),
    (r"\b(albumina|albumine|albumin)\b", "albumin"),
    (r"\b(b 2 m|b2m|beta 2|beta2|microglobulin\w*)\b", "beta2_microglobulin"),
    (r"\bldh\b", "ldh"),
    (r"\b(age|eta|edad|alter)\b", "age"),
    (r"\b(prior lines|linee precedenti|linee|lineas previas|lignes anterieures|vorlinien|previous lines|n lines|lines)\b", "prior_lines"),
)  # fmt: skip

_UNIT_IN_NAME: tuple[tuple[str, str], ...] = (
    (r"\bg ?dl\b", "g/dL"), (r"\bg ?l\b", "g/L"), (r"\bmmol ?l\b", "mmol/L"),
    (r"\bmg ?dl\b", "mg/dL"), (r"\b(u|micro)mol ?l\b", "umol/L"), (r"\bmg ?l\b", "mg/L"),
    (r"\bu ?l\b", "U/L"), (r"\b(years|anni|anos|ans|jahre)\b", "years"),
)  # fmt: skip


def name_score(header: str, role: str) -> tuple[float, str]:
    """How much a column header looks like ``role`` (0-1), and the matching hint."""
    h = normalise_name(header)
    if not h:
        return 0.0, ""
    if h == role.replace("_", " "):
        return 1.0, h
    best, hint = 0.0, ""
    tokens = h.split()
    for s in NAME_HINTS[role]:
        if h == s:
            score = 1.0
        elif re.search(rf"(^| ){re.escape(s)}( |$)", h):
            # The hint is inside the header: strong when it covers most of it.
            score = 0.55 + 0.4 * len(s.split()) / len(tokens)
        else:
            import difflib

            r = difflib.SequenceMatcher(None, h, s).ratio()
            score = 0.7 * r if r >= 0.85 else 0.0
        if score > best:
            best, hint = score, s
    return min(best, 1.0), hint


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """What a column holds, as far as init needs to know."""

    name: str
    kind: str  # "date", "numeric", "categorical", "empty"
    n: int  # non-missing cells
    n_rows: int
    distinct: tuple[str, ...]  # distinct text values (categorical), at most 200
    n_distinct: int
    numbers: tuple[float, ...] = ()
    text_in_numbers: tuple[str, ...] = ()  # text cells of a mostly numeric column
    all_unique: bool = False


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _number(v: Any, decimal: str) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, str):
        s = v.strip()
        if decimal == ",":
            if "." in s and "," in s:
                return None
            s = s.replace(",", ".")
        if _NUMBER.match(s):
            return float(s)
    return None


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return str(v).strip()


def profile_column(
    name: str, values: list[Any], decimal: str, date_columns: set[str]
) -> ColumnProfile:
    """Type and content summary of one column."""
    present = [v for v in values if v is not None]
    texts = [_text(v) for v in present]
    counts = Counter(texts)
    distinct = tuple(list(counts)[:200])
    unique = len(counts) == len(present) and bool(present)
    if not present:
        return ColumnProfile(name, "empty", 0, len(values), (), 0)
    if name in date_columns:
        return ColumnProfile(
            name, "date", len(present), len(values), distinct, len(counts), all_unique=unique
        )
    nums = [_number(v, decimal) for v in present]
    ok = [x for x in nums if x is not None]
    bad = sorted({_text(v) for v, x in zip(present, nums, strict=True) if x is None})
    if ok and not bad:
        return ColumnProfile(
            name,
            "numeric",
            len(present),
            len(values),
            distinct,
            len(counts),
            tuple(ok),
            all_unique=unique,
        )
    return ColumnProfile(name, "categorical", len(present), len(values), distinct, len(counts),
                         tuple(ok), tuple(bad) if ok and len(bad) <= len(present) / 2 else (), unique)  # fmt: skip


_RESPONSE_LOOKUP = {c.lower(): c for c in RESPONSE_CATEGORIES}


def _is_response(p: ColumnProfile) -> bool:
    return p.kind == "categorical" and all(v.lower() in _RESPONSE_LOOKUP for v in p.distinct)


def _content_score(
    role: str, p: ColumnProfile, days: np.ndarray, names: list[str]
) -> tuple[float, str]:
    """Evidence from the values (0-1), with words; -1 when the column cannot hold ``role``."""
    if role == "patient_id":
        if p.kind in ("date", "empty") or not p.all_unique or p.n < p.n_rows:
            return -1.0, ""
        if p.kind == "numeric" and any(not float(x).is_integer() for x in p.numbers):
            return -1.0, ""
        return 0.3, f"{p.n} distinct values, one per row"
    if role == "center":
        if p.kind not in ("categorical", "numeric") or p.all_unique:
            return -1.0, ""
        if 1 <= p.n_distinct <= max(2, min(50, p.n // 2)):
            return 0.3, f"{p.n_distinct} distinct values repeated over {p.n} rows"
        return -1.0, ""
    if role == "best_response":
        if not _is_response(p):
            return -1.0, ""
        return 0.6, f"every value is an IMWG category ({', '.join(_order_response(p.distinct))})"
    if p.kind != "date":
        return -1.0, ""
    others = [c for c in names if c != p.name]
    col = days[:, names.index(p.name)]
    filled = ~np.isnan(col)
    n_filled = int(filled.sum())
    if not n_filled:
        return -1.0, ""
    n_rows = p.n_rows
    full = n_filled == n_rows
    row_min = np.min(np.where(np.isnan(days), np.inf, days), axis=1)
    row_max = np.max(np.where(np.isnan(days), -np.inf, days), axis=1)
    is_min = int((filled & (col == row_min)).sum())
    is_max = int((filled & (col == row_max)).sum())
    if role in ("start_date", "last_followup_date"):
        if not full or not others:
            return (0.0, "") if full else (-1.0, "")
        if role == "start_date":
            why = f"filled in every row and the earliest date of {is_min} of {n_filled} rows"
            return 0.5 * is_min / n_filled, why
        why = f"filled in every row and the latest date of {is_max} of {n_filled} rows"
        return 0.5 * is_max / n_filled, why
    if full:
        return 0.0, ""  # progression and death are empty for patients without the event
    if role == "death_date":
        why = f"filled in {n_filled} of {n_rows} rows, the latest date of {is_max} of them"
        return 0.3 * is_max / n_filled, why
    return 0.2, f"filled in {n_filled} of {n_rows} rows"


def _day_matrix(dates: dict[str, list[dt.date | None]]) -> np.ndarray:
    """Days since 1970-01-01 per row (rows x columns), NaN for an empty cell."""
    epoch = dt.date(1970, 1, 1).toordinal()
    cols = [
        np.array([np.nan if d is None else d.toordinal() - epoch for d in v], dtype=np.float64)
        for v in dates.values()
    ]
    return np.column_stack(cols) if cols else np.empty((0, 0))


def map_columns(
    profiles: Sequence[ColumnProfile], dates: dict[str, list[dt.date | None]]
) -> list[ColumnChoice]:
    """Map source columns to the canonical names, each at most once, best evidence first.

    A column is mapped when its name looks like the canonical name (English, Italian,
    Spanish, French or German words) and its values fit (dates for dates, unique ids, IMWG
    categories), or, for the four dates, when the values alone single it out (always filled
    and earliest in the row: start; always filled and latest: last follow-up).
    """
    candidates = []
    days, names = _day_matrix(dates), list(dates)  # rows x date columns, NaN = empty
    for p in profiles:
        for role in ROLES:
            content, cwhy = _content_score(role, p, days, names)
            if content < 0:
                continue
            nscore, hint = name_score(p.name, role)
            total = nscore + content
            if nscore < 0.5 and not (
                role in ("start_date", "last_followup_date") and content >= 0.45
            ):
                continue  # content alone decides only the two always-filled dates
            why_parts = []
            if nscore >= 0.5:
                why_parts.append(
                    f"the header {p.name!r} "
                    + ("is" if nscore >= 1 else "looks like")
                    + f" {hint!r}"
                )
            if cwhy:
                why_parts.append(cwhy)
            candidates.append((total, role, p.name, "; ".join(why_parts)))
    candidates.sort(key=lambda c: (-c[0], ROLES.index(c[1]), c[2]))
    taken_roles: dict[str, ColumnChoice] = {}
    taken_cols: set[str] = set()
    # A column already named like a canonical column is that column, whatever it holds: the
    # validator then reports its content (mapping another column onto the name would clash).
    for p in profiles:
        role = normalise_name(p.name).replace(" ", "_")
        if role in ROLES and role not in taken_roles:
            taken_roles[role] = ColumnChoice(role, p.name, f"the column is named {p.name!r}")
            taken_cols.add(p.name)
    for _total, role, col, why in candidates:
        if role in taken_roles or col in taken_cols:
            continue
        taken_roles[role] = ColumnChoice(role, col, why)
        taken_cols.add(col)
    out = []
    for role in ROLES:
        if role in taken_roles:
            out.append(taken_roles[role])
        elif role == "best_response":
            named = [
                p
                for p in profiles
                if name_score(p.name, role)[0] >= 0.5 and p.name not in taken_cols
            ]
            why = (
                f"{named[0].name!r} looks like a response column but holds values that are not IMWG categories "
                f"({', '.join(named[0].distinct[:6])}); recode them to sCR, CR, VGPR, PR, MR, SD, PD, NE to use it"
                if named
                else "no column of IMWG categories (sCR, CR, VGPR, PR, MR, SD, PD, NE) was found; optional"
            )
            out.append(ColumnChoice(role, None, why))
        elif role == "center":
            out.append(
                ColumnChoice(
                    role,
                    None,
                    "no column looks like a center (site) identifier; optional for one site",
                )
            )
        else:
            out.append(
                ColumnChoice(role, None, "no column was recognised; map it by hand (required)")
            )
    return out


# ----------------------------------------------------------------------------------------
# Variables: levels and units
# ----------------------------------------------------------------------------------------

_NEGATIVE_FIRST = (
    ("no", "yes"), ("n", "y"), ("0", "1"), ("false", "true"), ("negative", "positive"),
    ("neg", "pos"), ("absent", "present"), ("no", "si"), ("no", "sì"), ("nein", "ja"),
    ("non", "oui"), ("f", "t"), ("normal", "abnormal"),
)  # fmt: skip
_RANK_WORDS = {
    "low": 0, "basso": 0, "bajo": 0, "faible": 0, "niedrig": 0, "standard": 1,
    "standard risk": 1, "normal": 1, "intermediate": 1, "intermedio": 1, "intermediaire": 1,
    "high": 2, "high risk": 2, "alto": 2, "elevato": 2, "eleve": 2, "hoch": 2, "very high": 3,
}  # fmt: skip
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5}


def _order_response(values: Iterable[str]) -> list[str]:
    canon = {_RESPONSE_LOOKUP[v.lower()] for v in values if v.lower() in _RESPONSE_LOOKUP}
    return [c for c in RESPONSE_CATEGORIES if c in canon]


def order_levels(values: Sequence[str], *, response: bool = False) -> tuple[list[str], str]:
    """Levels in a sensible order, and the rule used (the first level is the reference)."""
    if response:
        return _order_response(values), "IMWG order, best first"
    low = {v.lower(): v for v in values}
    for a, b in _NEGATIVE_FIRST:
        if set(low) == {a, b}:
            return [low[a], low[b]], "the negative level first (it becomes the reference)"
    norm = {v: normalise_name(v) for v in values}
    if all(n in _RANK_WORDS for n in norm.values()):
        return sorted(values, key=lambda v: _RANK_WORDS[norm[v]]), "lowest risk first"
    stage = {v: re.sub(r"^(r |r2 )?(iss )?(stage )?", "", norm[v]) for v in values}
    if all(s in _ROMAN for s in stage.values()):
        return sorted(values, key=lambda v: _ROMAN[stage[v]]), "stage order"
    try:
        return sorted(values, key=lambda v: float(v.replace(",", "."))), "numeric order"
    except ValueError:
        pass
    return sorted(values, key=lambda v: (v.lower(), v)), "alphabetical order"


@dataclass(frozen=True, slots=True)
class UnitCatalog:
    """The analytes and units the validator knows, handed in by the caller.

    ``io`` does not import ``validate`` (validate reads through io); the command line
    builds this from :mod:`mmrwe.validate.units`.

    Attributes
    ----------
    analyte_of : callable
        Column name -> analyte (``hgb`` -> ``hemoglobin``), or None.
    usual : mapping
        Analyte -> ((unit, low, high), ...): the usual range of values in each unit.
    """

    analyte_of: Callable[[str], str | None]
    usual: Mapping[str, tuple[tuple[str, float, float], ...]]


def _analyte(name: str, catalog: UnitCatalog) -> str | None:
    a = catalog.analyte_of(name)
    if a is not None:
        return a
    n = normalise_name(name)
    for pattern, analyte in _ANALYTE_WORDS:
        if re.search(pattern, n):
            return analyte
    return None


def _unit_in_name(name: str) -> str | None:
    n = normalise_name(name)
    for pattern, unit in _UNIT_IN_NAME:
        if re.search(pattern, n):
            return unit
    return None


def guess_unit(
    name: str, numbers: Sequence[float], catalog: UnitCatalog
) -> tuple[str | None, str | None, str]:
    """(analyte, unit, why) of a numeric column; unit None when the analyte is unknown.

    A unit written in the header wins (the values are still checked by `mmrwe validate`);
    otherwise the known unit whose usual range holds the most values, ties broken by the
    unit whose range centre is nearest the median on a log scale.
    """
    analyte = _analyte(name, catalog)
    if analyte is None:
        return None, None, ""
    ranges = catalog.usual.get(analyte, ())
    units = [u for u, _, _ in ranges]
    header_unit = _unit_in_name(name)
    if header_unit is not None and header_unit in units:
        return analyte, header_unit, f"{analyte}: the header names the unit {header_unit}"
    vals = sorted(x for x in numbers if x is not None)
    if not vals:
        return analyte, None, ""
    med = vals[len(vals) // 2]
    scored = []
    for u, lo, hi in ranges:
        inside = sum(1 for x in vals if lo <= x <= hi)
        centre = math.sqrt(max(lo, 1e-9) * hi) if hi > 0 else hi
        dist = abs(math.log(max(med, 1e-9) / max(centre, 1e-9)))
        scored.append((inside, -dist, u, lo, hi))
    scored.sort(reverse=True)
    inside, _, unit, lo, hi = scored[0]
    why = f"{analyte}: {inside} of {len(vals)} values (median {med:g}) lie in the usual range for {unit} ({lo:g}-{hi:g})"
    if len(scored) > 1 and scored[1][0] == inside and inside > 0:
        alt = scored[1]
        why += (
            f"; as many lie in the range for {alt[2]} ({alt[3]:g}-{alt[4]:g}): CHECK the unit "
            f"with the center (chosen: {unit}, nearer the median)"
        )
    if inside == 0:
        why += "; no known unit fits: CHECK the values and the unit"
    return analyte, unit, why


def describe_variables(
    profiles: Sequence[ColumnProfile], mapped: dict[str, str], catalog: UnitCatalog
) -> list[VariableChoice]:
    """``[variables.NAME]`` for every column other than the id, center and the four dates."""
    source_to_canon = {src: canon for canon, src in mapped.items()}
    out = []
    for p in profiles:
        canon = source_to_canon.get(p.name)
        if canon in ("patient_id", "center", *DATE_ROLES):
            continue
        name = canon or p.name
        label = p.name if canon and canon != p.name else None
        if p.kind == "empty":
            out.append(
                VariableChoice(
                    name,
                    f"{p.name!r} is empty in every row; kept as a categorical column",
                    "categorical",
                    label=label,
                )
            )
            continue
        if p.kind == "date":
            out.append(
                VariableChoice(
                    name, f"{p.name!r} holds dates (read with date_format)", "date", label=label
                )
            )
            continue
        if name == "best_response":
            levels, rule = order_levels(p.distinct, response=True)
            out.append(
                VariableChoice(
                    name,
                    f"{p.n_distinct} response categories seen; levels ordered: {rule}",
                    "categorical",
                    tuple(levels),
                    label=label,
                )
            )
            continue
        if p.kind == "numeric":
            analyte, unit, why = guess_unit(p.name, p.numbers, catalog)
            if unit is None:
                why = (why + "; " if why else "") + (
                    f"numbers ({min(p.numbers):g} to {max(p.numbers):g}); no unit is known for this "
                    'name: add unit = "..." if it is a lab value, so values are range-checked'
                )
            # The analyte is written only when the validator would not guess it from the name.
            written_analyte = (
                analyte if analyte is not None and catalog.analyte_of(name) != analyte else None
            )
            out.append(
                VariableChoice(
                    name, why, "numeric", unit=unit, analyte=written_analyte, label=label
                )
            )
            continue
        if p.text_in_numbers:
            shown = ", ".join(repr(t) for t in p.text_in_numbers[:4])
            out.append(VariableChoice(
                name,
                f"{len(p.numbers)} numbers and {len(p.text_in_numbers)} text value(s) ({shown}): treated as "
                "categorical; correct the text cells and set type = \"numeric\" to analyse it as a number",
                "categorical", label=label))  # fmt: skip
            continue
        if p.n_distinct > 20 and p.n_distinct > p.n / 2:
            out.append(
                VariableChoice(
                    name,
                    f"free text ({p.n_distinct} distinct values): no levels declared",
                    "categorical",
                    label=label,
                )
            )
            continue
        levels, rule = order_levels(p.distinct)
        out.append(
            VariableChoice(
                name,
                f"{p.n_distinct} distinct values; levels ordered: {rule}",
                "categorical",
                tuple(levels),
                label=label,
            )
        )
    return out


# ----------------------------------------------------------------------------------------
# Missing-value markers
# ----------------------------------------------------------------------------------------

DEFAULT_MISSING = ("", "NA", "N/A", "NaN", "nan", ".", "NULL", "null")
_MISSING_MARKERS = {
    "na", "n/a", "nan", ".", "null", "-", "--", "nd", "n.d.", "n.d", "unknown", "unk", "?",
    "missing", "nk", "n.k.", "sconosciuto", "non noto", "nv", "n.v.", "desconocido",
    "inconnu", "unbekannt", "#n/a", "/", "x",
}  # fmt: skip


def sniff_missing(columns: dict[str, list[Any]], decimal: str) -> tuple[list[str], str]:
    """Missing-value markers: known markers found in columns that otherwise hold numbers or
    dates (a marker in a text column may be a real category, e.g. "none")."""
    found: Counter[str] = Counter()
    for values in columns.values():
        texts = [v.strip() for v in values if isinstance(v, str)]
        markers = [t for t in texts if t.lower() in _MISSING_MARKERS and t not in DEFAULT_MISSING]
        if not markers:
            continue
        rest = [
            v for v in values if v is not None and not (isinstance(v, str) and v.strip() in markers)
        ]
        if rest and all(_number(v, decimal) is not None or isinstance(v, dt.date) or
                        (isinstance(v, str) and _DATE_SHAPE.match(v.strip())) for v in rest):  # fmt: skip
            found.update(markers)
    extra = sorted(found)
    if not extra:
        return list(
            DEFAULT_MISSING
        ), "the usual markers; no other marker was seen in number or date columns"
    listed = ", ".join(f"{m!r} ({found[m]} cells)" for m in extra)
    return [
        *DEFAULT_MISSING,
        *extra,
    ], f"the usual markers, plus {listed} seen in number or date columns"


# ----------------------------------------------------------------------------------------
# The whole file
# ----------------------------------------------------------------------------------------


def excel_sheets(path: Path) -> list[tuple[str, int, int]]:
    """Visible sheets of a workbook: (name, rows, columns) each."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [(ws.title, ws.max_row or 0, ws.max_column or 0)
                for ws in wb.worksheets if ws.sheet_state == "visible"]  # fmt: skip
    finally:
        wb.close()


def inspect_file(
    path: Path,
    catalog: UnitCatalog,
    *,
    sheet: str | None = None,
    spec_dir: Path | None = None,
) -> StarterSpec:
    """Read ``path`` and decide every reading option, the column mapping and the variables.

    Raises
    ------
    InputError
        The file cannot be read, or it is a workbook with several visible sheets and no
        ``sheet`` was chosen (the message lists them).
    """
    from mmrwe.io.readers import SUPPORTED, read_table

    p = Path(path)
    if not p.is_file():
        raise InputError(f"data file not found: {p}", where=Location(file=str(p)),
                         fix="check the path of DATAFILE")  # fmt: skip
    kind = SUPPORTED.get(p.suffix.lower())
    if kind is None:
        raise InputError(
            f"unsupported file type {p.suffix!r}",
            where=Location(file=p.name),
            fix=f"save the table as one of: {', '.join(sorted(set(SUPPORTED)))}",
        )
    settings: list[Setting] = []
    notes: list[str] = []
    read_opts: dict[str, Any] = {}
    if kind == "csv":
        raw = p.read_bytes()
        diag = diagnose_csv(raw)
        if diag.delimiter.value is None:
            raise InputError(f"{p.name}: cannot find the field separator ({diag.delimiter.why})",
                             where=Location(file=p.name), fix="export the table again as CSV")  # fmt: skip
        settings.append(Setting("encoding", diag.encoding.value, f"Detected: {diag.encoding.why}."))
        sep_why = f"Detected: {diag.delimiter.why}."
        settings.append(Setting("delimiter", diag.delimiter.value, sep_why))
        read_opts = {"delimiter": diag.delimiter.value, "encoding": diag.encoding.value}
    elif kind == "excel":
        try:
            sheets = excel_sheets(p)
        except Exception as exc:
            raise InputError(f"could not read {p.name} as a workbook: {type(exc).__name__}: {exc}",
                             where=Location(file=p.name),
                             fix="open the file in its program and save it again") from None  # fmt: skip
        names = [s[0] for s in sheets]
        if sheet is None and len(sheets) > 1:
            listed = "; ".join(f"{n!r} ({r} rows x {c} columns)" for n, r, c in sheets)
            raise InputError(
                f"{p.name} has {len(sheets)} visible sheets: {listed}. Which one holds the patients?",
                where=Location(file=p.name),
                fix=f"run again with --sheet, e.g. mmrwe init {p.name} --sheet {_shell_quote(names[0])}",
            )
        if sheet is not None and sheet not in names:
            raise InputError(
                f"{p.name} has no visible sheet {sheet!r}",
                where=Location(file=p.name, sheet=sheet),
                fix=f"use one of: {', '.join(map(repr, names))}",
            )
        chosen = sheet or (names[0] if names else None)
        why = (f"chosen with --sheet; the workbook's visible sheets: {', '.join(map(repr, names))}"
               if sheet else "the only visible sheet of the workbook")  # fmt: skip
        settings.append(Setting("sheet", chosen, f"Sheet: {why}."))
        read_opts = {"sheet": chosen}
    else:
        notes.append(f"{p.name} is a {kind} file: its values are typed, so delimiter, decimal "
                     "mark and encoding do not apply.")  # fmt: skip
    source = read_table(p, missing_values=(), **read_opts)
    frame = source.frame
    columns = {c: frame[c].tolist() for c in frame.columns}
    rows = source.source_rows

    dec = sniff_decimal(v for vals in columns.values() for v in vals)
    if kind == "csv" or dec.value == ",":  # typed files need it only for numbers kept as text
        settings.append(Setting("decimal", dec.value, f"Detected: {dec.why}."))
    decimal = dec.value
    missing, missing_why = sniff_missing(columns, decimal)
    settings.append(
        Setting("missing_values", missing, f"Cell texts read as missing: {missing_why}.")
    )
    markers = set(missing)
    columns = {c: [None if isinstance(v, str) and v.strip() in markers else v for v in vals]
               for c, vals in columns.items()}  # fmt: skip

    dates = sniff_dates(columns, rows)
    if dates.format is not None:
        settings.append(Setting("date_format", dates.format, f"Detected: {dates.why}."))
    elif dates.candidates:
        settings.append(Setting("date_format", None, dates.why + ".",
                                tuple((f, _FORMAT_WORDS[f]) for f in dates.candidates)))  # fmt: skip
    else:
        settings.append(Setting("date_format", None, dates.why + "; the key is not needed."))
    parsed = _parse_dates(columns, dates)
    date_set = set(dates.date_columns)
    profiles = [profile_column(c, columns[c], decimal, date_set) for c in columns]
    mapping = map_columns(profiles, parsed)
    mapped = {c.canonical: c.source for c in mapping if c.source is not None}
    variables = describe_variables(profiles, mapped, catalog)
    where = spec_dir or Path.cwd()
    rel = _relative(p, where)
    shape = f"{p.name}" + (f", sheet {read_opts['sheet']!r}" if read_opts.get("sheet") else "")
    return StarterSpec(
        data_path=rel,
        source_note=f"{shape} ({len(frame)} rows, {len(frame.columns)} columns)",
        settings=tuple(settings),
        columns=tuple(mapping),
        variables=tuple(variables),
        title=f"Study of {p.stem}",
        notes=tuple(notes),
    )


def _parse_dates(
    columns: dict[str, list[Any]], det: DateDetection
) -> dict[str, list[dt.date | None]]:
    out: dict[str, list[dt.date | None]] = {}
    fmt = det.format or (det.candidates[0] if det.candidates else None)
    for c in det.date_columns:
        vals: list[dt.date | None] = []
        for v in columns[c]:
            if isinstance(v, dt.datetime):
                vals.append(v.date())
            elif isinstance(v, dt.date):
                vals.append(v)
            elif isinstance(v, str) and fmt is not None and _parses(v.strip(), fmt):
                vals.append(dt.datetime.strptime(v.strip(), fmt).date())
            else:
                vals.append(None)
        out[c] = vals
    return out


def _relative(path: Path, folder: Path) -> str:
    import os

    try:
        return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.resolve().as_posix()


def _shell_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


# ----------------------------------------------------------------------------------------
# A REDCap project (mmrwe init --redcap)
# ----------------------------------------------------------------------------------------

#: Names a REDCap field may carry for a canonical lab or therapy column, once the prefix its
#: instrument's fields share (``lab_``, ``ther_``) is taken off.
LAB_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "date": ("date", "sample_date", "lab_date", "dt", "data"),
    "test": ("test", "analyte", "parameter", "lab_test", "esame"),
    "value": ("value", "result", "lab_value", "valore", "risultato"),
    "unit": ("unit", "units", "lab_unit", "unita"),
}
THERAPY_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "agents": ("agents", "drugs", "agent", "farmaci"),
    "start_date": ("start_date", "start", "first_dose", "date_start"),
    "end_date": ("end_date", "end", "last_dose", "date_end"),
    "reason_end": ("reason_end", "end_reason", "reason_stop", "stop_reason"),
    "progression_date": ("progression_date", "pd_date", "progression", "date_progression"),
    "regimen": ("regimen", "regimen_name", "schema"),
    "line": ("line", "line_number", "linea"),
    "planned_phase": ("planned_phase", "phase"),
    "best_response": ("best_response", "response"),
}
_LAB_REQUIRED = ("date", "test", "value", "unit")
_THERAPY_REQUIRED = ("agents", "start_date")


def _field_prefix(names: Sequence[str]) -> str:
    """The prefix (ending with "_") every field name of an instrument shares, if any."""
    if len(names) < 2:
        return ""
    first, n = names[0], 0
    while n < len(first) and all(len(x) > n and x[n] == first[n] for x in names):
        n += 1
    common = first[:n]
    return common[: common.rfind("_") + 1] if "_" in common else ""


def _match_instrument(
    form: str, names: Sequence[str], wanted: Mapping[str, tuple[str, ...]]
) -> list[tuple[str, str, str]]:
    """(canonical, field, why) for the fields of ``form`` named like canonical columns."""
    prefix = _field_prefix(names)
    out = []
    taken: set[str] = set()
    for canon, aliases in wanted.items():
        for name in names:
            bare = name[len(prefix) :] if prefix and name.startswith(prefix) else name
            if name not in taken and (bare.lower() in aliases or name.lower() in aliases):
                why = (
                    f"{name!r} is {canon!r} once the prefix {prefix!r} the fields of {form!r} share is taken off"
                    if bare != name and bare.lower() == canon
                    else f"the field is named {name!r}"
                )
                out.append((canon, name, why))
                taken.add(name)
                break
    return out


def inspect_redcap(
    records: Path,
    dictionary: Path,
    catalog: UnitCatalog,
    *,
    groups: Path | None = None,
    spec_dir: Path | None = None,
) -> StarterSpec:
    """Read a REDCap project and decide every key of its spec, each with the evidence.

    How the export is written (delimiter, encoding, raw codes or labels), the baseline event
    (the event of the first row), the patient table's instruments (those with data in the
    baseline event), the instruments that hold the lab and therapy tables (repeating, or
    collected in other events, with fields named like the canonical columns), the checkbox
    fields, and for every patient-table column what the dictionary says of it (type,
    choices in its order, label, the unit in the field note).

    Raises
    ------
    InputError
        A file cannot be read, the dictionary is not one, the export has no record id.
    """
    import datetime as _dt

    import pandas as pd

    from mmrwe.io import redcap as rc
    from mmrwe.spec.model import RedcapInstrument, RedcapSection
    from mmrwe.spec.writer import InstrumentChoice, RedcapStarter

    for p, what in (
        (records, "record export"),
        (dictionary, "data dictionary"),
        (groups, "groups file"),
    ):
        if p is not None and not p.is_file():
            raise InputError(f"REDCap {what} not found: {p}", where=Location(file=str(p)),
                             fix="check the path given to mmrwe init --redcap")  # fmt: skip
    settings: list[Setting] = []
    diag = diagnose_csv(records.read_bytes())
    sep = diag.delimiter.value or ","
    enc = diag.encoding.value or "utf-8"
    settings.append(Setting("encoding", enc, f"Detected: {diag.encoding.why}."))
    settings.append(Setting("delimiter", sep, f"Detected: {diag.delimiter.why}."))
    dic = rc.read_dictionary(dictionary, encoding=enc)
    recs = rc.read_records(records, delimiter=sep, encoding=enc)
    kind = rc.detect_export(recs, dic)
    number_cells = [v for f in dic.fields if f.is_number and f.name in recs.cells
                    for v in recs.cells[f.name] if v is not None]  # fmt: skip
    dec = sniff_decimal(number_cells)
    settings.append(Setting("decimal", dec.value,
                            f"Detected in the number fields: {dec.why}."))  # fmt: skip
    settings.append(Setting("missing_values", list(DEFAULT_MISSING),
                            "Cell texts read as missing (REDCap writes missing values as empty cells)."))  # fmt: skip

    # Events and repeating instruments, from a first reading with the detected export.
    probe = rc.read_project(
        RedcapSection(records=records, dictionary=dictionary, groups=groups, export=kind.export),  # type: ignore[arg-type]
        delimiter=sep, encoding=enc, decimal=dec.value or ".", instruments=False,
    )  # fmt: skip
    baseline = probe.baseline_event
    if baseline is None:
        baseline_why = "The project has no events (a classic project): each record's non-repeating row is the patient."
    else:
        others = [e for e in probe.events if e != baseline]
        baseline_why = (
            f"The baseline event: the event of the export's first row, {baseline!r}; its row of each "
            "record (not of a repeating instrument) is the patient table."
            + (f" Other events: {', '.join(map(repr, others))}." if others else "")
        )
    # Candidates for the lab and therapy tables: repeating instruments, and instruments with
    # data outside the baseline rows.
    rep_forms = list(dict.fromkeys(probe.repeating.values()))
    is_base = pd.isna(pd.Series(probe.place.instrument, dtype=object)).to_numpy().copy()
    if baseline is not None:
        is_base &= (pd.Series(probe.place.event, dtype=object) == baseline).to_numpy(dtype=bool)
    other_rows = np.flatnonzero(~is_base)
    elsewhere = [f for f in rc.forms_with_data(recs, dic, other_rows) if f not in rep_forms]
    choices: dict[str, InstrumentChoice] = {}
    for key, wanted, required in (("labs", LAB_FIELD_NAMES, _LAB_REQUIRED),
                                  ("therapy", THERAPY_FIELD_NAMES, _THERAPY_REQUIRED)):  # fmt: skip
        best: tuple[int, str, list[tuple[str, str, str]]] | None = None
        for form in rep_forms + elsewhere:
            if any(c.instrument == form for c in choices.values()):
                continue
            names = [f.name for f in dic.fields_of(form) if f.name != dic.first]
            got = _match_instrument(form, names, wanted)
            found = {c for c, _, _ in got}
            complete = all(r in found or (key == "labs" and r == "unit") for r in required)
            if complete and (best is None or len(got) > best[0]):
                best = (len(got), form, got)
        if best is None:
            continue
        _, form, got = best
        how = ("a repeating instrument" if form in rep_forms
               else "collected in events other than the baseline")  # fmt: skip
        missing = tuple((c, "no field of the instrument is named like it; map it if the instrument holds it")
                        for c in wanted if c not in {g[0] for g in got} and c in required)  # fmt: skip
        choices[key] = InstrumentChoice(
            form, f"Instrument {form!r} ({how}) holds the {key} table: its fields are named like "
            f"its columns ({', '.join(c for c, _, _ in got)}). Each instance is one row.",
            tuple(got), missing)  # fmt: skip
    in_tables = {c.instrument for c in choices.values()}
    forms = [f for f in rc.forms_with_data(recs, dic, np.flatnonzero(is_base))
             if f not in in_tables and f not in rep_forms]  # fmt: skip
    if dic.fields[0].form not in forms:
        forms.insert(0, dic.fields[0].form)
    unused = [f for f in dic.forms if f not in forms and f not in in_tables]
    forms_why = (
        f"Instruments of the patient table: those with data in the baseline rows ({', '.join(forms)})."
        + (f" Not read: {', '.join(unused)} (no data there, or repeating)." if unused else "")
    )
    section = RedcapSection(
        records=records, dictionary=dictionary, groups=groups, export=kind.export,  # type: ignore[arg-type]
        baseline_event=baseline, forms=tuple(forms),
        labs=RedcapInstrument(choices["labs"].instrument, tuple((c, f) for c, f, _ in choices["labs"].columns)) if "labs" in choices else None,
        therapy=RedcapInstrument(choices["therapy"].instrument, tuple((c, f) for c, f, _ in choices["therapy"].columns)) if "therapy" in choices else None,
    )  # fmt: skip
    project = rc.read_project(section, delimiter=sep, encoding=enc, decimal=dec.value or ".")

    # The patient table: canonical columns by name and content, as for any file.
    frame = project.patients.to_pandas()
    cols = [c for c in frame.columns if c not in ("_src_row", "_ord")]
    columns = {c: [None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                   for v in frame[c].tolist()] for c in cols}  # fmt: skip
    field_of = project.maps["patients"].fields
    by_name = dic.by_name
    date_cols = {c for c in cols if by_name.get(field_of.get(c, ""), rc.Field("", "", "")).is_date}
    parsed = {
        c: [None if v is None else _dt.date.fromisoformat(v) for v in columns[c]] for c in date_cols
    }
    profiles = [profile_column(c, columns[c], ".", date_cols) for c in cols]
    mapping = map_columns(profiles, parsed)
    fixed = []
    for m in mapping:
        if m.canonical == "patient_id":
            m = ColumnChoice("patient_id", "patient_id",
                             f"the dictionary's first field {dic.first!r} (REDCap's record id)")  # fmt: skip
        elif m.canonical == "center" and "center" in cols:
            m = ColumnChoice("center", "center", "the data access group of each record (redcap_data_access_group)"
                             + (" with its display name from the groups file" if groups else ""))  # fmt: skip
        fixed.append(m)
    mapped = {c.canonical: c.source for c in fixed if c.source is not None}
    variables = _redcap_variables(profiles, mapped, project, catalog)

    rel = spec_dir or Path.cwd()
    boxes = []
    for f in dic.fields:
        if not f.is_checkbox or f.identifier:
            continue
        if f.form in forms:
            boxes.append(
                (
                    f.name,
                    "set",
                    f'{f.name!r} ({f.form}): its ticked choices as one column, joined by ";"',
                )
            )
        elif f.form in in_tables:
            boxes.append(
                (
                    f.name,
                    "set",
                    f'{f.name!r} ({f.form}): the ticked choices joined by ";" (the agents of a regimen are one cell)',
                )
            )
    n_groups = len({v for v in columns.get("center", []) if v is not None})
    groups_why = (
        f"The data access groups export: the display names of the {n_groups} groups become the center."
        if groups
        else (f"The {n_groups} data access groups are the centers, under their unique names; to show their "
              "display names, export the groups (Data Access Groups page) and name the file here."
              if "center" in cols else "The export has no data access group column: no center (map a field "
              "under [data.columns] center if one holds it).")
    )  # fmt: skip
    not_tables = ""
    if "labs" not in choices or "therapy" not in choices:
        left = [k for k in ("labs", "therapy") if k not in choices]
        cands = [f for f in rep_forms + elsewhere if f not in in_tables]
        not_tables = (
            f"No instrument was recognised as the {' or the '.join(left)} table"
            + (f" (candidates seen: {', '.join(cands)}; their fields are not named like date, test, value, unit or agents, start_date)"
               if cands else " (no repeating instrument or instrument of other events)")
            + f": add [data.redcap.{left[0]}] instrument = \"...\" and its columns if one holds it."
        )  # fmt: skip
    starter_redcap = RedcapStarter(
        records=_relative(records, rel), dictionary=_relative(dictionary, rel),
        groups=_relative(groups, rel) if groups else None, groups_why=groups_why,
        export=kind.export, export_why=f"Detected: {kind.why}.",
        baseline_event=baseline, baseline_why=baseline_why, forms=tuple(forms), forms_why=forms_why,
        checkboxes=tuple(boxes), labs=choices.get("labs"), therapy=choices.get("therapy"),
        not_tables=not_tables, id_field=dic.first,
        identifiers=tuple(f.name for f in dic.fields if f.identifier),
    )  # fmt: skip
    response = (
        ("labs", "Best response, progression, prior lines and refractoriness are derived from the lab "
         "and therapy instruments by IMWG 2016 rules (the recorded fields are kept as <name>_recorded); "
         'write source = "recorded" to analyse the recorded fields instead.')
        if "labs" in choices else None
    )  # fmt: skip
    baseline_vars = tuple(["center"] if "center" in cols else []) + tuple(
        v.name for v in variables if v.type in ("numeric", "categorical") and (v.levels or v.type == "numeric")
    )  # fmt: skip
    table1 = (baseline_vars, "Rows of the baseline table: the center and the patient table's "
              "coded and numeric fields, in the dictionary's order"
              + (" (with labs, the derived best response, prior lines and refractoriness; "
                 "the recorded ones stay out)" if "labs" in choices else "") + ".") if baseline_vars else None  # fmt: skip
    n_issues = sum(1 for i in project.issues if i.severity == "error")
    notes = [
        f"{records.name}: {project.n_records} records, {recs.n} rows; {dictionary.name}: {len(dic.fields)} fields in {len(dic.forms)} instruments."
    ]
    if n_issues:
        notes.append(
            f"The export has {n_issues} cell(s) or column(s) the dictionary does not explain: `mmrwe validate` lists them."
        )
    return StarterSpec(
        data_path=_relative(records, rel),
        source_note=f"{records.name} and {dictionary.name} (REDCap {kind.export} export, {project.n_records} records)",
        settings=tuple(settings), columns=tuple(fixed), variables=tuple(variables),
        title=f"Study of {records.stem}", notes=tuple(notes), redcap=starter_redcap,
        response_source=response, table1=table1,
    )  # fmt: skip


def _redcap_variables(
    profiles: Sequence[ColumnProfile], mapped: dict[str, str], project: Any, catalog: UnitCatalog
) -> list[VariableChoice]:
    """``[variables.NAME]`` of the patient table from the dictionary: type, choices in its
    order, label, and the unit named in the field note (or read from the values)."""
    by_name = project.dictionary.by_name
    field_of = project.maps["patients"].fields
    source_to_canon = {src: canon for canon, src in mapped.items()}
    out = []
    for p in profiles:
        canon = source_to_canon.get(p.name)
        if canon in ("patient_id", "center") or p.name in ("patient_id", "center"):
            continue
        name = canon or p.name
        f = by_name.get(field_of.get(p.name, ""))
        if f is None:
            continue
        label = f.label or None
        where = f"field {f.name!r} of instrument {f.form!r}"
        if p.name != f.name:  # one yes/no column per checkbox choice
            out.append(VariableChoice(name, f"{where}: one column per choice, yes or no", "categorical",
                                      ("no", "yes"), label=label))  # fmt: skip
        elif f.is_coded:
            levels = tuple(dict.fromkeys(lab for _, lab in f.codes()))
            choices = " | ".join(f"{c}, {lab}" for c, lab in f.codes())
            out.append(VariableChoice(name, f"{where} ({f.type}): choices {choices}; levels in the dictionary's order (the first is the reference)",
                                      "categorical", levels, label=label))  # fmt: skip
        elif f.is_checkbox:
            out.append(VariableChoice(name, f"{where} (checkbox): the ticked choices joined by \";\"",
                                      "categorical", label=label))  # fmt: skip
        elif f.is_date:
            if name in DATE_ROLES:
                continue
            out.append(
                VariableChoice(name, f"{where}: a date ({f.validation})", "date", label=label)
            )
        elif f.is_number or f.type == "slider":
            analyte = _analyte(f.name, catalog) or _analyte(f.label, catalog)
            unit, why = None, ""
            known = [u for u, _, _ in catalog.usual.get(analyte, ())] if analyte else []
            note_unit = next((u for u in known if u.lower() == f.note.strip().lower()), None)
            if note_unit is not None:
                unit, why = note_unit, f"{analyte}: the field note names the unit {note_unit}"
            elif analyte is not None:
                analyte, unit, why = guess_unit(f.name, p.numbers, catalog)
            rng = (
                f" (validation range {f.vmin or '-'} to {f.vmax or '-'})"
                if f.vmin or f.vmax
                else ""
            )
            why = f"{where}: {f.validation or f.type}{rng}" + (f"; {why}" if why else "")
            written = (
                analyte
                if analyte is not None and catalog.analyte_of(name) != analyte and unit
                else None
            )
            out.append(
                VariableChoice(name, why, "numeric", unit=unit, analyte=written, label=label)
            )
        else:
            if p.kind == "categorical" and p.n_distinct <= 20 and not p.all_unique:
                ordered, rule = order_levels(p.distinct)
                out.append(VariableChoice(name, f"{where}: free text with {p.n_distinct} distinct values; levels ordered: {rule}",
                                          "categorical", tuple(ordered), label=label))  # fmt: skip
            else:
                out.append(VariableChoice(name, f"{where}: text", p.kind if p.kind in ("numeric", "categorical") else None,
                                          label=label))  # fmt: skip
    return out
