"""Cox models per ``[[cox]]``, with the PH test, and Firth's penalty on monotone likelihood.

Two ways to the same estimator, chosen by size (recorded as ``computation`` in each entry):
up to :data:`COX_IN_MEMORY_MAX_ROWS` patients the design matrix is built in memory and
fitted by :func:`mmrwe.stats.cox.cox_fit`; above, the engine streams the design once to a
local file and :func:`mmrwe.stats.cox_scaled.cox_fit_chunked` reads it back in chunks at
each Newton step (the same Newton-Raphson, agreeing to ~1e-12), so memory stays bounded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError, MmrweError, SpecError
from mmrwe.spec.model import CoxSpec, StudySpec
from mmrwe.study.analyses.common import (
    add_evalue,
    cox_reasons,
    design_matrix,
    entries,
    rare_outcome,
    refuse_one_level,
)
from mmrwe.study.context import AnalysisContext

KEY = "cox"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Cox models"

#: Largest cohort whose Cox design is held in memory (``MMRWE_COX_IN_MEMORY_MAX_ROWS``).
COX_IN_MEMORY_MAX_ROWS = int(os.environ.get("MMRWE_COX_IN_MEMORY_MAX_ROWS", "2000000"))
#: Rows per chunk of a streamed Cox design.
COX_CHUNK_ROWS = 1_000_000


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: terms, strata, clusters and the endpoints' times and events."""
    out: set[str] = set()
    for cx in spec.cox:
        out |= set(cx.terms) | {c for c in (cx.strata, cx.cluster) if c}
        out |= {f"{cx.endpoint}_time_days", f"{cx.endpoint}_event"}
    return out


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``cox``: one entry per ``[[cox]]``, each in its own failure boundary."""
    return entries(ctx, "cox", ctx.spec.cox, cox_entry,
                   lambda cx: {"endpoint": cx.endpoint, "terms": list(cx.terms)})  # fmt: skip


def cox_entry(ctx: AnalysisContext, cx: CoxSpec) -> dict[str, Any]:
    """The results entry of one Cox model, computed in memory or in chunks by size."""
    needs_rows = cx.robust or cx.cluster is not None or cx.firth == "always"
    if ctx.n <= COX_IN_MEMORY_MAX_ROWS or needs_rows:
        from mmrwe.stats.cox import shared_layout

        with shared_layout():  # the model and its term tests' reduced models sort once
            entry = _cox_rows(ctx, cx)
    else:
        entry = _cox_chunked(ctx, cx)
    for w in entry["warnings"]:
        ctx.warnings.append(f"cox {cx.endpoint} ~ {' + '.join(cx.terms)}: {w}")
    coefs = entry.get("coefficients") or {}
    if coefs and all(c.get("coef") is None for c in coefs.values()):
        # R fits such a model and prints NA for every coefficient: nothing was estimated
        entry["status"] = "not_estimable"
        entry["reason"] = next(
            (w for w in entry["warnings"] if "singular" in w or "NA" in w),
            "no coefficient could be estimated",
        )
    _evalues(ctx, cx, entry)
    cox_reasons(entry)
    return entry


def _evalues(ctx: AnalysisContext, cx: CoxSpec, entry: dict[str, Any]) -> None:
    """E-value of every hazard ratio and of its confidence limit nearer to 1."""
    coefs = entry.get("coefficients") or {}
    if not coefs or entry.get("n") is None:
        return
    info = rare_outcome(ctx, cx.rare_outcome, int(entry["events"]), int(entry["n"]), "[[cox]]")
    entry["evalue_outcome"] = info
    for c in coefs.values():
        add_evalue(c, info["rare"])


def _base(cx: CoxSpec, n_excluded: int, info: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "endpoint": cx.endpoint,
        "terms": list(cx.terms),
        "ties": cx.ties,
        "n_excluded_missing": n_excluded,
        "strata": cx.strata,
        "term_info": info,
    }
    if cx.name:
        entry["name"] = cx.name
    return entry


def _finish(entry: dict[str, Any], fit: Any, caught: Iterable[Any]) -> None:
    d = fit.to_dict()
    entry.update({k: v for k, v in d.items() if k not in entry or k in ("n", "events")})
    seen = [str(w.message) for w in caught]
    entry["warnings"] = seen + [w for w in getattr(fit, "warnings", ()) if w not in seen]


def _separated(entry: dict[str, Any]) -> bool:
    return any(
        "infinite" in w or "monotone" in w.lower() or "separation" in w.lower()
        for w in entry["warnings"]
    )


def _cox_rows(ctx: AnalysisContext, cx: CoxSpec) -> dict[str, Any]:
    from mmrwe.stats.cox import cox_fit
    from mmrwe.stats.coxzph import cox_zph

    t, e = ctx.survival(cx.endpoint)
    extra = [c for c in (cx.strata, cx.cluster) if c]
    pop = ctx.population(cx.endpoint) if cx.endpoint in ctx.restricted else None
    X, names, keep, info = design_matrix(ctx, cx.terms, dict(cx.reference), extra, pop)
    _check_estimable(cx, int(keep.sum()), int(e[keep].sum()), info)
    strata = ctx.labels(cx.strata).to_numpy()[keep] if cx.strata else None
    cluster = ctx.labels(cx.cluster).to_numpy()[keep] if cx.cluster else None
    n_out = 0 if pop is None else int((~pop).sum())
    entry = _base(cx, int((~keep).sum()) - n_out, info)
    if pop is not None:
        entry["n_outside_population"] = n_out
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = cox_fit(
            t[keep], e[keep], X, names=names, ties=cx.ties, strata=strata, cluster=cluster,
            robust=cx.robust or cluster is not None,
        )  # fmt: skip
    _finish(entry, fit, caught)
    _null_constant_columns(entry, X, names)
    entry["computation"] = {"method": "in memory"}
    kind = cx.term_tests
    if kind is not None:
        from mmrwe.stats.cox_terms import cox_term_tests

        terms_of = _column_terms(cx.terms, names, info)
        _add_term_tests(
            entry,
            lambda: cox_term_tests(
                t[keep], e[keep], X, names, terms_of, kind=kind, full=fit,
                ties=cx.ties, strata=strata, cluster=cluster,
                robust=cx.robust or cluster is not None,
            ),
        )  # fmt: skip
    if cx.ph_test:
        try:
            entry["ph_test"] = cox_zph(fit, transform=cx.ph_transform).to_dict()
        except MmrweError as exc:
            entry["ph_test"] = None
            entry["ph_test_reason"] = exc.what
            entry["warnings"].append(f"PH test not computed: {exc.what}")
    if cx.firth == "always" or (cx.firth == "auto" and _separated(entry)):
        try:
            entry["firth"] = _firth(t[keep], e[keep], X, names, auto=cx.firth == "auto")
        except (MmrweError, np.linalg.LinAlgError, ArithmeticError) as exc:
            # the penalized fit needs an invertible information: with more columns than
            # the data support (a text column as a factor) it has none; the model stands
            why = getattr(exc, "what", None) or (
                "the penalized information matrix is singular (more coefficients than the "
                "data support)"
            )
            entry["firth"] = None
            entry["firth_reason"] = why
            entry["warnings"].append(f"Firth-penalized fit not computed: {why}")
    return entry


def _null_constant_columns(entry: dict[str, Any], X: np.ndarray, names: list[str]) -> None:
    """Null the coefficient of a design column that takes one value among the analysed rows.

    R gives NA for it. The fit finds such a column singular, except when another
    coefficient diverges: rounding can then leave an "estimate" of 0 with a standard error
    of 0 (or 2^26). Checked on the data, so no such number is ever reported.
    """
    if X.shape[0] == 0:
        return
    for name, flat in zip(names, np.all(X[:1] == X, axis=0), strict=True):
        c = entry["coefficients"].get(name)
        if flat and c is not None and c.get("coef") is not None:
            c.update(dict.fromkeys(c))
            entry["warnings"].append(
                f"{name} takes one value among the analysed patients: no coefficient (R gives NA)"
            )


def _column_terms(terms: Iterable[str], names: list[str], info: dict[str, Any]) -> list[str]:
    """The term of each design column: a factor's dummies ("sex=M") share its name."""
    out: list[str] = []
    for name in names:
        term = next(
            (
                t
                for t in terms
                if name == t
                or (info.get(t, {}).get("type") == "categorical" and name.startswith(f"{t}="))
            ),
            name,
        )
        out.append(term)
    return out


def _add_term_tests(entry: dict[str, Any], compute: Callable[[], Any], note: str = "") -> None:
    """``term_tests`` {term: {test, chisq, df, p, type}} and how they were computed; null with
    ``term_tests_reason`` when they cannot be computed (the model itself still stands)."""
    try:
        tt = compute()
    except MmrweError as exc:
        entry["term_tests"] = None
        entry["term_tests_reason"] = exc.what
        entry["warnings"].append(f"term tests not computed: {exc.what}")
        return
    entry["term_tests"] = tt.to_dict()
    entry["term_tests_method"] = tt.reason + note


def _check_estimable(cx: CoxSpec, n: int, events: int, info: dict[str, Any]) -> None:
    """A model the data cannot support is "not estimable", with the reason in words."""
    if n == 0:
        raise EstimationError(
            f"no patient has every term of the model ({', '.join(cx.terms)}) recorded",
            fix="check the terms for columns that are empty or missing for most patients",
        )
    if events == 0:
        raise EstimationError(f"no {cx.endpoint} events among the {n} patients analysed")
    refuse_one_level(info)


def _firth(
    time: np.ndarray, event: np.ndarray, X: np.ndarray, names: list[str], *, auto: bool
) -> dict[str, Any] | None:
    from mmrwe.stats.firth import firth_cox

    res = firth_cox(time, event, X, names=names).to_dict()
    res["note"] = (
        "monotone likelihood detected: Firth-penalized Cox (Heinze & Schemper 2001) with profile penalized-likelihood CIs reported alongside"
        if auto
        else "Firth-penalized Cox requested in the spec"
    )
    return res


@dataclass
class ChunkedDesign:
    """A Cox design spilled to disk for the chunked fit (see :class:`_Spill`)."""

    spill: _Spill
    names: list[str]
    terms_of: list[str]
    info: dict[str, Any]
    n_pop: int
    n_strata: int | None
    strata_levels: list[str]


def chunked_design(ctx: AnalysisContext, cx: CoxSpec) -> ChunkedDesign:
    """Build ``cx``'s design on the engine (dummies, strata codes) and spill it to disk.

    The caller closes ``.spill``. Strata are coded 0..K-1 in the order of
    ``strata_levels`` (labels sorted as text).
    """
    import ibis

    from mmrwe.engine.pushdown import label_expr

    t = ctx.table
    if cx.endpoint in ctx.restricted:
        t = t.filter(t[f"{cx.endpoint}_time_days"].notnull())
    n_pop = int(t.count().to_pyarrow().as_py()) if cx.endpoint in ctx.restricted else ctx.n
    keep = ibis.literal(True)
    for c in (*cx.terms, *[c for c in (cx.strata, cx.cluster) if c]):
        keep = keep & t[c].notnull()
        if ctx.types.get(c) == "numeric":
            keep = keep & ~t[c].isnan()
    kept = t.filter(keep)
    cols: dict[str, Any] = {}
    names: list[str] = []
    terms_of: list[str] = []
    info: dict[str, Any] = {}
    for term in cx.terms:
        if ctx.is_numeric(term):
            cols[f"_x{len(names)}"] = kept[term].cast("float64")
            names.append(term)
            terms_of.append(term)
            info[term] = {"type": "numeric", "unit": ctx.units.get(term)}
            continue
        lab = label_expr(kept[term], ctx.types.get(term) == "numeric")
        counts = kept.select(_v=lab).group_by("_v").aggregate(n=ibis._.count()).to_pyarrow()
        per_level = dict(zip(counts["_v"].to_pylist(), counts["n"].to_pylist(), strict=True))
        levels = ctx.levels(term, per_level)
        ref = dict(cx.reference).get(term, levels[0] if levels else None)
        if ref not in levels:
            raise SpecError(
                f"reference level {ref!r} of {term!r} does not occur among the analysed rows",
                fix=f"use one of: {', '.join(levels)}",
            )
        info[term] = {
            "type": "categorical",
            "reference": ref,
            "levels": levels,
            "n_per_level": {lv: int(per_level[lv]) for lv in levels},
        }
        for lv in levels:
            if lv == ref:
                continue
            cols[f"_x{len(names)}"] = (lab == lv).ifelse(1, 0).cast("float64")
            names.append(f"{term}={lv}")
            terms_of.append(term)
    refuse_one_level(info)  # as in memory: never a term dropped without a word
    n_strata: int | None = None
    s_levels: list[str] = []
    if cx.strata:
        slab = label_expr(kept[cx.strata], ctx.types.get(cx.strata) == "numeric")
        s_levels = sorted(kept.select(_v=slab).distinct().to_pyarrow()["_v"].to_pylist(), key=str)
        n_strata = len(s_levels)
        cols["_s"] = ibis.cases(*[(slab == lv, k) for k, lv in enumerate(s_levels)], else_=-1).cast(
            "int64"
        )
    design = kept.select(
        _t=kept[f"{cx.endpoint}_time_days"].cast("int64"),
        _e=kept[f"{cx.endpoint}_event"].ifelse(1, 0),
        **cols,
    )
    spill = _Spill(
        ctx.backend, design, len(names), with_strata=cx.strata is not None, dpu=ctx.days_per_unit
    )
    return ChunkedDesign(spill, names, terms_of, info, n_pop, n_strata, s_levels)


def _cox_chunked(ctx: AnalysisContext, cx: CoxSpec) -> dict[str, Any]:
    from mmrwe.stats.cox_scaled import cox_fit_chunked, cox_zph_chunked

    d = chunked_design(ctx, cx)
    spill, names, terms_of, info, n_pop, n_strata = (
        d.spill, d.names, d.terms_of, d.info, d.n_pop, d.n_strata,
    )  # fmt: skip
    try:
        entry = _base(cx, n_pop - spill.n, info)
        if cx.endpoint in ctx.restricted:
            entry["n_outside_population"] = ctx.n - n_pop
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            chunked = cox_fit_chunked(
                spill.source, names=names, ties=cx.ties, n_strata=n_strata, terms=terms_of,
                column_sums=spill.column_sums(),
            )  # fmt: skip
        _finish(entry, chunked.result, caught)
        if cx.term_tests is not None:
            from mmrwe.stats.cox_terms import cox_wald_term_tests

            asked = (
                ""
                if cx.term_tests == "II"
                else " (sequential tests were asked for; they need refits, so type II Wald "
                "tests are reported)"
            )
            _add_term_tests(
                entry,
                lambda: cox_wald_term_tests(chunked.result, terms_of),
                f"; the model was fitted in chunks ({spill.n} patients), where a "
                f"likelihood-ratio test would refit the model once per term{asked}",
            )
        if cx.ph_test:
            try:
                entry["ph_test"] = cox_zph_chunked(
                    chunked, spill.source, transform=cx.ph_transform
                ).to_dict()
            except MmrweError as exc:
                entry["ph_test"] = None
                entry["ph_test_reason"] = exc.what
                entry["warnings"].append(f"PH test not computed: {exc.what}")
            except np.linalg.LinAlgError:
                entry["ph_test"] = None
                entry["ph_test_reason"] = "singular information: the test cannot be computed"
                entry["warnings"].append("PH test not computed: singular information")
    finally:
        spill.close()
    entry["computation"] = {"method": "chunked", "chunk_rows": COX_CHUNK_ROWS}
    if cx.firth == "auto" and _separated(entry):
        entry["firth"] = None
        entry["warnings"].append(
            f"Firth-penalized fit not computed for {ctx.n} patients: it needs the design in "
            "memory (set MMRWE_COX_IN_MEMORY_MAX_ROWS above the cohort size to run it)"
        )
    return entry


def _float_column(col: Any) -> np.ndarray:
    """An Arrow column as float64 numbers, converted by Arrow: an engine may type a number
    as a decimal (DuckDB, PostgreSQL and Spark read ``1.0`` as DECIMAL), which numpy would
    receive as Python objects (4.7 s of 6 s spilling a 1e7-row design)."""
    import pyarrow as pa

    if not pa.types.is_floating(col.type):
        col = col.cast(pa.float64())
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


class _Spill:
    """The Cox design (time, event, [stratum], X) streamed once to a local binary file.

    Every Newton step reads it back in chunks of :data:`COX_CHUNK_ROWS` rows, so the
    engine is queried once per model and Python holds one chunk at a time.
    """

    def __init__(self, be: Any, design: Any, p: int, *, with_strata: bool, dpu: float) -> None:
        from mmrwe.engine.pushdown import iter_batches

        self.p, self.with_strata, self.dpu = p, with_strata, dpu
        self.width = 2 + p + (1 if with_strata else 0)
        self.dir = Path(tempfile.mkdtemp(prefix="mmrwe-cox-"))
        self.path = self.dir / "design.f64"
        self.n = 0
        names = ["_t", "_e"] + (["_s"] if with_strata else []) + [f"_x{j}" for j in range(p)]
        off = self.width - p
        self.x_sums = np.zeros(p)
        self.zero_one = np.ones(p, dtype=bool)
        with self.path.open("wb") as fh:
            for batch in iter_batches(be, design.select(*names), COX_CHUNK_ROWS):
                if batch.num_rows == 0:
                    continue
                block = np.empty((batch.num_rows, self.width), dtype=np.float64)
                for j, name in enumerate(names):
                    block[:, j] = _float_column(batch.column(name))
                block.tofile(fh)
                self.n += batch.num_rows
                x = block[:, off:]
                self.x_sums += x.sum(axis=0)
                self.zero_one &= np.all((x == 0.0) | (x == 1.0) | (x == -1.0), axis=0)

    def column_sums(self) -> Any:
        """The rows' column sums, for :func:`~mmrwe.stats.cox_scaled.cox_fit_chunked`."""
        from mmrwe.stats.cox_scaled import ColumnSums

        return ColumnSums(self.n, self.x_sums.copy(), self.zero_one.copy())

    def _blocks(self) -> Iterator[Any]:
        """The file's rows, :data:`COX_CHUNK_ROWS` at a time, as (rows, width) arrays."""
        with self.path.open("rb") as fh:
            while True:
                block = np.fromfile(fh, dtype=np.float64, count=COX_CHUNK_ROWS * self.width)
                if block.size == 0:
                    return
                yield block.reshape(-1, self.width)

    def source(self) -> Iterable[tuple[Any, Any, Any, Any]]:
        off = 3 if self.with_strata else 2
        for block in self._blocks():
            strata = block[:, 2].astype(np.int64) if self.with_strata else None
            yield block[:, 0] / self.dpu, block[:, 1] > 0, block[:, off:], strata

    def by_stratum(self, n_strata: int) -> Iterator[tuple[int, Any, Any, Any]]:
        """Each stratum's (time, event, X) in memory, one stratum at a time.

        One pass over the file splits its rows into a file per stratum (in the file's
        order); each is then read back whole, so memory holds one stratum's rows.
        """
        if not self.with_strata:
            raise ValueError("the design has no strata")
        paths = [self.dir / f"stratum{k}.f64" for k in range(n_strata)]
        for block in self._blocks():
            codes = block[:, 2].astype(np.int64)
            order = np.argsort(codes, kind="stable")
            present, starts = np.unique(codes[order], return_index=True)
            ends = [*starts[1:], codes.size]
            for k, a, b in zip(present.tolist(), starts.tolist(), ends, strict=True):
                if 0 <= k < n_strata:
                    with paths[k].open("ab") as out:
                        block[order[a:b]].tofile(out)
        for k, path in enumerate(paths):
            if not path.exists():
                continue
            block = np.fromfile(path, dtype=np.float64).reshape(-1, self.width)
            path.unlink()
            yield k, block[:, 0] / self.dpu, block[:, 1] > 0, np.ascontiguousarray(block[:, 3:])

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
