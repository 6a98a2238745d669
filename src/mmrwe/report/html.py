"""Self-contained HTML report built from StudyResults only (inline CSS and SVG, no network)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from mmrwe.core.fileio import atomic_write
from mmrwe.figures.km import figure_svg, km_figure
from mmrwe.report.format import fmt_ci, fmt_num, fmt_p, fmt_pct
from mmrwe.results.model import StudyResults

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("mmrwe", "report/templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _by_time(mapping: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Items of a {time: value} mapping in numeric time order ("6" before "12")."""
    return sorted(mapping.items(), key=lambda kv: float(kv[0]))


_ENV.filters.update({"num": fmt_num, "pct": fmt_pct, "p": fmt_p, "by_time": _by_time})
_ENV.globals.update({"ci": fmt_ci})


def _km_svg(results: Mapping[str, Any], endpoint: str) -> str:
    r = results["endpoints"][endpoint]
    med = r["median"]
    fig = km_figure(
        {endpoint: r["curve"]},
        {endpoint: r["risk_table"]},
        time_unit=results["conventions"]["time_unit"],
        ylabel=f"{endpoint} probability",
        title=f"{'Progression-free' if endpoint == 'PFS' else 'Overall'} survival",
        annotation=f"Median {fmt_ci(med['estimate'], med['lower'], med['upper'])} {results['conventions']['time_unit']}; {r['events']} events / {r['n']} patients",
        medians={endpoint: med["estimate"]},
    )
    return figure_svg(fig)


def _group_svg(results: Mapping[str, Any], lr: Mapping[str, Any]) -> str | None:
    curves = lr.get("curves")
    if not curves:
        return None
    fig = km_figure(
        {f"{lr['by']}={g}": c["curve"] for g, c in curves.items()},
        {f"{lr['by']}={g}": c["risk_table"] for g, c in curves.items()},
        time_unit=results["conventions"]["time_unit"],
        ylabel=f"{lr['endpoint']} probability",
        title=f"{lr['endpoint']} by {lr['by']}"
        + (f" (stratified by {lr['strata']})" if lr.get("strata") else ""),
        annotation=f"Log-rank p = {fmt_p(lr.get('p'))}",
        medians={f"{lr['by']}={g}": c["median"]["estimate"] for g, c in curves.items()},
        show_ci=False,
    )
    return figure_svg(fig)


def render_html(results: StudyResults) -> str:
    """Render the report; every number is read from ``results``.

    Parameters
    ----------
    results : StudyResults
        The results tree (in memory or re-read from results.json: both render the same).

    Returns
    -------
    str
        A complete HTML document with no external references.
    """
    r = results.to_dict()
    figures = {ep: _km_svg(r, ep) for ep in r.get("endpoints", {})}
    group_figs = [_group_svg(r, lr) for lr in r.get("logrank", [])]
    template = _ENV.get_template("report.html.j2")
    return template.render(r=r, figures=figures, group_figs=group_figs)


def write_html(results: StudyResults, path: Path) -> Path:
    """Write ``report.html`` atomically."""
    atomic_write(path, render_html(results))
    return path
