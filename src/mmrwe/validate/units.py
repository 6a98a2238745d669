"""Plausible ranges per analyte and unit (docs/clinical.md section 7), and unit conversions.

Ranges are engineering heuristics, not reference ranges: outside ``reject`` is almost surely
a unit or entry error (an error); outside ``warn`` is possible but unusual (a warning).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UnitRange:
    """Plausible values of one analyte in one unit."""

    analyte: str
    unit: str
    reject: tuple[float, float]
    warn: tuple[float, float] | None
    canonical_unit: str
    to_canonical: float  # multiply a value in ``unit`` by this to get ``canonical_unit``


def _u(unit: str) -> str:
    """Normalise a unit label: case, spaces, micro sign, 'per'."""
    s = unit.strip().replace("µ", "u").replace("μ", "u").replace(" ", "").lower()
    return s.replace("/24hours", "/24h").replace("/day", "/24h").replace("²", "2")


# Conversions from docs/clinical.md section 7: g/L = x10; mmol/L = x0.6206 (Hb); umol/L = x88.4
# (creatinine); mmol/L = x0.2495 (calcium); FLC mg/L = x10.
_RANGES: tuple[UnitRange, ...] = (
    UnitRange("hemoglobin", "g/dL", (3, 22), (6, 17), "g/dL", 1.0),
    UnitRange("hemoglobin", "g/L", (30, 220), (60, 170), "g/dL", 0.1),
    UnitRange(
        "hemoglobin",
        "mmol/L",
        (3 * 0.6206, 22 * 0.6206),
        (6 * 0.6206, 17 * 0.6206),
        "g/dL",
        1 / 0.6206,
    ),
    UnitRange("creatinine", "mg/dL", (0.1, 25), (0.4, 8), "mg/dL", 1.0),
    UnitRange(
        "creatinine", "umol/L", (0.1 * 88.4, 25 * 88.4), (0.4 * 88.4, 8 * 88.4), "mg/dL", 1 / 88.4
    ),
    UnitRange("calcium", "mg/dL", (4, 20), (7.5, 13), "mg/dL", 1.0),
    UnitRange(
        "calcium",
        "mmol/L",
        (4 * 0.2495, 20 * 0.2495),
        (7.5 * 0.2495, 13 * 0.2495),
        "mg/dL",
        1 / 0.2495,
    ),
    UnitRange("albumin", "g/dL", (0.5, 7), (2, 5.5), "g/dL", 1.0),
    UnitRange("albumin", "g/L", (5, 70), (20, 55), "g/dL", 0.1),
    UnitRange("beta2_microglobulin", "mg/L", (0.3, 150), (1, 30), "mg/L", 1.0),
    UnitRange("ldh", "U/L", (20, 10_000), (80, 2_000), "U/L", 1.0),
    UnitRange("ldh", "ukat/L", (20 / 60, 10_000 / 60), (80 / 60, 2_000 / 60), "U/L", 60.0),
    UnitRange("serum_m_protein", "g/dL", (0, 15), (0, 10), "g/dL", 1.0),
    UnitRange("serum_m_protein", "g/L", (0, 150), (0, 100), "g/dL", 0.1),
    UnitRange("urine_m_protein", "mg/24h", (0, 50_000), (0, 10_000), "mg/24h", 1.0),
    UnitRange("urine_m_protein", "g/24h", (0, 50), (0, 10), "mg/24h", 1000.0),
    UnitRange("flc", "mg/dL", (0, 100_000), (0, 20_000), "mg/dL", 1.0),
    UnitRange("flc", "mg/L", (0, 1_000_000), (0, 200_000), "mg/dL", 0.1),
    UnitRange("bm_plasma_cells", "%", (0, 100), None, "%", 1.0),
    UnitRange("age", "years", (18, 110), (30, 95), "years", 1.0),
    UnitRange("prior_lines", "count", (0, 25), (1, 12), "count", 1.0),
    UnitRange("egfr", "mL/min/1.73m2", (1, 200), (5, 130), "mL/min/1.73m2", 1.0),
)

_BY_KEY = {(r.analyte, _u(r.unit)): r for r in _RANGES}

# Which analyte a covariate measures, from its name or label.
_ANALYTE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^(hgb|hb|haemoglobin|hemoglobin)(_|$)|hemoglobin|haemoglobin", "hemoglobin"),
    (r"^(creat|creatinine|scr)(_|$)|creatinine", "creatinine"),
    (r"^(ca|calcium)(_|$)|calcium", "calcium"),
    (r"^(alb|albumin)(_|$)|albumin", "albumin"),
    (r"^(b2m|beta2m|beta2_microglobulin)(_|$)|microglobulin", "beta2_microglobulin"),
    (r"^ldh(_|$)|lactate", "ldh"),
    (r"^age(_|$)", "age"),
    (r"^(prior_lines|n_prior_lines|lines_prior)$", "prior_lines"),
    (r"^egfr(_|$)", "egfr"),
    (r"serum_m|m_protein|mspike|m_spike", "serum_m_protein"),
    (r"urine_m", "urine_m_protein"),
    (r"flc|kappa|lambda", "flc"),
    (r"bmpc|plasma_cells", "bm_plasma_cells"),
)


def analyte_of(name: str, label: str | None = None) -> str | None:
    """Guess the analyte of a covariate from its name (then its label); None if unknown."""
    for text in (name, label or ""):
        t = text.strip().lower().replace(" ", "_")
        for pattern, analyte in _ANALYTE_PATTERNS:
            if re.search(pattern, t):
                return analyte
    return None


def unit_range(analyte: str, unit: str) -> UnitRange | None:
    """Plausible range of ``analyte`` in ``unit``; None if the pair is unknown."""
    return _BY_KEY.get((analyte, _u(unit)))


def known_units(analyte: str) -> list[str]:
    """Units the validator knows for ``analyte``."""
    return [r.unit for r in _RANGES if r.analyte == analyte]


def likely_unit(analyte: str, value: float, declared: str) -> str | None:
    """The known unit, other than ``declared``, whose warn range holds ``value``."""
    for r in _RANGES:
        if r.analyte != analyte or _u(r.unit) == _u(declared):
            continue
        lo, hi = r.warn or r.reject
        if lo <= value <= hi:
            return r.unit
    return None
