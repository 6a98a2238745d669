"""Small hand-made results.json trees for renderer tests (no estimation: the numbers are typed
in, so a test can compare what is printed with what was put in)."""

from __future__ import annotations

import copy
from typing import Any


def curve(steps: list[tuple[float, float, int, int]], n: int, band: float = 0.1) -> dict[str, Any]:
    """A stored KM curve from (time, surv, n_event, n_censor) steps; the band is surv +- band."""
    n_risk, at = [], n
    for _, _, ev, ce in steps:
        n_risk.append(at)
        at -= ev + ce
    return {
        "time": [s[0] for s in steps],
        "surv": [s[1] for s in steps],
        "n_event": [s[2] for s in steps],
        "n_censor": [s[3] for s in steps],
        "n_risk": n_risk,
        "lower": [max(0.0, s[1] - band) for s in steps],
        "upper": [min(1.0, s[1] + band) for s in steps],
    }


def group(steps, n, risk, median=None, landmarks=None) -> dict[str, Any]:
    return {
        "curve": curve(steps, n),
        "risk_table": {"times": [0.0, 6.0, 12.0, 18.0], "n_risk": risk},
        "median": {"estimate": median, "lower": None, "upper": None},
        "landmarks": landmarks or {},
    }


A_STEPS = [
    (2.0, 0.9, 1, 0),
    (5.0, 0.8, 1, 1),
    (9.0, 0.6, 2, 0),
    (14.0, 0.5, 1, 1),
    (18.0, 0.5, 0, 1),
]
B_STEPS = [
    (1.0, 0.8, 2, 0),
    (3.0, 0.6, 2, 0),
    (6.0, 0.4, 2, 1),
    (10.0, 0.3, 1, 0),
    (16.0, 0.3, 0, 1),
]
C_STEPS = [
    (1.0, 0.7, 3, 0),
    (2.0, 0.4, 3, 0),
    (4.0, 0.2, 2, 0),
    (7.0, 0.1, 1, 0),
    (12.0, 0.1, 0, 1),
]


def minimal_results() -> dict[str, Any]:
    """A three-level factor ``grp`` (a, b, c) with PFS curves, a log-rank entry, the matching
    univariable Cox model with an overall test, and a two-variable model."""
    r: dict[str, Any] = {
        "schema_version": 1,
        "study": {"title": "Hand-made results", "synthetic": False},
        "software": {"mmrwe": "test"},
        "conventions": {
            "time_unit": "months",
            "km_conf_level": 0.95,
            "km_conf_type": "log-log",
            "cox_ties": "efron",
            "ph_transform": "km",
            "alpha": 0.05,
        },
        "cohort": {"n": 30, "n_excluded": 0, "n_input_rows": 30, "centers": {"A": 16, "B": 14}},
        "variables": {
            "grp": {"label": "Risk group", "type": "categorical"},
            "ISS": {"type": "categorical"},
            "age": {"label": "Age", "type": "numeric", "unit": "years"},
        },
        "endpoints": {
            "PFS": {
                "n": 30,
                "events": 21,
                "censored": 9,
                "median": {"estimate": 6.0, "lower": 3.0, "upper": None},
                "landmarks": {
                    "12": {"surv": 0.3, "lower": 0.15, "upper": 0.47, "n_risk": 8},
                    "24": {"surv": None, "lower": None, "upper": None, "n_risk": 0},
                },
                "followup": {"estimate": 14.0, "lower": 11.0, "upper": None},
                "curve": curve([*A_STEPS, (19.0, 0.5, 0, 0)], 30),
                "risk_table": {"times": [0.0, 6.0, 12.0, 18.0], "n_risk": [30, 20, 12, 5]},
            }
        },
        "logrank": [
            {
                "endpoint": "PFS",
                "by": "grp",
                "strata": None,
                "levels": ["a", "b", "c"],
                "groups": ["a", "b", "c"],
                "n": {"a": 10, "b": 10, "c": 10},
                "observed": {"a": 5, "b": 7, "c": 9},
                "chisq": 8.9,
                "df": 2,
                "p": 0.0117,
                "curves": {
                    "a": group(
                        A_STEPS, 10, [10, 8, 4, 2], 14.0, {"12": {"surv": 0.5, "n_risk": 4}}
                    ),
                    "b": group(B_STEPS, 10, [10, 5, 2, 0], 6.0, {"12": {"surv": 0.3, "n_risk": 2}}),
                    "c": group(
                        C_STEPS, 10, [10, 2, 0, 0], 2.0, {"12": {"surv": None, "n_risk": 0}}
                    ),
                },
                "status": "ok",
                "reason": None,
                "spec_key": "[[logrank]] 1",
            }
        ],
        "cox": [
            {
                "endpoint": "PFS",
                "terms": ["grp"],
                "strata": None,
                "n": 30,
                "events": 21,
                "conf_level": 0.95,
                "coefficients": {
                    "grp=b": {"hr": 1.5, "lower": 0.8, "upper": 2.8125, "p": 0.2071, "coef": 0.405},
                    "grp=c": {"hr": 3.25, "lower": 1.1, "upper": 9.6, "p": 0.0329, "coef": 1.18},
                },
                "term_info": {
                    "grp": {
                        "type": "categorical",
                        "levels": ["a", "b", "c"],
                        "reference": "a",
                        "n_per_level": {"a": 10, "b": 10, "c": 10},
                    }
                },
                "term_tests": {"grp": {"test": "Wald", "chisq": 6.8, "df": 2, "p": 0.0334}},
                "tests": {"lr": {"chisq": 7.1, "df": 2, "p": 0.0287}},
                "status": "ok",
                "reason": None,
                "spec_key": "[[cox]] 1",
            },
            {
                "endpoint": "PFS",
                "terms": ["age", "ISS"],
                "strata": None,
                "n": 30,
                "events": 21,
                "conf_level": 0.95,
                "coefficients": {
                    "ISS=II": {"hr": 1.25, "lower": None, "upper": 3.5, "p": None},
                    "age": {"hr": 1.02, "lower": 0.99, "upper": 1.05, "p": 0.1875},
                },
                "term_info": {
                    "age": {"type": "numeric"},
                    "ISS": {
                        "type": "categorical",
                        "levels": ["I", "II"],
                        "reference": "I",
                        "n_per_level": {"I": 14, "II": 16},
                    },
                },
                "status": "ok",
                "reason": None,
                "spec_key": "[[cox]] 2",
            },
        ],
        "report_options": {"small_cell_k": 0},
    }
    return copy.deepcopy(r)


def subgroup_entry() -> dict[str, Any]:
    """A ``subgroups[]`` entry as contract 5.4 names it (interaction as a list, one per ``by``)."""
    return {
        "endpoint": "PFS",
        "effect": "grp2",
        "effect_levels": ["low", "high"],
        "by": ["ISS", "sex"],
        "levels": [
            {
                "by": "sex",
                "level": "M",
                "n": 14,
                "events": 10,
                "hr": 2.5,
                "lower": 1.0,
                "upper": 6.25,
                "p": 0.05,
            },
            {
                "by": "ISS",
                "level": "II",
                "n": 16,
                "events": 12,
                "hr": 1.75,
                "lower": 0.7,
                "upper": 4.375,
                "p": 0.23,
            },
            {
                "by": "ISS",
                "level": "I",
                "n": 14,
                "events": 9,
                "hr": 2.0,
                "lower": 0.5,
                "upper": 8.0,
                "p": 0.33,
            },
            {
                "by": "sex",
                "level": "F",
                "n": 16,
                "events": 11,
                "hr": None,
                "lower": None,
                "upper": None,
                "p": None,
            },
        ],
        "interaction": [
            {"by": "ISS", "test": "likelihood ratio", "chisq": 0.12, "df": 1, "p": 0.729},
            {"by": "sex", "test": "likelihood ratio", "chisq": 2.2, "df": 1, "p": 0.138},
        ],
        "status": "ok",
        "reason": None,
        "spec_key": "[[subgroup]] 1",
    }
