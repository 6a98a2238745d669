"""Published versus reproduced: each ``[[published]]`` number beside the value in results.json.

:func:`published_comparison` is called by the pipeline after the analyses; its output is the
``published[]`` list of results.json, which the reports render as a table. It only looks values
up and takes differences; it fits nothing.

Quantity ids name the usual targets of a reproduction without a path into results.json:

=========================  =================================================  ============
id                         value (lower, upper) in results.json               kind
=========================  =================================================  ============
``n``                      ``cohort.n``                                       count
``median:EP``              ``endpoints.EP.median`` (estimate, lower, upper)   time
``median_symmetric:EP``    ``endpoints.EP.median_symmetric``                  time
``followup:EP``            ``endpoints.EP.followup``                          time
``landmark:EP:T``          ``endpoints.EP.landmarks.T`` (surv) x 100          percent
``proportion:NAME``        ``proportions[name=NAME]`` (estimate) x 100        percent
``count:VAR:LEVEL``        ``table1.rows[variable=VAR].overall.counts.LEVEL``  count
``percent:VAR:LEVEL``      ``table1.rows[variable=VAR].overall.percent.LEVEL`` percent
``response:CAT``           ``response.counts.CAT``                            count
``hr:cox:K:COEF``          ``cox[K].coefficients.COEF`` (hr, lower, upper)     ratio
``hr:cutpoint:K``          ``cutpoints[K].hr_low_vs_high`` (or predicted event) ratio
``cutpoint:K``             ``cutpoints[K].cutpoint``                          value
``p:logrank:K``            ``logrank[K].p``                                   p
=========================  =================================================  ============

``K`` is 1-based, in spec order (``[[cox]] 2`` is ``hr:cox:2:...``). Proportions are compared
as percentages, because papers print them so: write ``value = 30.6`` for "30.6 %".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_ESTIMATE_KEYS = ("estimate", "hr", "surv", "odds_ratio", "shr", "value", "rmst")


@dataclass(frozen=True, slots=True)
class _Target:
    path: tuple[str | int, ...]
    kind: str  # count | time | percent | ratio | value | p
    scale: float = 1.0


class _NotFound(Exception):
    """The quantity names something results.json does not hold."""


def _index(results: Mapping[str, Any], section: str, key: str, value: str) -> int:
    for i, e in enumerate(results.get(section) or []):
        if str(e.get(key)) == value:
            return i
    raise _NotFound(f"no {section}[] entry with {key} = {value!r}")


def _k(text: str, results: Mapping[str, Any], section: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{text!r} is not a 1-based position")
    k = int(text) - 1
    if k >= len(results.get(section) or []):
        raise _NotFound(f"results.json has no {section}[] entry number {text}")
    return k


def _t1_row(results: Mapping[str, Any], var: str) -> int:
    for i, r in enumerate((results.get("table1") or {}).get("rows") or []):
        if r.get("variable") == var:
            return i
    raise _NotFound(f"Table 1 has no row for {var!r}")


def _target(quantity: str, results: Mapping[str, Any]) -> _Target:
    """Where a quantity id points. ValueError: malformed id; _NotFound: absent from results."""
    head, _, rest = quantity.partition(":")
    args = rest.split(":") if rest else []
    if head == "n" and not args:
        return _Target(("cohort", "n"), "count")
    if head in ("median", "median_symmetric", "followup") and len(args) == 1:
        return _Target(("endpoints", args[0], head), "time")
    if head == "landmark" and len(args) == 2:
        return _Target(("endpoints", args[0], "landmarks", args[1]), "percent", 100.0)
    if head == "proportion" and len(args) == 1:
        return _Target(
            ("proportions", _index(results, "proportions", "name", args[0])), "percent", 100.0
        )
    if head in ("count", "percent") and len(args) == 2:
        i = _t1_row(results, args[0])
        key = "counts" if head == "count" else "percent"
        return _Target(
            ("table1", "rows", i, "overall", key, args[1]),
            "count" if head == "count" else "percent",
        )
    if head == "response" and len(args) == 1:
        return _Target(("response", "counts", args[0]), "count")
    if head == "hr" and len(args) == 3 and args[0] == "cox":
        return _Target(("cox", _k(args[1], results, "cox"), "coefficients", args[2]), "ratio")
    if head == "hr" and len(args) == 2 and args[0] == "cutpoint":
        k = _k(args[1], results, "cutpoints")
        c = (results.get("cutpoints") or [])[k]
        key = "hr_low_vs_high" if c.get("hr_low_vs_high") else "hr_predicted_event"
        return _Target(("cutpoints", k, key), "ratio")
    if head == "cutpoint" and len(args) == 1:
        return _Target(("cutpoints", _k(args[0], results, "cutpoints"), "cutpoint"), "value")
    if head == "p" and len(args) == 2 and args[0] == "logrank":
        return _Target(("logrank", _k(args[1], results, "logrank"), "p"), "p")
    raise ValueError(f"unknown quantity id {quantity!r}")


_FORMS = {
    "n": ("n",),
    "median": ("median:EP",),
    "median_symmetric": ("median_symmetric:EP",),
    "followup": ("followup:EP",),
    "landmark": ("landmark:EP:T",),
    "proportion": ("proportion:NAME",),
    "count": ("count:VAR:LEVEL",),
    "percent": ("percent:VAR:LEVEL",),
    "response": ("response:CAT",),
    "hr": ("hr:cox:K:COEF", "hr:cutpoint:K"),
    "cutpoint": ("cutpoint:K",),
    "p": ("p:logrank:K",),
}


def quantity_error(quantity: str) -> str | None:
    """Why ``quantity`` is not a valid id (None when it is): for checking a spec early."""
    parts = quantity.split(":")
    for form in _FORMS.get(parts[0], ()):
        fparts = form.split(":")
        if len(fparts) != len(parts) or not all(parts):
            continue
        if any(f.isupper() is False and f != p for f, p in zip(fparts, parts, strict=True)):
            continue
        if any(
            f == "K" and not (p.isdigit() and int(p) >= 1)
            for f, p in zip(fparts, parts, strict=True)
        ):
            return f"{quantity!r}: K must be a 1-based position, as in {form}"
        return None
    known = ", ".join(f for forms in _FORMS.values() for f in forms)
    return f"unknown quantity id {quantity!r} (known forms: {known})"


def _resolve(results: Mapping[str, Any], path: Sequence[str | int]) -> Any:
    node: Any = results
    for step in path:
        if isinstance(node, Mapping) and str(step) in node:
            node = node[str(step)]
        elif (
            isinstance(node, Sequence)
            and not isinstance(node, str)
            and str(step).lstrip("-").isdigit()
        ):
            node = node[int(step)]
        else:
            raise _NotFound(f"results.json has nothing at {'.'.join(map(str, path))}")
    return node


def _triple(node: Any) -> tuple[Any, Any, Any]:
    """(value, lower, upper) of a number or of a {estimate|hr|surv..., lower, upper} mapping."""
    if isinstance(node, Mapping):
        key = next((k for k in _ESTIMATE_KEYS if k in node), None)
        if key is None:
            raise _NotFound(f"no estimate among {', '.join(sorted(node))}")
        return node.get(key), node.get("lower"), node.get("upper")
    return node, None, None


def _num(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    if isinstance(x, int | float) and math.isfinite(float(x)):
        return float(x)
    return None


def _field(spec: Any, name: str, default: Any = None) -> Any:
    if isinstance(spec, Mapping):
        return spec.get(name, default)
    return getattr(spec, name, default)


def published_comparison(
    published_specs: Sequence[Any], results_dict: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Set each published number beside its reproduction in ``results_dict``.

    Parameters
    ----------
    published_specs : sequence of PublishedSpec or mapping
        The ``[[published]]`` entries (``name``, ``value``, ``lower``, ``upper``, ``source``,
        and ``quantity`` or ``path``; optional ``scale``), in spec order.
    results_dict : mapping
        results.json as a dict (the analyses already in it).

    Returns
    -------
    list of dict
        One entry per spec entry, in spec order, JSON-ready: ``name``, ``source``,
        ``quantity``, ``path`` (list), ``kind`` (count, time, percent, ratio, value, p),
        ``published`` and ``reproduced`` (``value``, ``lower``, ``upper``), ``difference``
        (reproduced - published), ``relative_difference`` (difference / published),
        ``published_in_reproduced_ci`` (the published value inside the reproduced CI),
        ``status`` (``ok``, ``not_estimable``, ``failed``), ``reason`` and ``spec_key``.
        A reproduced value that is null in results.json (not reached, not estimable) gives
        ``not_estimable``; a quantity that names nothing in results.json gives ``failed``.

    Examples
    --------
    >>> r = {"endpoints": {"PFS": {"median": {"estimate": 5.78, "lower": 3.6, "upper": 10.2}}}}
    >>> e = published_comparison([{"name": "Median PFS", "value": 5.8, "quantity": "median:PFS"}], r)[0]
    >>> e["reproduced"]["value"], round(e["difference"], 2), e["published_in_reproduced_ci"]
    (5.78, -0.02, True)
    """
    out: list[dict[str, Any]] = []
    for i, spec in enumerate(published_specs):
        quantity = _field(spec, "quantity")
        raw_path = _field(spec, "path")
        path = tuple(raw_path.split(".")) if isinstance(raw_path, str) else tuple(raw_path or ())
        scale = float(_field(spec, "scale", 1.0) or 1.0)
        pub = {k: _num(_field(spec, k)) for k in ("value", "lower", "upper")}
        entry: dict[str, Any] = {
            "name": str(_field(spec, "name", "")),
            "source": str(_field(spec, "source", "") or ""),
            "quantity": quantity,
            "path": None,
            "kind": None,
            "published": pub,
            "reproduced": {"value": None, "lower": None, "upper": None},
            "difference": None,
            "relative_difference": None,
            "published_in_reproduced_ci": None,
            "status": "ok",
            "reason": None,
            "spec_key": f"[[published]] {i + 1}",
        }
        try:
            if quantity:
                target = _target(str(quantity), results_dict)
                path, kind, scale = target.path, target.kind, target.scale * scale
            else:
                kind = "value"
            value, lower, upper = _triple(_resolve(results_dict, path))
        except (ValueError, _NotFound) as exc:
            entry.update(
                status="failed",
                reason=f"{exc}; fix: use a quantity id listed in mmrwe.tables.published or a path "
                "that exists in results.json",
                path=list(path) if path else None,
            )
            out.append(entry)
            continue
        rep = {
            k: (None if _num(v) is None else _num(v) * scale)  # type: ignore[operator]
            for k, v in (("value", value), ("lower", lower), ("upper", upper))
        }
        entry.update(path=list(path), kind=kind, reproduced=rep)
        if rep["value"] is None or pub["value"] is None:
            entry.update(
                status="not_estimable",
                reason="the reproduced value is not estimable (null in results.json)"
                if rep["value"] is None
                else "no published value",
            )
        else:
            diff = rep["value"] - pub["value"]
            entry["difference"] = diff
            entry["relative_difference"] = diff / pub["value"] if pub["value"] != 0 else None
            if rep["lower"] is not None and rep["upper"] is not None:
                entry["published_in_reproduced_ci"] = bool(
                    rep["lower"] <= pub["value"] <= rep["upper"]
                )
        out.append(entry)
    return out


__all__ = ["published_comparison", "quantity_error"]
