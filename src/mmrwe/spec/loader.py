"""Strict TOML loader for the study spec (contract section 3).

Unknown keys are rejected with the key path and a suggestion; types and allowed values are
checked here, so later stages can trust the spec.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mmrwe.core.errors import InputError, Location, SpecError
from mmrwe.spec.model import (
    CompareProportionSpec,
    CoxSpec,
    CutpointSpec,
    DataSection,
    DeriveSpec,
    DuplicateDecision,
    ExclusionSpec,
    KmSection,
    LogrankSpec,
    PoolingSection,
    ProportionSpec,
    PseudonymizeSection,
    PublishedSpec,
    ReportSection,
    ResponseSection,
    SiteSpec,
    StudySection,
    StudySpec,
    Table1Spec,
    ValidationSection,
    VariableSpec,
)

TOP_LEVEL = {
    "study",
    "data",
    "variables",
    "response",
    "km",
    "derive",
    "proportion",
    "compare_proportion",
    "logrank",
    "cox",
    "cutpoint",
    "table1",
    "validation",
    "cohort",
    "report",
    "published",
    "sites",
    "pooling",
    "pseudonymize",
}


# Builtin aliases: _Section has methods named str and bool, which would shadow them in
# annotations evaluated in the class body.
_Str = str
_Bool = bool


class _Section:
    """Typed access to one TOML table, recording which keys were read."""

    def __init__(self, table: Any, key_path: _Str, file: Path):
        if not isinstance(table, Mapping):
            raise SpecError(
                f"{key_path or 'spec'} must be a table",
                where=Location(file=str(file), spec_key=key_path),
                fix="write it as [section] with key = value lines",
            )
        self.table: Mapping[str, Any] = table
        self.key_path = key_path
        self.file = file

    def _where(self, key: _Str) -> Location:
        return Location(
            file=str(self.file), spec_key=f"{self.key_path}.{key}" if self.key_path else key
        )

    def reject_unknown(self, allowed: set[str]) -> None:
        for key in sorted(set(self.table) - allowed):
            near = difflib.get_close_matches(key, sorted(allowed), n=1)
            raise SpecError(
                f"unknown key {key!r} in the study spec",
                where=self._where(key),
                fix=f"did you mean {near[0]!r}?"
                if near
                else f"allowed here: {', '.join(sorted(allowed))}",
            )

    def has(self, key: _Str) -> _Bool:
        return key in self.table

    def str(
        self,
        key: _Str,
        default: Any = None,
        *,
        required: _Bool = False,
        choices: Sequence[_Str] | None = None,
    ) -> Any:
        if key not in self.table:
            if required:
                raise SpecError(
                    f"missing required key {key!r}",
                    where=self._where(key),
                    fix=f'add {key} = "..."',
                )
            return default
        v = self.table[key]
        if not isinstance(v, str):
            raise SpecError(
                f"{key} must be a string, got {v!r}",
                where=self._where(key),
                fix=f'write {key} = "..."',
            )
        if choices is not None and v not in choices:
            near = difflib.get_close_matches(v, list(choices), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise SpecError(
                f"{key} = {v!r} is not one of {', '.join(map(repr, choices))}",
                where=self._where(key),
                fix=f"{hint}use one of {', '.join(map(repr, choices))}",
            )
        return v

    def num(
        self,
        key: _Str,
        default: Any = None,
        *,
        lo: float | None = None,
        hi: float | None = None,
        integer: _Bool = False,
    ) -> Any:
        if key not in self.table:
            return default
        v = self.table[key]
        ok = isinstance(v, int | float) and not isinstance(v, bool)
        if integer:
            ok = isinstance(v, int) and not isinstance(v, bool)
        if not ok:
            kind = "an integer" if integer else "a number"
            raise SpecError(
                f"{key} must be {kind}, got {v!r}",
                where=self._where(key),
                fix=f"write {key} = <{kind}>",
            )
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise SpecError(
                f"{key} = {v} is outside the allowed range [{lo}, {hi}]",
                where=self._where(key),
                fix=f"use a value between {lo} and {hi}",
            )
        return int(v) if integer else float(v)

    def bool(self, key: _Str, default: _Bool) -> _Bool:
        if key not in self.table:
            return default
        v = self.table[key]
        if not isinstance(v, bool):
            raise SpecError(
                f"{key} must be true or false, got {v!r}",
                where=self._where(key),
                fix=f"write {key} = true",
            )
        return v

    def str_list(self, key: _Str, default: Any = None, *, required: _Bool = False) -> Any:
        if key not in self.table:
            if required:
                raise SpecError(
                    f"missing required key {key!r}",
                    where=self._where(key),
                    fix=f'add {key} = ["..."]',
                )
            return default
        v = self.table[key]
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(
            isinstance(x, str | int | float) and not isinstance(x, bool) for x in v
        ):
            raise SpecError(
                f"{key} must be a list of strings, got {v!r}",
                where=self._where(key),
                fix=f'write {key} = ["a", "b"]',
            )
        return tuple(str(x) for x in v)

    def num_list(self, key: _Str, default: Any = None) -> Any:
        if key not in self.table:
            return default
        v = self.table[key]
        if not isinstance(v, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in v
        ):
            raise SpecError(
                f"{key} must be a list of numbers, got {v!r}",
                where=self._where(key),
                fix=f"write {key} = [12, 24]",
            )
        return tuple(float(x) for x in v)

    def sub(self, key: _Str) -> _Section:
        return _Section(
            self.table.get(key, {}), f"{self.key_path}.{key}" if self.key_path else key, self.file
        )

    def array(self, key: _Str) -> list[_Section]:
        if key not in self.table:
            return []
        v = self.table[key]
        if isinstance(v, Mapping):
            v = [v]
        if not isinstance(v, list):
            raise SpecError(
                f"{key} must be an array of tables",
                where=self._where(key),
                fix=f"write each entry as [[{key}]]",
            )
        return [_Section(item, f"{key}[{i}]", self.file) for i, item in enumerate(v)]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_spec(path: str | Path) -> StudySpec:
    """Read and check a study spec TOML file.

    Parameters
    ----------
    path : str or Path
        The ``study.toml`` file. Data paths inside it are relative to its folder.

    Returns
    -------
    StudySpec
        Frozen, fully checked spec.

    Raises
    ------
    InputError
        The file is missing or not valid TOML.
    SpecError
        An unknown key, a wrong type, a value outside its allowed set.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"study spec not found: {p}",
            where=Location(file=str(p)),
            fix="check the path; run `mmrwe demo --out DIR` for an example spec",
        )
    raw_bytes = p.read_bytes()
    try:
        doc = tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"study spec is not UTF-8 text: {exc}",
            where=Location(file=str(p)),
            fix="save the file as UTF-8",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"study spec is not valid TOML: {exc}",
            where=Location(file=str(p)),
            fix="check quotes, brackets and '=' on the line named above",
        ) from None
    return parse_spec(doc, path=p, sha256=hashlib.sha256(raw_bytes).hexdigest())


def parse_spec(doc: Mapping[str, Any], *, path: Path, sha256: str = "") -> StudySpec:
    """Build a :class:`StudySpec` from an already-parsed TOML document."""
    root = _Section(doc, "", path)
    root.reject_unknown(TOP_LEVEL)
    base = path.parent

    s = root.sub("study")
    s.reject_unknown({"title", "time_unit", "alpha", "description", "synthetic"})
    study = StudySection(
        title=s.str("title", "Untitled study"),
        time_unit=s.str("time_unit", "months", choices=("days", "months", "years")),
        alpha=s.num("alpha", 0.05, lo=1e-6, hi=0.5),
        description=s.str("description", ""),
        synthetic=s.bool("synthetic", False),
    )

    if "data" not in doc and "sites" not in doc:
        raise SpecError(
            "the study spec has no [data] table",
            where=Location(file=str(path), spec_key="data"),
            fix='add [data] with patients = "patients.csv"',
        )
    d = root.sub("data")
    d.reject_unknown(
        {
            "patients",
            "labs",
            "therapy",
            "columns",
            "date_format",
            "sheet",
            "delimiter",
            "decimal",
            "encoding",
            "missing_values",
            "engine",
            "table",
            "format",
            "omop",
        }
    )
    cols = d.sub("columns")
    column_pairs: list[tuple[str, str]] = []
    for canonical in cols.table:
        column_pairs.append((canonical, cols.str(canonical, required=True)))
    date_format = d.str("date_format", "%Y-%m-%d")
    if "%" not in date_format:
        raise SpecError(
            f"date_format {date_format!r} has no strftime directives",
            where=Location(file=str(path), spec_key="data.date_format"),
            fix='use e.g. "%Y-%m-%d" (ISO) or "%d/%m/%Y" (day/month/year)',
        )
    labs = d.str("labs")
    therapy = d.str("therapy")
    # A pooling spec may leave out [data] patients: `mmrwe pool` reads the [[sites]] files,
    # and `mmrwe analyze` then reads the pooled table written as pooled_patients.csv.
    patients = d.str("patients", required="sites" not in doc) or "pooled_patients.csv"
    # engine/url/table/format/omop: the scaled path (mmrwe.cli.pipeline_scaled); a patients
    # value with "://" is a database URL, kept as text (a Path would fold its "//").
    engine = d.str("engine", "pandas", choices=("pandas", "duckdb", "postgres", "spark"))
    url = patients if "://" in patients else None
    data_format = d.str("format", "canonical", choices=("canonical", "omop"))
    omop_sec = d.sub("omop")
    omop_sec.reject_unknown({"regimen", "mapping", "schema", "labs"})
    omop_opts = tuple((k, omop_sec.str(k, required=True)) for k in omop_sec.table)
    if (url is not None or data_format == "omop") and engine == "pandas":
        raise SpecError(
            "a database URL or OMOP input needs a database engine",
            where=Location(file=str(path), spec_key="data.engine"),
            fix='add engine = "duckdb" (or "postgres", "spark") under [data]',
        )
    data = DataSection(
        patients=base / (d.str("table", None) or "patients") if url else base / patients,
        labs=base / labs if labs else None,
        therapy=base / therapy if therapy else None,
        columns=tuple(column_pairs),
        date_format=date_format,
        sheet=d.str("sheet"),
        delimiter=d.str("delimiter"),
        decimal=d.str("decimal", ".", choices=(".", ",")),
        encoding=d.str("encoding", "utf-8"),
        missing_values=d.str_list(
            "missing_values", DataSection.__dataclass_fields__["missing_values"].default
        ),
        engine=engine,
        url=url,
        table=d.str("table"),
        format=data_format,
        omop=omop_opts,
    )

    variables: list[VariableSpec] = []
    vroot = root.sub("variables")
    for name in vroot.table:
        v = vroot.sub(name)
        v.reject_unknown({"unit", "label", "type", "levels", "analyte"})
        variables.append(
            VariableSpec(
                name=name,
                unit=v.str("unit"),
                label=v.str("label"),
                type=v.str("type", None, choices=("numeric", "categorical", "date")),
                levels=v.str_list("levels"),
                analyte=v.str("analyte"),
            )
        )

    r = root.sub("response")
    r.reject_unknown(
        {
            "source",
            "criteria",
            "baseline_window_days",
            "measurable_serum_g_dl",
            "refractory_threshold",
            "refractory_window_days",
            "unconfirmed_pd_is_event",
            "unconfirmed_pd_bor",
            "scr_without_clonality",
            "steroid_change_opens_line",
            "regimen_merge_days",
        }
    )
    response = ResponseSection(
        source=r.str("source", "recorded", choices=("recorded", "labs")),
        criteria=r.str("criteria", "imwg2016", choices=("imwg2016",)),
        baseline_window_days=r.num("baseline_window_days", 30, lo=0, hi=3650, integer=True),
        measurable_serum_g_dl=r.num("measurable_serum_g_dl", 1.0, lo=0.5, hi=1.0),
        refractory_threshold=r.str("refractory_threshold", "MR", choices=("MR", "PR")),
        refractory_window_days=r.num("refractory_window_days", 60, lo=0, hi=3650, integer=True),
        unconfirmed_pd_is_event=r.bool("unconfirmed_pd_is_event", False),
        unconfirmed_pd_bor=r.str("unconfirmed_pd_bor", "PD", choices=("PD", "NE")),
        scr_without_clonality=r.str("scr_without_clonality", "CR", choices=("CR", "flc_ratio")),
        steroid_change_opens_line=r.bool("steroid_change_opens_line", False),
        regimen_merge_days=r.num("regimen_merge_days", 30, lo=0, hi=365, integer=True),
    )
    if response.source == "labs" and data.labs is None:
        raise SpecError(
            '[response] source = "labs" needs a lab table',
            where=Location(file=str(path), spec_key="response.source"),
            fix='add labs = "labs.csv" under [data], or use source = "recorded"',
        )

    k = root.sub("km")
    k.reject_unknown({"conf_type", "conf_level", "landmarks", "median_ci", "risk_table_step"})
    km = KmSection(
        conf_type=k.str("conf_type", "log-log", choices=("log-log", "log", "plain")),
        conf_level=k.num("conf_level", 1.0 - study.alpha, lo=0.5, hi=0.999),
        landmarks=k.num_list("landmarks", KmSection().landmarks),
        median_ci=k.str("median_ci", "band", choices=("band", "symmetric")),
        risk_table_step=k.num("risk_table_step", None, lo=1e-9),
    )

    derive: list[DeriveSpec] = []
    for e in root.array("derive"):
        e.reject_unknown({"name", "from", "below", "at_least", "above", "in", "labels"})
        rules = [x for x in ("below", "at_least", "above", "in") if e.has(x)]
        if len(rules) != 1:
            raise SpecError(
                f"[[derive]] {e.table.get('name', '?')!r} needs exactly one of below / at_least / above / in",
                where=e._where("below"),
                fix="e.g. below = 11 (1 where value < 11, 0 where >= 11)",
            )
        labels = e.str_list("labels")
        if labels is not None and len(labels) != 2:
            raise SpecError(
                "labels must have two entries: [label for 1, label for 0]", where=e._where("labels")
            )
        derive.append(
            DeriveSpec(
                name=e.str("name", required=True),
                from_=e.str("from", required=True),
                below=e.num("below"),
                at_least=e.num("at_least"),
                above=e.num("above"),
                in_=e.str_list("in"),
                labels=labels,
            )
        )

    proportions = []
    for e in root.array("proportion"):
        e.reject_unknown({"name", "variable", "success", "method", "denominator"})
        proportions.append(
            ProportionSpec(
                name=e.str("name", required=True),
                variable=e.str("variable", required=True),
                success=e.str_list("success", required=True),
                method=e.str(
                    "method", "clopper-pearson", choices=("clopper-pearson", "wilson", "wilson-cc")
                ),
                denominator=e.str("denominator", "all", choices=("all", "non-missing")),
            )
        )
    prop_names = {p.name for p in proportions}

    compare = []
    for e in root.array("compare_proportion"):
        e.reject_unknown({"outcome", "by"})
        outcome = e.str("outcome", required=True)
        if outcome not in prop_names:
            raise SpecError(
                f"compare_proportion outcome {outcome!r} is not a [[proportion]] name",
                where=e._where("outcome"),
                fix=f"use one of: {', '.join(sorted(prop_names)) or '(define a [[proportion]] first)'}",
            )
        compare.append(CompareProportionSpec(outcome=outcome, by=e.str("by", required=True)))

    logrank = []
    for e in root.array("logrank"):
        e.reject_unknown({"endpoint", "by", "strata", "trend", "rho"})
        logrank.append(
            LogrankSpec(
                endpoint=_endpoint(e),
                by=e.str("by", required=True),
                strata=e.str("strata"),
                trend=e.bool("trend", False),
                rho=e.num("rho", 0.0, lo=0.0, hi=10.0),
            )
        )

    cox = []
    for e in root.array("cox"):
        e.reject_unknown(
            {
                "endpoint",
                "terms",
                "reference",
                "ties",
                "ph_test",
                "ph_transform",
                "strata",
                "robust",
                "cluster",
                "firth",
                "name",
            }
        )
        ref = e.sub("reference")
        cox.append(
            CoxSpec(
                endpoint=_endpoint(e),
                terms=e.str_list("terms", required=True),
                reference=tuple((key, str(ref.table[key])) for key in ref.table),
                ties=e.str("ties", "efron", choices=("efron", "breslow")),
                ph_test=e.bool("ph_test", True),
                ph_transform=e.str("ph_transform", "km", choices=("km", "rank", "identity")),
                strata=e.str("strata"),
                robust=e.bool("robust", False),
                cluster=e.str("cluster"),
                firth=e.str("firth", "auto", choices=("auto", "always", "never")),
                name=e.str("name"),
            )
        )

    cutpoints = []
    for e in root.array("cutpoint"):
        e.reject_unknown(
            {
                "endpoint",
                "proportion",
                "variable",
                "method",
                "minprop",
                "direction",
                "pmethod",
                "bootstrap",
                "seed",
                "n_perm",
            }
        )
        endpoint = _endpoint(e, required=False)
        proportion = e.str("proportion")
        if (endpoint is None) == (proportion is None):
            raise SpecError(
                "[[cutpoint]] needs exactly one of endpoint or proportion",
                where=e._where("endpoint"),
                fix='write endpoint = "PFS" (survival) or proportion = "ORR" (binary outcome)',
            )
        if proportion is not None and proportion not in prop_names:
            raise SpecError(
                f"cutpoint proportion {proportion!r} is not a [[proportion]] name",
                where=e._where("proportion"),
                fix=f"use one of: {', '.join(sorted(prop_names)) or '(define a [[proportion]] first)'}",
            )
        cutpoints.append(
            CutpointSpec(
                variable=e.str("variable", required=True),
                endpoint=endpoint,
                proportion=proportion,
                method=e.str("method", "maxstat", choices=("maxstat", "youden")),
                minprop=e.num("minprop", 0.1, lo=0.0, hi=0.49),
                direction=e.str("direction", ">=", choices=("<=", ">=")),
                pmethod=e.str("pmethod", "Lau94", choices=("Lau94", "Lau92", "condMC")),
                bootstrap=e.num("bootstrap", 1000, lo=0, hi=100000, integer=True),
                seed=e.num("seed", 20250101, lo=0, integer=True),
                n_perm=e.num("n_perm", 0, lo=0, hi=10_000_000, integer=True),
            )
        )

    t1 = root.sub("table1")
    t1.reject_unknown({"variables", "by"})
    table1 = Table1Spec(variables=t1.str_list("variables", ()), by=t1.str("by"))

    v = root.sub("validation")
    v.reject_unknown({"accept", "exclude_invalid_rows"})
    acc = v.sub("accept")
    accept = tuple((code, acc.str(code, required=True)) for code in acc.table)
    validation = ValidationSection(
        accept=accept, exclude_invalid_rows=v.bool("exclude_invalid_rows", False)
    )

    c = root.sub("cohort")
    c.reject_unknown({"exclude"})
    exclusions = []
    for e in c.array("exclude"):
        e.reject_unknown({"patient_id", "reason"})
        exclusions.append(
            ExclusionSpec(
                patient_id=e.str("patient_id", required=True), reason=e.str("reason", required=True)
            )
        )

    rep = root.sub("report")
    rep.reject_unknown(
        {
            "small_cell_k",
            "table1_by",
            "figure_formats",
            "figure_dpi",
            "figure_width_mm",
            "palette",
            "km_annotations",
        }
    )
    formats = rep.str_list("figure_formats", ())
    for fmt in formats:
        if fmt not in _FIGURE_FORMATS:
            raise SpecError(
                f"figure format {fmt!r} is not one of {', '.join(_FIGURE_FORMATS)}",
                where=rep._where("figure_formats"),
                fix=f'write e.g. figure_formats = ["pdf", "svg", "tiff"] ({", ".join(_FIGURE_FORMATS)})',
            )
    report = ReportSection(
        small_cell_k=rep.num("small_cell_k", 0, lo=0, hi=1000, integer=True),
        table1_by=rep.str("table1_by"),
        figure_formats=tuple(dict.fromkeys(formats)),
        figure_dpi=rep.num("figure_dpi", 600, lo=72, hi=2400, integer=True),
        figure_width_mm=rep.num("figure_width_mm", 170.0, lo=50, hi=260),
        palette=rep.str("palette", "okabe-ito", choices=("okabe-ito", "greyscale")),
        km_annotations=rep.bool("km_annotations", True),
    )
    published = tuple(_published(p) for p in root.array("published"))

    sites = _sites(root, base, variables)
    pooling = _pooling(root)
    ps = root.sub("pseudonymize")
    ps.reject_unknown({"identifiers", "keep", "shift_dates", "max_shift_days"})
    pseudonymize = PseudonymizeSection(
        identifiers=ps.str_list("identifiers", ()),
        keep=ps.str_list("keep", ()),
        shift_dates=ps.bool("shift_dates", False),
        max_shift_days=ps.num("max_shift_days", 182, lo=1, hi=3650, integer=True),
    )

    return StudySpec(
        path=path,
        sha256=sha256,
        study=study,
        data=data,
        variables=tuple(variables),
        response=response,
        km=km,
        derive=tuple(derive),
        proportions=tuple(proportions),
        compare_proportions=tuple(compare),
        logrank=tuple(logrank),
        cox=tuple(cox),
        cutpoints=tuple(cutpoints),
        table1=table1,
        validation=validation,
        exclusions=tuple(exclusions),
        report=report,
        published=published,
        sites=sites,
        pooling=pooling,
        pseudonymize=pseudonymize,
    )


_SITE_KEYS = {
    "file",
    "center",
    "centers",
    "columns",
    "date_format",
    "sheet",
    "delimiter",
    "decimal",
    "encoding",
    "missing_values",
    "units",
    "recode",
    "absent",
    "id_prefix",
    "excel_serial_dates",
}


_FIGURE_FORMATS = ("pdf", "svg", "tiff", "png")


def _published(p: _Section) -> PublishedSpec:
    """One ``[[published]]`` entry: a number from a paper and where its reproduction is."""
    p.reject_unknown({"name", "value", "lower", "upper", "source", "quantity", "path", "scale"})
    if p.has("quantity") == p.has("path"):
        raise SpecError(
            "a [[published]] entry needs exactly one of quantity and path",
            where=p._where("quantity"),
            fix='write quantity = "median:PFS" (or path = "endpoints.PFS.median")',
        )
    path = None
    if p.has("path"):
        raw = p.table["path"]
        path = tuple(raw.split(".")) if isinstance(raw, str) else p.str_list("path")
        if not all(path):
            raise SpecError(
                f"path {raw!r} has an empty step",
                where=p._where("path"),
                fix='write keys separated by dots, e.g. path = "endpoints.PFS.median"',
            )
    return PublishedSpec(
        name=p.str("name", required=True),
        value=_required_num(p, "value"),
        lower=p.num("lower"),
        upper=p.num("upper"),
        source=p.str("source", ""),
        quantity=p.str("quantity"),
        path=path,
        scale=p.num("scale", 1.0),
    )


def _required_num(p: _Section, key: str) -> float:
    if not p.has(key):
        raise SpecError(
            f"missing required key {key!r}", where=p._where(key), fix=f"add {key} = <number>"
        )
    return float(p.num(key))


def _str_table(sec: _Section) -> tuple[tuple[str, str], ...]:
    return tuple((key, sec.str(key, required=True)) for key in sec.table)


def _sites(root: _Section, base: Path, variables: list[VariableSpec]) -> tuple[SiteSpec, ...]:
    """``[[sites]]``: one entry per site export, for ``mmrwe pool``."""
    units_declared = {v.name: v.unit for v in variables}
    sites: list[SiteSpec] = []
    for e in root.array("sites"):
        e.reject_unknown(_SITE_KEYS)
        date_format = e.str("date_format")
        if date_format is not None and "%" not in date_format:
            raise SpecError(
                f"date_format {date_format!r} has no strftime directives",
                where=e._where("date_format"),
                fix='use e.g. "%Y-%m-%d" (ISO) or "%d/%m/%Y" (day/month/year)',
            )
        center = e.str("center")
        centers = e.str_list("centers", ())
        if center is not None and centers:
            raise SpecError(
                "give either center (every row is that center) or centers (the values the file's center column may hold), not both",
                where=e._where("centers"),
            )
        units = e.sub("units")
        unit_pairs = _str_table(units)
        for name, _unit in unit_pairs:
            if not units_declared.get(name):
                raise SpecError(
                    f"a site unit is given for {name!r}, but [variables.{name}] declares no unit to convert to",
                    where=units._where(name),
                    fix=f'add [variables.{name}] unit = "..." (the unit the pooled table uses)',
                )
        rec = e.sub("recode")
        recode = []
        for name in rec.table:
            recode.append((name, _str_table(rec.sub(name))))
        sites.append(
            SiteSpec(
                file=base / e.str("file", required=True),
                center=center,
                centers=centers,
                columns=_str_table(e.sub("columns")) if e.has("columns") else None,
                date_format=date_format,
                sheet=e.str("sheet"),
                delimiter=e.str("delimiter"),
                decimal=e.str("decimal", None, choices=(".", ",")),
                encoding=e.str("encoding"),
                missing_values=e.str_list("missing_values"),
                units=unit_pairs,
                recode=tuple(recode),
                absent=e.str_list("absent", ()),
                id_prefix=e.str("id_prefix", ""),
                excel_serial_dates=e.bool("excel_serial_dates", False),
            )
        )
    return tuple(sites)


def _pooling(root: _Section) -> PoolingSection:
    """``[pooling]``: the rule for confirmed duplicates and the user's decisions."""
    po = root.sub("pooling")
    po.reject_unknown({"keep", "duplicates"})
    decisions = []
    for e in po.array("duplicates"):
        e.key_path = f"pooling.{e.key_path}"
        e.reject_unknown({"rows", "same_patient", "keep"})
        rows = e.str_list("rows", required=True)
        if len(rows) != 2 or rows[0] == rows[1]:
            raise SpecError(
                "rows must name the two rows of a flagged pair",
                where=e._where("rows"),
                fix='write rows = ["Center A/A-017", "Center B/B-203"] as listed in pooling.json',
            )
        if "same_patient" not in e.table:
            raise SpecError(
                "missing required key 'same_patient'",
                where=e._where("same_patient"),
                fix="write same_patient = true (one row is kept) or false (both are kept)",
            )
        keep = e.str("keep")
        if keep is not None and keep not in rows:
            raise SpecError(
                f"keep = {keep!r} is not one of the pair's rows",
                where=e._where("keep"),
                fix=f"use {rows[0]!r} or {rows[1]!r}",
            )
        decisions.append(
            DuplicateDecision(
                rows=(rows[0], rows[1]), same_patient=e.bool("same_patient", True), keep=keep
            )
        )
    return PoolingSection(
        keep=po.str("keep", "longest_followup", choices=("longest_followup", "first_site")),
        duplicates=tuple(decisions),
    )


def _endpoint(e: _Section, *, required: bool = True) -> Any:
    from mmrwe.spec.model import ENDPOINTS

    if not required and not e.has("endpoint"):
        return None
    return e.str("endpoint", required=True, choices=ENDPOINTS)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (inputs are hashed before and after a run)."""
    return _sha256_file(path)
