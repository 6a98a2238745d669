"""Study spec: frozen dataclasses mirroring the TOML of contract section 3."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mmrwe.core.conventions import ConfType, SurvivalConventions, Ties, TimeUnit

#: Every endpoint a spec may name (PFS and OS are always derived; the others on request).
ENDPOINTS = ("PFS", "OS", "TTP", "DoR", "TTNT", "PFS2")
RESPONSE_CATEGORIES = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE")


@dataclass(frozen=True, slots=True)
class StudySection:
    """``[study]``: title, time unit and significance level."""

    title: str = "Untitled study"
    time_unit: TimeUnit = "months"
    alpha: float = 0.05
    description: str = ""
    synthetic: bool = False  # the embedded demo says so wherever it is shown
    # E-values of hazard ratios: is the outcome rare (< 15 % had the event)? None: decided
    # per model from its event share (EValue's rule of thumb, docs/clinical.md)
    rare_outcome: bool | None = None


@dataclass(frozen=True, slots=True)
class RedcapInstrument:
    """``[data.redcap.labs]`` / ``[data.redcap.therapy]``: the instrument that feeds a table.

    Every row of the export holding this instrument (each instance of a repeating
    instrument, or each event it is collected in) becomes a row of the table.
    """

    instrument: str
    columns: tuple[tuple[str, str], ...] = ()  # (canonical name, REDCap field)


@dataclass(frozen=True, slots=True)
class RedcapSection:
    """``[data] redcap``: a REDCap project's record export and data dictionary.

    ``export`` says how coded values are written (``raw`` codes or ``labels``); the
    ``baseline_event`` row of each record gives the patient table (None: the event of the
    export's first row); ``forms`` lists the instruments of the patient table (None: every
    instrument with data in the baseline event that is not mapped to labs or therapy);
    ``checkboxes`` reads a checkbox field as one ``set`` column (labels joined by ";") or
    as ``columns`` (one yes/no column per choice).
    """

    records: Path
    dictionary: Path
    groups: Path | None = None
    export: Literal["raw", "labels"] = "raw"
    baseline_event: str | None = None
    forms: tuple[str, ...] | None = None
    checkboxes: tuple[tuple[str, str], ...] = ()  # (field, "set" | "columns")
    labs: RedcapInstrument | None = None
    therapy: RedcapInstrument | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file of the project that is read."""
        return (self.records, self.dictionary) + ((self.groups,) if self.groups else ())


@dataclass(frozen=True, slots=True)
class DataSection:
    """``[data]``: input files (resolved against the spec's folder) and how to read them."""

    patients: Path
    labs: Path | None = None
    therapy: Path | None = None
    columns: tuple[tuple[str, str], ...] = ()  # (canonical name, source column name)
    date_format: str = "%Y-%m-%d"
    sheet: str | None = None
    delimiter: str | None = None  # CSV: None = comma
    decimal: str = "."
    encoding: str = "utf-8"
    missing_values: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", ".", "NULL", "null")
    # The engine every step runs on: in-process DuckDB by default ("pandas" is an older
    # name for it, still accepted), or "postgres" / "spark".
    engine: Literal["pandas", "duckdb", "postgres", "spark"] = "pandas"
    url: str | None = None  # patients given as a database URL (postgresql://..., duckdb:///...)
    table: str | None = None  # table (or view) holding the patients in a database or .duckdb file
    format: Literal["canonical", "omop"] = "canonical"  # "omop": build the table from OMOP CDM
    omop: tuple[tuple[str, str], ...] = ()  # [data.omop] options (regimen, mapping, schema)
    # A REDCap project in place of the patient, lab and therapy files (``patients`` is then
    # the record export, so messages and input checks name it).
    redcap: RedcapSection | None = None

    @property
    def column_map(self) -> dict[str, str]:
        """Canonical name -> source column name."""
        return dict(self.columns)

    @property
    def has_labs(self) -> bool:
        """A lab table is given (a file, or a REDCap instrument)."""
        return self.labs is not None or (self.redcap is not None and self.redcap.labs is not None)

    @property
    def has_therapy(self) -> bool:
        """A therapy table is given (a file, or a REDCap instrument)."""
        return self.therapy is not None or (
            self.redcap is not None and self.redcap.therapy is not None
        )


@dataclass(frozen=True, slots=True)
class VariableSpec:
    """``[variables.NAME]``: unit, label, type and ordered levels of a covariate."""

    name: str
    unit: str | None = None
    label: str | None = None
    type: Literal["numeric", "categorical", "date"] | None = None
    levels: tuple[str, ...] | None = None
    analyte: str | None = None  # e.g. "hemoglobin"; guessed from the name when absent


@dataclass(frozen=True, slots=True)
class ResponseSection:
    """``[response]``: where best response and progression come from."""

    source: Literal["recorded", "labs"] = "recorded"
    criteria: str = "imwg2016"
    baseline_window_days: int = 30
    measurable_serum_g_dl: float = 1.0
    refractory_threshold: Literal["MR", "PR"] = "MR"
    refractory_window_days: int = 60
    unconfirmed_pd_is_event: bool = False
    unconfirmed_pd_bor: Literal["PD", "NE"] = "PD"
    scr_without_clonality: Literal["CR", "flc_ratio"] = "CR"
    steroid_change_opens_line: bool = False
    regimen_merge_days: int = 30
    # "strict" (IMWG as written), "relaxed" (real-world derived response: one assessment
    # suffices, a missing marrow does not block CR) or "simultaneous_pd" (strict, and a
    # biochemical progression seen in two markers at one assessment needs no second one)
    profile: Literal["strict", "relaxed", "simultaneous_pd"] = "strict"
    isotype_column: str = "isotype"  # heavy/light chain of the M-protein (anti-CD38 flag)


@dataclass(frozen=True, slots=True)
class KmSection:
    """``[km]``: band transform, landmarks, median CI method, ticks for the risk table."""

    conf_type: ConfType = "log-log"
    conf_level: float = 0.95
    landmarks: tuple[float, ...] = (12.0, 24.0)
    median_ci: Literal["band", "symmetric"] = "band"
    risk_table_step: float | None = None
    endpoints: tuple[str, ...] = ("PFS", "OS")  # Kaplan-Meier section, in this order
    landmark_from: float | None = None  # landmark analysis by response at this time


@dataclass(frozen=True, slots=True)
class TvCoxSpec:
    """``[[tv_cox]]``: a Cox model with covariates that switch on at a date (start/stop)."""

    endpoint: str
    time_varying: tuple[str, ...] = ("response",)
    terms: tuple[str, ...] = ()
    reference: tuple[tuple[str, str], ...] = ()
    ties: Ties = "efron"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class RiskScoresSection:
    """``[risk_scores]``: patient-table columns holding the inputs of ISS, R-ISS, R2-ISS and
    the IMS/IMWG 2025 high-risk definition (None: not given)."""

    beta2m: str | None = None
    albumin: str | None = None
    albumin_unit: str | None = None
    ldh: str | None = None
    ldh_uln: float | str | None = None  # one ULN for all, or a column name
    del17p: str | None = None
    del17p_pct: str | None = None
    t4_14: str | None = None
    t14_16: str | None = None
    t14_20: str | None = None
    gain1q: str | None = None
    del1p32: str | None = None
    tp53: str | None = None
    creatinine: str | None = None
    creatinine_unit: str | None = None
    del17p_cutoff: float = 20.0

    @property
    def given(self) -> bool:
        """True when the spec names at least one input."""
        return any(
            getattr(self, k) is not None
            for k in ("beta2m", "albumin", "ldh", "del17p", "t4_14", "t14_16", "t14_20",
                      "gain1q", "del1p32", "tp53", "creatinine")
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeriveSpec:
    """``[[derive]]``: a binary column from a numeric one, or a recode of a categorical one."""

    name: str
    from_: str
    below: float | None = None
    at_least: float | None = None
    above: float | None = None
    in_: tuple[str, ...] | None = None
    labels: tuple[str, str] | None = None  # (label for 1, label for 0)


@dataclass(frozen=True, slots=True)
class ProportionSpec:
    """``[[proportion]]``: share of patients whose ``variable`` is in ``success``."""

    name: str
    variable: str
    success: tuple[str, ...]
    method: Literal["clopper-pearson", "wilson", "wilson-cc"] = "clopper-pearson"
    denominator: Literal["all", "non-missing"] = "all"


@dataclass(frozen=True, slots=True)
class CompareProportionSpec:
    """``[[compare_proportion]]``: a binary outcome against a factor."""

    outcome: str
    by: str


@dataclass(frozen=True, slots=True)
class LogrankSpec:
    """``[[logrank]]``: survdiff of an endpoint by a factor, optionally stratified."""

    endpoint: str
    by: str
    strata: str | None = None
    trend: bool = False
    rho: float = 0.0


@dataclass(frozen=True, slots=True)
class CoxSpec:
    """``[[cox]]``: a Cox model of an endpoint."""

    endpoint: str
    terms: tuple[str, ...]
    reference: tuple[tuple[str, str], ...] = ()
    ties: Ties = "efron"
    ph_test: bool = True
    ph_transform: Literal["km", "rank", "identity"] = "km"
    strata: str | None = None
    robust: bool = False
    cluster: str | None = None
    firth: Literal["auto", "always", "never"] = "auto"
    name: str | None = None
    # one overall test per term: "II" (R car::Anova), "sequential" (R anova), None = off
    term_tests: Literal["II", "sequential"] | None = "II"
    rare_outcome: bool | None = None  # E-values: None = from the event share (>= 15 % common)


@dataclass(frozen=True, slots=True)
class SubgroupSpec:
    """``[[subgroup]]``: the hazard ratio of a binary ``effect`` within the levels of each
    ``by`` column, with the effect x subgroup interaction test."""

    endpoint: str
    effect: str
    by: tuple[str, ...]
    reference: str | None = None  # the effect's reference level; default: its first level


@dataclass(frozen=True, slots=True)
class CutpointSpec:
    """``[[cutpoint]]``: a data-driven cut-off of ``variable`` for an endpoint or proportion."""

    variable: str
    endpoint: str | None = None
    proportion: str | None = None
    method: Literal["maxstat", "youden"] = "maxstat"
    minprop: float = 0.1
    maxprop: float = 0.9  # R maxstat.test's default, whatever minprop
    direction: Literal["<=", ">="] = ">="
    pmethod: Literal["Lau94", "Lau92", "condMC"] = "Lau94"
    bootstrap: int = 1000
    seed: int = 20250101
    n_perm: int = 0


CompetingEvent = Literal["progression", "death"]


@dataclass(frozen=True, slots=True)
class CumincSpec:
    """``[[cuminc]]``: cumulative incidence of one kind of PFS end, the other competing."""

    event: CompetingEvent
    competing: CompetingEvent
    by: str | None = None
    times: tuple[float, ...] = ()  # the loader fills in the [km] landmarks when absent
    conf_type: Literal["log-log", "plain"] = "log-log"
    conf_level: float = 0.95
    strata: str | None = None
    rho: float = 0.0


@dataclass(frozen=True, slots=True)
class FinegraySpec:
    """``[[finegray]]``: Fine-Gray model (crr) and the cause-specific Cox model of its terms."""

    event: CompetingEvent
    competing: CompetingEvent
    terms: tuple[str, ...]
    reference: tuple[tuple[str, str], ...] = ()
    cengroup: str | None = None
    cause_specific: bool = True  # with Efron ties, R coxph's default
    conf_level: float = 0.95


@dataclass(frozen=True, slots=True)
class RmstSpec:
    """``[[rmst]]``: restricted mean survival time up to ``tau``, per group and contrasts."""

    endpoint: str
    tau: float
    by: str | None = None
    reference: str | None = None
    conf_level: float = 0.95


@dataclass(frozen=True, slots=True)
class IptwSpec:
    """``[[iptw]]``: inverse probability of treatment weighting of a binary treatment."""

    treatment: str
    covariates: tuple[str, ...]
    estimand: Literal["ATE", "ATT", "ATO"] = "ATE"
    endpoint: str | None = None  # weighted KM and weighted Cox; None = balance only
    treated: str | None = None  # the treated level; default: the second level
    reference: tuple[tuple[str, str], ...] = ()  # reference level per categorical covariate
    stabilize: bool = False
    trim_bounds: tuple[float, float] | None = None
    trim_quantile: float | None = None
    smd_threshold: float = 0.1
    ps_bounds: tuple[float, float] = (0.025, 0.975)
    min_ess_fraction: float = 0.25
    rare_outcome: bool | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class MaicTarget:
    """One published baseline value of a MAIC target: a mean (and SD) or a proportion."""

    name: str
    mean: float | None = None
    sd: float | None = None
    proportion: float | None = None
    level: str | None = None  # the level whose share ``proportion`` is (default: second)


@dataclass(frozen=True, slots=True)
class MaicComparator:
    """The published outcome of the comparator arm, with its confidence interval."""

    estimate: float
    lower: float
    upper: float
    scale: Literal["log", "logit", "identity"] = "log"
    conf_level: float = 0.95
    name: str = ""


@dataclass(frozen=True, slots=True)
class MaicSpec:
    """``[[maic]]``: matching-adjusted indirect comparison with a published trial arm."""

    covariates: tuple[str, ...]
    target: tuple[MaicTarget, ...]
    outcome: str | None = None  # a [[proportion]] name
    endpoint: str | None = None  # or a survival endpoint
    statistic: Literal["median", "survival"] = "median"  # endpoint: what is compared
    at: float | None = None  # statistic = "survival": the landmark time
    landmarks: tuple[float, ...] = ()
    comparator: MaicComparator | None = None
    contrast: Literal["ratio", "difference"] | None = None  # None: ratio (median), difference
    n_boot: int = 1000
    seed: int = 20250101
    name: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class ImputationSection:
    """``[imputation]``: multiple imputation by chained equations, pooled by Rubin's rules."""

    m: int = 20
    maxit: int = 10
    seed: int = 20250101
    donors: int = 5
    variables: tuple[str, ...] = ()  # () = the columns the pooled analyses use
    auxiliary_endpoint: Literal["auto", "PFS", "OS", "both", "none"] = "auto"
    cumhaz_interactions: bool = True


@dataclass(frozen=True, slots=True)
class TargetSection:
    """``[target]``: free text describing the emulated target trial (TARGET guideline)."""

    question: str = ""
    eligibility: str = ""
    treatment_strategies: str = ""
    assignment: str = ""
    time_zero: str = ""
    follow_up: str = ""
    outcomes: str = ""
    estimand: str = ""
    confounders: str = ""
    analysis: str = ""
    missing_data: str = ""

    def items(self) -> dict[str, str]:
        """The texts given, by key (empty ones left out)."""
        return {k: getattr(self, k) for k in TARGET_ITEMS if getattr(self, k)}


#: ``[target]`` keys in the order of the TARGET table.
TARGET_ITEMS = (
    "question",
    "eligibility",
    "treatment_strategies",
    "assignment",
    "time_zero",
    "follow_up",
    "outcomes",
    "estimand",
    "confounders",
    "analysis",
    "missing_data",
)


@dataclass(frozen=True, slots=True)
class Table1Spec:
    """``[table1]``: baseline characteristics, overall and by a factor."""

    variables: tuple[str, ...] = ()
    by: str | None = None


@dataclass(frozen=True, slots=True)
class ValidationSection:
    """``[validation]``: issues accepted knowingly, and what to do with invalid rows."""

    accept: tuple[tuple[str, str], ...] = ()  # (issue code, written reason)
    exclude_invalid_rows: bool = False


@dataclass(frozen=True, slots=True)
class ExclusionSpec:
    """``[[cohort.exclude]]``: a patient excluded by the study team, with the reason."""

    patient_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReportSection:
    """``[report]``: display options (never change a number in results.json)."""

    small_cell_k: int = 0
    table1_by: str | None = None
    # figure files (contract 5.3): DIR/figures/<name>.<ext>, printed width in mm (85-90 one
    # journal column, 170-180 two), raster resolution, colour-blind-safe or greyscale palette
    figure_formats: tuple[Literal["pdf", "svg", "tiff", "png"], ...] = ()
    figure_dpi: int = 600
    figure_width_mm: float = 170.0
    palette: Literal["okabe-ito", "greyscale"] = "okabe-ito"
    km_annotations: bool = True  # HR (95% CI) and log-rank p on Kaplan-Meier group plots
    # optional therapy figures (with the therapy table; the swimmer also needs the labs)
    swimmer: bool = False
    swimmer_max_patients: int = 60
    therapy_flow: bool = False
    therapy_flow_by: Literal["regimen", "class"] = "regimen"
    therapy_flow_start: Literal["first_line", "study_line"] = "first_line"
    therapy_flow_max_lines: int = 5
    # a per-patient QC listing (ids, exact dates) in DIR/restricted/, only when asked
    patient_listing: bool = False


@dataclass(frozen=True, slots=True)
class PublishedSpec:
    """``[[published]]``: a published number to set beside the reproduced one.

    The reproduced value is found by ``quantity`` (an id such as ``"median:PFS"``, see
    :mod:`mmrwe.tables.published`) or by ``path`` into results.json; ``scale`` multiplies it
    (e.g. 100 for a path to a proportion published as a percentage).
    """

    name: str
    value: float
    lower: float | None = None
    upper: float | None = None
    source: str = ""
    quantity: str | None = None
    path: tuple[str, ...] | None = None
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """``[[sites]]``: one site's export and how to read it (used by ``mmrwe pool``).

    Every reading option left out (``None``) is taken from ``[data]``. ``columns``, when
    given, replaces ``[data.columns]`` for this file (canonical name -> source column).
    """

    file: Path  # the file (with ``redcap``: its record export)
    center: str | None = None  # every row of the file is this center
    centers: tuple[str, ...] = ()  # or: the file's center column may hold only these
    columns: tuple[tuple[str, str], ...] | None = None
    date_format: str | None = None
    sheet: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    missing_values: tuple[str, ...] | None = None
    units: tuple[tuple[str, str], ...] = ()  # variable -> unit used in this file
    recode: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # variable -> (cell -> value)
    absent: tuple[str, ...] = ()  # columns this site does not collect (all missing here)
    id_prefix: str = ""  # prepended to this site's patient ids (site-local id schemes)
    excel_serial_dates: bool = False  # numbers in date columns are Excel serial dates
    redcap: RedcapSection | None = None  # the site's REDCap project instead of a file


@dataclass(frozen=True, slots=True)
class DuplicateDecision:
    """``[[pooling.duplicates]]``: the user's decision on a flagged cross-site pair."""

    rows: tuple[str, str]  # "center/patient_id" of both rows, as listed in pooling.json
    same_patient: bool
    keep: str | None = None  # "center/patient_id" of the row to keep (overrides the rule)


@dataclass(frozen=True, slots=True)
class PoolingSection:
    """``[pooling]``: which row of a confirmed duplicate is kept."""

    keep: Literal["longest_followup", "first_site"] = "longest_followup"
    duplicates: tuple[DuplicateDecision, ...] = ()


@dataclass(frozen=True, slots=True)
class PseudonymizeSection:
    """``[pseudonymize]``: what ``mmrwe pseudonymize`` drops and shifts at the site."""

    identifiers: tuple[str, ...] = ()  # direct identifiers (source column names) to drop
    keep: tuple[str, ...] = ()  # columns that look identifying but are kept knowingly
    shift_dates: bool = False
    max_shift_days: int = 182
    keep_only: tuple[str, ...] | None = None  # allow-list of columns that leave the site
    dates: Literal["keep", "relative", "shift"] | None = None  # None: shift_dates decides
    birth_dates: Literal["year", "age", "keep"] = "year"


@dataclass(frozen=True, slots=True)
class StudySpec:
    """A parsed, checked study spec.

    Use :func:`mmrwe.spec.load_spec` to build one from TOML.
    """

    path: Path
    sha256: str
    study: StudySection
    data: DataSection
    variables: tuple[VariableSpec, ...] = ()
    response: ResponseSection = field(default_factory=ResponseSection)
    km: KmSection = field(default_factory=KmSection)
    derive: tuple[DeriveSpec, ...] = ()
    proportions: tuple[ProportionSpec, ...] = ()
    compare_proportions: tuple[CompareProportionSpec, ...] = ()
    logrank: tuple[LogrankSpec, ...] = ()
    cox: tuple[CoxSpec, ...] = ()
    cutpoints: tuple[CutpointSpec, ...] = ()
    subgroups: tuple[SubgroupSpec, ...] = ()
    cuminc: tuple[CumincSpec, ...] = ()
    finegray: tuple[FinegraySpec, ...] = ()
    rmst: tuple[RmstSpec, ...] = ()
    iptw: tuple[IptwSpec, ...] = ()
    maic: tuple[MaicSpec, ...] = ()
    imputation: ImputationSection | None = None  # None: no [imputation] table
    target: TargetSection = field(default_factory=TargetSection)
    tv_cox: tuple[TvCoxSpec, ...] = ()
    risk_scores: RiskScoresSection = field(default_factory=RiskScoresSection)
    table1: Table1Spec = field(default_factory=Table1Spec)
    validation: ValidationSection = field(default_factory=ValidationSection)
    exclusions: tuple[ExclusionSpec, ...] = ()
    report: ReportSection = field(default_factory=ReportSection)
    published: tuple[PublishedSpec, ...] = ()
    sites: tuple[SiteSpec, ...] = ()
    pooling: PoolingSection = field(default_factory=PoolingSection)
    pseudonymize: PseudonymizeSection = field(default_factory=PseudonymizeSection)

    @property
    def survival_conventions(self) -> SurvivalConventions:
        """Kaplan-Meier conventions for this study."""
        return SurvivalConventions(
            conf_type=self.km.conf_type,
            conf_level=self.km.conf_level,
            time_unit=self.study.time_unit,
        )

    @property
    def requested_endpoints(self) -> tuple[str, ...]:
        """PFS, OS and every endpoint an analysis of the spec names, in display order."""
        named = {"PFS", "OS", *self.km.endpoints}
        named |= {x.endpoint for x in self.logrank} | {x.endpoint for x in self.cox}
        named |= {x.endpoint for x in self.tv_cox}
        named |= {c.endpoint for c in self.cutpoints if c.endpoint is not None}
        named |= {x.endpoint for x in self.subgroups} | {x.endpoint for x in self.rmst}
        named |= {x.endpoint for x in self.iptw if x.endpoint is not None}
        named |= {x.endpoint for x in self.maic if x.endpoint is not None}
        return tuple(ep for ep in ENDPOINTS if ep in named)

    def variable(self, name: str) -> VariableSpec | None:
        """Return the ``[variables.NAME]`` entry, if any."""
        for v in self.variables:
            if v.name == name:
                return v
        return None
