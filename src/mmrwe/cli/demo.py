"""The embedded SYNTHETIC demo cohort and its published-vs-reproduced comparison."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

DEMO_FILES = ("study.toml", "patients.csv", "labs.csv", "therapy.csv")

# Martino et al., Hematol Oncol 2025;43(2):e70042 (abstract)
PUBLISHED: dict[str, str] = {
    "patients": "51",
    "age < 70 years": "31 (60.8 %)",
    "female": "29 (56.9 %)",
    "triple-class refractory": "38 (74.5 %)",
    "FISH available / high-risk": "28 / 9 (32.1 %)",
    "sCR / CR / VGPR / PR": "3 / 4 / 7 / 15",
    "ORR": "56.9 %",
    "median PFS (95 % CI)": "5.8 (3.9-7.7)",
    "12-month PFS": "30.6 %",
    "median OS": "21.0",
    "12-month OS": "63.4 %",
    "median follow-up": "16.8",
    "Hb cut-off for PFS": "11.8 g/dL (ROC)",
    "PFS HR, Hb low vs high": "about 3.5",
}


def demo_dir() -> Path:
    """Folder of the demo files inside the installed package."""
    return Path(str(resources.files("mmrwe") / "data" / "demo"))


def copy_demo_inputs(dest: Path) -> Path:
    """Copy the demo spec and data to ``dest`` and return the spec path."""
    dest.mkdir(parents=True, exist_ok=True)
    src = demo_dir()
    for name in DEMO_FILES:
        shutil.copyfile(src / name, dest / name)
    return dest / "study.toml"


def _pct(x: float | None) -> str:
    return "NR" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None, d: int = 1) -> str:
    return "NR" if x is None else f"{x:.{d}f}"


def published_vs_reproduced(results: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Rows of (quantity, published, reproduced) for the demo's terminal table."""
    t1 = {row["variable"]: row for row in (results.get("table1") or {}).get("rows", [])}

    def count(var: str, level: str) -> int:
        row = t1.get(var)
        if not row:
            return 0
        return int(row["overall"]["counts"].get(level, 0))

    n = results["cohort"]["n"]
    pfs, os_ = results["endpoints"]["PFS"], results["endpoints"]["OS"]
    props = {p["name"]: p for p in results.get("proportions", [])}
    orr = props.get("ORR", {})
    sym = pfs.get("median_symmetric", {})
    cut = next(
        (
            c
            for c in results.get("cutpoints", [])
            if c.get("variable") == "hgb"
            and c.get("endpoint") == "PFS"
            and c.get("method") == "maxstat"
        ),
        None,
    )
    tested = count("fish_risk", "high") + count("fish_risk", "standard")
    rep: dict[str, str] = {
        "patients": str(n),
        "age < 70 years": f"{count('age_group', '<70')} ({100 * count('age_group', '<70') / n:.1f} %)",
        "female": f"{count('sex', 'F')} ({100 * count('sex', 'F') / n:.1f} %)",
        "triple-class refractory": f"{count('tcr', 'yes')} ({100 * count('tcr', 'yes') / n:.1f} %)",
        "FISH available / high-risk": f"{tested} / {count('fish_risk', 'high')} ({100 * count('fish_risk', 'high') / max(tested, 1):.1f} %)",
        "sCR / CR / VGPR / PR": " / ".join(
            str(count("best_response", k)) for k in ("sCR", "CR", "VGPR", "PR")
        ),
        "ORR": _pct(orr.get("estimate")),
        "median PFS (95 % CI)": f"{_num(pfs['median']['estimate'])} ({_num(pfs['median']['lower'])}-{_num(pfs['median']['upper'])}, log-log band); "
        f"symmetric SPSS-style: {_num(sym.get('lower'))}-{_num(sym.get('upper'))}",
        "12-month PFS": _pct(pfs["landmarks"].get("12", {}).get("surv")),
        "median OS": _num(os_["median"]["estimate"]),
        "12-month OS": _pct(os_["landmarks"].get("12", {}).get("surv")),
        "median follow-up": _num(os_.get("followup", {}).get("estimate")) + " (reverse KM)",
        "Hb cut-off for PFS": "n/a"
        if cut is None
        else f"{_num(cut.get('cutpoint'))} g/dL (maxstat; Lau94 p {_num(cut.get('p_adjusted'), 3)})",
        "PFS HR, Hb low vs high": "n/a"
        if cut is None or not cut.get("hr_low_vs_high")
        else _num(cut["hr_low_vs_high"]["hr"], 2),
    }
    return [(k, PUBLISHED[k], rep[k]) for k in PUBLISHED]
