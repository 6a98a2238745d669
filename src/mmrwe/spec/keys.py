"""Every key of the study spec: type, default, allowed values and documentation.

This table is the one place a spec key is declared. The loader refuses any key that is not
here (:mod:`mmrwe.spec.loader`), the JSON Schema is generated from it
(:mod:`mmrwe.spec.schema`), ``mmrwe explain KEY`` prints it and ``docs/spec.md`` is tested
against it, so the four cannot drift apart. A test also runs the loader on a spec holding
every key and checks that the loader reads each one with the default and the allowed values
written here.

Adding a key: add a :class:`Key` to its :class:`Table` below, read it in the loader, and
describe it in ``docs/spec.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

KeyType = Literal[
    "string",  # TOML string
    "number",  # integer or float
    "integer",
    "boolean",
    "strings",  # array of strings (a single string is accepted as a one-item array)
    "numbers",  # array of numbers
    "scalar",  # string, number or boolean (written back as text)
    "string_or_false",  # one of the key's choices, or false (the feature switched off)
    "table",  # a sub-table with its own keys (see the Table of the same path)
    "array",  # an array of tables [[...]] (see the Table of the same path)
    "map",  # a table whose keys are names the user chooses (see the Table of the same path)
]

#: Marks a key without a default value (absent = not used).
NO_DEFAULT: Any = type("NoDefault", (), {"__repr__": lambda self: "NO_DEFAULT"})()


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a spec table.

    Attributes
    ----------
    name : str
        The key as written in TOML.
    type : KeyType
        What its value must be.
    doc : str
        What it means, in one or two sentences.
    default : object
        The value used when the key is absent (a TOML value), or ``NO_DEFAULT``.
    default_doc : str, optional
        The default in words, when it depends on another key (e.g. "1 - alpha").
    required : bool
        The key must be present (see ``required_doc`` for conditions).
    required_doc : str, optional
        When a key is required only in some specs, in words.
    choices : tuple of str, optional
        Allowed values of a string key.
    minimum, maximum : float, optional
        Allowed range (inclusive) of a number, or of each number of a list.
    example : object
        A value to show in ``mmrwe explain`` and the docs.
    contract : bool
        True for keys of the published study-spec contract; False for mmrwe's additions.
    """

    name: str
    type: KeyType
    doc: str
    default: Any = NO_DEFAULT
    default_doc: str | None = None
    required: bool = False
    required_doc: str | None = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    example: Any = None
    contract: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the spec (``[km]``), an array of tables (``[[cox]]``) or a map.

    ``path`` is dotted, with ``*`` for a name the user chooses: ``variables.*`` is the
    table under ``[variables.hgb]``. A ``map`` has user-chosen keys whose values are all
    like ``value``; ``suggested`` lists well-known keys of a map (for editors).
    """

    path: str
    kind: Literal["table", "array", "map"]
    doc: str
    keys: tuple[Key, ...] = ()
    value: Key | None = None
    suggested: tuple[Key, ...] = ()
    example: str = ""

    def key(self, name: str) -> Key | None:
        """The key called ``name``, if this table has one."""
        for k in self.keys:
            if k.name == name:
                return k
        return None

    @property
    def names(self) -> frozenset[str]:
        """Names of the keys allowed in this table (empty for a map)."""
        return frozenset(k.name for k in self.keys)


ENDPOINT_CHOICES = ("PFS", "OS", "TTP", "DoR", "TTNT", "PFS2")
_ENDPOINT_DOC = "PFS or OS; TTP, DoR, TTNT or PFS2 (docs/clinical.md section 6; DoR, TTNT and PFS2 need the lab/therapy derivation or the matching dates in the patient table)."
COMPETING_EVENTS = ("progression", "death")  # the two ways a PFS ends ([[cuminc]], [[finegray]])
_READ_OPTIONS = "Reading options of the patient table (also used for the lab and therapy tables)."

_DATA_COLUMNS_SUGGESTED = (
    Key("patient_id", "string", "Source column holding the patient identifier (unique per row).", example="Codice paziente", contract=True),
    Key("center", "string", "Source column holding the site (center) identifier.", example="Centro", contract=True),
    Key("start_date", "string", "Source column holding day 0: the start of the regimen under study.", example="date_isapd_start", contract=True),
    Key("progression_date", "string", "Source column holding the first documented progression (empty if none).", example="Data progressione", contract=True),
    Key("death_date", "string", "Source column holding the date of death (empty if alive at last contact).", example="Data decesso", contract=True),
    Key("last_followup_date", "string", "Source column holding the last date the patient was known alive and assessed.", example="Ultimo follow-up", contract=True),
    Key("best_response", "string", "Source column holding the best response (IMWG categories sCR, CR, VGPR, PR, MR, SD, PD, NE).", example="Risposta migliore"),
)  # fmt: skip

REDCAP_CHECKBOX_MODES = ("set", "columns")
REDCAP_EXPORTS = ("raw", "labels")

_REDCAP_KEYS = (
    Key("records", "string", "The record export (CSV, raw field names as headers; raw codes or labels as values).", required=True, example="records.csv", contract=True),
    Key("dictionary", "string", "The project's data dictionary (CSV, as REDCap writes it: Variable / Field Name, Form Name, Field Type, Choices, Calculations, OR Slider Labels, Text Validation Type OR Show Slider Number, Text Validation Min/Max, Identifier?, ...).", required=True, example="dictionary.csv", contract=True),
    Key("groups", "string", "The project's data access groups (CSV: data_access_group_name, unique_group_name, as REDCap exports them): their display names become the center. Without it, center is the unique group name.", example="dags.csv"),
    Key("export", "string", "How coded values are written in the record export: raw (the codes) or labels. Never guessed at analysis time: `mmrwe init --redcap` detects it and writes it here.", default="raw", choices=REDCAP_EXPORTS, example="raw"),
    Key("baseline_event", "string", "The event whose row gives the patient table (as written in redcap_event_name). Default: the event of the export's first row.", example="baseline_arm_1"),
    Key("forms", "strings", "Instruments whose fields make up the patient table. Default: every instrument with data in the baseline event, except those of labs and therapy.", example=["baseline", "outcome"]),
    Key("checkboxes", "map", "How each checkbox field is read: set (default) or columns."),
)  # fmt: skip


def _redcap_instrument_tables(
    path: str, what: str, canonical: tuple[str, ...], example: dict[str, str], table_key: str
) -> tuple[Table, Table]:
    listed = ", ".join(canonical)
    return (
        Table(
            path,
            "table",
            f"The REDCap instrument that holds the {what} table; each instance (or each event it is collected in) is one row.",
            keys=(
                Key(
                    "instrument",
                    "string",
                    "The instrument's unique name (Form Name in the dictionary).",
                    required=True,
                    example=table_key,
                ),
                Key(
                    "columns",
                    "map",
                    f"Canonical {what} column = the instrument's field holding it ({listed}). Fields not named keep their own names.",
                ),
            ),
            example=f'[{path}]\ninstrument = "{table_key}"\ncolumns = {{ '
            + ", ".join(f'{k} = "{v}"' for k, v in example.items())
            + " }",
        ),
        Table(
            f"{path}.columns",
            "map",
            f"Canonical {what} column = REDCap field.",
            value=Key(
                "*", "string", "The REDCap field name.", example=next(iter(example.values()))
            ),
            suggested=tuple(
                Key(c, "string", f"The field holding {c}.", example=example.get(c, f"x_{c}"))
                for c in canonical
            ),
        ),
    )


TABLES: tuple[Table, ...] = (
    Table(
        "",
        "table",
        "The study spec: one TOML file describing the data and the analyses. Every table except [data] is optional.",
        keys=(
            Key("study", "table", "Title, time unit and significance level.", contract=True),
            Key("data", "table", "Input files and how to read them.", required=True, required_doc="unless [[sites]] are given", contract=True),
            Key("variables", "map", "Per-variable metadata: unit, label, type, levels.", contract=True),
            Key("response", "table", "Where best response and progression come from (recorded columns, or derived from labs).", contract=True),
            Key("km", "table", "Kaplan-Meier options: confidence band, landmarks, median CI.", contract=True),
            Key("derive", "array", "Derived binary or categorical columns.", contract=True),
            Key("proportion", "array", "Proportions with exact confidence intervals (e.g. ORR).", contract=True),
            Key("compare_proportion", "array", "Association of a binary outcome with a factor (Fisher, chi-square, logistic).", contract=True),
            Key("logrank", "array", "Log-rank tests of an endpoint by a factor.", contract=True),
            Key("cox", "array", "Cox proportional hazards models.", contract=True),
            Key("cutpoint", "array", "Data-driven cut-offs of a numeric variable (maxstat or Youden).", contract=True),
            Key("subgroup", "array", "Hazard ratio of a binary factor within subgroups, with interaction tests (forest plot).", contract=True),
            Key("cuminc", "array", "Cumulative incidence of progression or death with the other as competing event (Aalen-Johansen, Gray's test).", contract=True),
            Key("finegray", "array", "Fine-Gray subdistribution hazards models, beside the cause-specific Cox models.", contract=True),
            Key("rmst", "array", "Restricted mean survival time up to tau, per group and between two groups.", contract=True),
            Key("iptw", "array", "Inverse probability of treatment weighting: propensity score, weights, balance, weighted Kaplan-Meier and Cox.", contract=True),
            Key("maic", "array", "Matching-adjusted indirect comparison with a published trial arm."),
            Key("imputation", "table", "Multiple imputation of missing covariates (chained equations), pooled by Rubin's rules."),
            Key("target", "table", "The emulated target trial in words (TARGET reporting guideline)."),
            Key("tv_cox", "array", "Cox models with a time-varying covariate (response as it is reached), in start/stop form."),
            Key("risk_scores", "table", "Myeloma staging and risk (ISS, R-ISS, R2-ISS, IMS/IMWG 2025) derived from named columns."),
            Key("table1", "table", "Baseline characteristics table."),
            Key("validation", "table", "Issues accepted knowingly and what to do with invalid rows."),
            Key("cohort", "table", "Patients excluded by the study team."),
            Key("report", "table", "Display options of the reports."),
            Key("sites", "array", "One entry per site export, for `mmrwe pool`."),
            Key("pooling", "table", "Which row of a confirmed cross-site duplicate is kept."),
            Key("pseudonymize", "table", "What `mmrwe pseudonymize` drops and shifts at the site."),
            Key("published", "array", "Published figures shown beside the reproduced ones."),
        ),
    ),
    Table(
        "study",
        "table",
        "Title, time unit and significance level of the study.",
        keys=(
            Key("title", "string", "Report title.", default="Untitled study", example="IsaPd in daratumumab-refractory myeloma", contract=True),
            Key("time_unit", "string", "Unit of every time in results.json and the reports: months = days / 30.4375, years = days / 365.25.", default="months", choices=("days", "months", "years"), example="months", contract=True),
            Key("alpha", "number", "Significance level; confidence intervals are at 1 - alpha unless a table sets its own level.", default=0.05, minimum=1e-6, maximum=0.5, example=0.05, contract=True),
            Key("description", "string", "A paragraph shown under the title in the reports.", default="", example="Multicenter retrospective cohort."),
            Key("synthetic", "boolean", "The data are synthetic; every report says so prominently.", default=False, example=True),
            Key("rare_outcome", "boolean", "For the E-values of hazard ratios: true if the outcome is rare (fewer than 15% had the event by the end of follow-up), so the HR approximates a risk ratio; false converts the HR as for a common outcome. Overridden by a model's own rare_outcome.", default_doc="decided per model: common when 15% or more of its patients had the event", example=False),
        ),
        example='[study]\ntitle = "IsaPd in daratumumab-refractory myeloma"\ntime_unit = "months"\nalpha = 0.05',
    ),
    Table(
        "data",
        "table",
        "Input files (paths relative to the spec's folder) and how to read them.",
        keys=(
            Key("patients", "string", "The patient table: one row per patient (.csv, .txt, .tsv, .xlsx, .parquet, .sav, .sas7bdat), or a database URL with an engine.", required=True, required_doc="unless [[sites]] or redcap are given; `mmrwe pool` then writes restricted/pooled_patients.csv", example="patients.csv", contract=True),
            Key("labs", "string", "Long lab table: one row per measurement (patient_id, date, test, value, unit).", example="labs.csv", contract=True),
            Key("therapy", "string", "Therapy table: one row per line of therapy or regimen.", example="therapy.csv", contract=True),
            Key("columns", "map", "Column mapping: canonical name = source column name.", contract=True),
            Key("date_format", "string", "strftime format of dates written as text, for every date column. Never guessed: a date that does not parse is an error naming the format it would parse with.", default="%Y-%m-%d", example="%d/%m/%Y"),
            Key("sheet", "string", "Excel sheet holding the patients; required when the workbook has several visible sheets.", example="patients"),
            Key("delimiter", "string", "CSV field separator. Default: comma (tab for .tsv files). Write a tab as \"\\t\".", default_doc='"," (tab for .tsv)', example=";"),
            Key("decimal", "string", "Decimal mark of numbers written as text (\",\" for 12,5).", default=".", choices=(".", ","), example=","),
            Key("encoding", "string", "Text encoding of CSV files: utf-8, utf-8-sig (UTF-8 with a byte-order mark), cp1252 (Windows Western Europe) or latin-1.", default="utf-8", example="latin-1"),
            Key("missing_values", "strings", "Cell texts (after trimming spaces) meaning missing; keep \"\" in the list for empty cells to be missing.", default=["", "NA", "N/A", "NaN", "nan", ".", "NULL", "null"], example=["", "NA", "n.d."]),
            Key("engine", "string", "The engine every step runs on: in-process DuckDB by default (\"pandas\" and \"duckdb\" both name it), or \"postgres\" / \"spark\" with a database URL.", default="pandas", choices=("pandas", "duckdb", "postgres", "spark"), example="duckdb"),
            Key("table", "string", "Table (or view) holding the patients in a database or a .duckdb file.", example="patients"),
            Key("format", "string", "canonical (one row per patient, as described in docs/data.md) or omop (build the table from an OMOP CDM database).", default="canonical", choices=("canonical", "omop"), example="omop"),
            Key("omop", "table", "Options of an OMOP CDM input (with format = \"omop\")."),
            Key("redcap", "table", "A REDCap project in place of patients (and of labs and therapy): the record export and the data dictionary, both as REDCap writes them (docs/data.md).", contract=True),
        ),
        example='[data]\npatients = "patients.csv"\ndate_format = "%d/%m/%Y"\ndelimiter = ";"\ndecimal = ","\nencoding = "latin-1"',
    ),
    Table(
        "data.columns",
        "map",
        "Column mapping: canonical name = the source column holding it. Unmapped columns keep their own names; any name may be mapped, e.g. hgb = \"Emoglobina\".",
        value=Key("*", "string", "The source column name.", example="Data inizio"),
        suggested=_DATA_COLUMNS_SUGGESTED,
        example='[data.columns]\nstart_date = "date_isapd_start"\npatient_id = "Codice paziente"',
    ),
    Table(
        "data.omop",
        "table",
        "Options of an OMOP CDM input.",
        keys=(
            Key("regimen", "string", "The regimen under study, a [regimens] entry of the mapping file (needed with format = \"omop\").", example="IsaPd"),
            Key("mapping", "string", "Concept mapping file (TOML), relative to the spec; default: the one shipped with mmrwe.", example="mapping.toml"),
            Key("schema", "string", "Database schema holding the CDM tables.", example="cdm"),
            Key("labs", "string", "Reserved for building the lab table from CDM measurements; read but not used yet.", example="measurement"),
        ),
    ),
    Table(
        "data.redcap",
        "table",
        "A REDCap project read as it is exported: the record export (raw field names as headers) and the data dictionary. The first field of the dictionary is patient_id, the data access group is center, coded choices are decoded to their labels, checkbox columns field___code are read together, and fields marked as identifiers never reach an output.",
        keys=(
            *_REDCAP_KEYS,
            Key("labs", "table", "The instrument (repeating, or collected at several events) that holds the lab table, one measurement per instance."),
            Key("therapy", "table", "The instrument (repeating, or collected at several events) that holds the therapy table, one regimen per instance."),
        ),
        example='[data.redcap]\nrecords = "records.csv"\ndictionary = "dictionary.csv"\nexport = "raw"\nbaseline_event = "baseline_arm_1"',
    ),
    Table(
        "data.redcap.checkboxes",
        "map",
        "How each checkbox field is read: field = \"set\" (one column: the checked choices' labels joined by \";\", in the dictionary's order; empty when none is checked) or \"columns\" (one column field___code per choice, \"yes\" or \"no\"). Default: set.",
        value=Key("*", "string", "set or columns.", choices=REDCAP_CHECKBOX_MODES, example="columns"),
        example='[data.redcap.checkboxes]\ncomorbidities = "columns"',
    ),
    *_redcap_instrument_tables("data.redcap.labs", "lab", ("date", "test", "value", "unit"), {"date": "lab_date", "test": "lab_test", "value": "lab_value", "unit": "lab_unit"}, "labs"),
    *_redcap_instrument_tables("data.redcap.therapy", "therapy", ("agents", "start_date", "end_date", "reason_end", "progression_date", "regimen", "line", "planned_phase", "best_response"), {"agents": "ther_agents", "start_date": "ther_start_date"}, "therapy"),
    Table(
        "variables",
        "map",
        "Per-variable metadata; [variables.NAME] for a column NAME of the patient table (after mapping) or a [[derive]] name.",
        value=Key("*", "table", "Metadata of one variable."),
        example='[variables.hgb]\nunit = "g/dL"\nlabel = "Hemoglobin"',
    ),
    Table(
        "variables.*",
        "table",
        "Metadata of one variable.",
        keys=(
            Key("unit", "string", "Unit of the values; numeric values are checked against plausible ranges for the unit (docs/validation.md).", example="g/dL", contract=True),
            Key("label", "string", "Display label in tables and figures.", example="Hemoglobin", contract=True),
            Key("type", "string", "numeric, categorical or date. Default: inferred (a column with a unit is numeric).", choices=("numeric", "categorical", "date"), example="categorical"),
            Key("levels", "strings", "The values the column may hold, in the order of tables and figures; the first level is the default reference. Any other value is an error (MMV022), never a category of its own.", example=["F", "M"]),
            Key("analyte", "string", "Which analyte the unit refers to (hemoglobin, creatinine, calcium, albumin, beta2_microglobulin, ldh, age, ...); guessed from the name when absent.", example="hemoglobin"),
        ),
    ),
    Table(
        "response",
        "table",
        "Where best response and progression come from, and the IMWG derivation parameters (docs/clinical.md).",
        keys=(
            Key("source", "string", "recorded: use the patient table's best_response and progression_date; labs: derive them from the lab table by IMWG 2016 rules.", default="recorded", choices=("recorded", "labs"), example="labs", contract=True),
            Key("criteria", "string", "Response criteria version.", default="imwg2016", choices=("imwg2016",), example="imwg2016", contract=True),
            Key("baseline_window_days", "integer", "Baseline = the last value within this many days before day 0.", default=30, minimum=0, maximum=3650, example=30, contract=True),
            Key("measurable_serum_g_dl", "number", "Serum M-protein threshold of measurable disease: 1.0 g/dL (IMWG) or 0.5 (many relapsed/refractory protocols).", default=1.0, minimum=0.5, maximum=1.0, example=0.5),
            Key("refractory_threshold", "string", "Best response below which a regimen counts as nonresponsive: MR (IMWG) or PR (some real-world studies).", default="MR", choices=("MR", "PR"), example="MR"),
            Key("refractory_window_days", "integer", "Progression within this many days after the last dose counts as refractory.", default=60, minimum=0, maximum=3650, example=60),
            Key("unconfirmed_pd_is_event", "boolean", "An unconfirmed PD reading at the last assessment counts as a progression event (sensitivity analysis).", default=False, example=True),
            Key("unconfirmed_pd_bor", "string", "Best response when the only reading is an unconfirmed PD.", default="PD", choices=("PD", "NE"), example="NE"),
            Key("scr_without_clonality", "string", "Without a marrow clonality result: CR (sCR downgraded, the IMWG missing-data rule) or flc_ratio (the FLC ratio alone decides sCR).", default="CR", choices=("CR", "flc_ratio"), example="CR"),
            Key("steroid_change_opens_line", "boolean", "Adding or dropping dexamethasone alone opens a new line of therapy.", default=False, example=False),
            Key("regimen_merge_days", "integer", "Therapy rows starting within this many days of each other form one regimen.", default=30, minimum=0, maximum=365, example=30),
            Key("profile", "string", "strict: IMWG as written; relaxed: the real-world derived response (one assessment suffices for a response category, a missing marrow does not block CR); simultaneous_pd: strict, and a biochemical progression in two markers at one assessment needs no second assessment (docs/clinical.md section 1.5).", default="strict", choices=("strict", "relaxed", "simultaneous_pd"), example="relaxed"),
            Key("isotype_column", "string", "Patient-table column holding the M-protein isotype (e.g. IgG kappa), for the anti-CD38 interference flag; absent or empty means unknown.", default="isotype", example="isotype"),
        ),
    ),
    Table(
        "km",
        "table",
        "Kaplan-Meier options.",
        keys=(
            Key("conf_type", "string", "Transform of the pointwise confidence band: log-log (SAS, most oncology SAPs), log (R survfit's default) or plain.", default="log-log", choices=("log-log", "log", "plain"), example="log-log", contract=True),
            Key("conf_level", "number", "Confidence level of the band and the median CI.", default_doc="1 - [study] alpha", minimum=0.5, maximum=0.999, example=0.95),
            Key("landmarks", "numbers", "Landmark times (in the study's time unit) at which survival is reported.", default=[12.0, 24.0], minimum=0, example=[12, 24], contract=True),
            Key("median_ci", "string", "Which median CI results.json calls `median`: band (R: where the band crosses 0.5) or symmetric (SPSS-style median +- z x SE). Both are always written.", default="band", choices=("band", "symmetric"), example="band"),
            Key("risk_table_step", "number", "Spacing of the numbers-at-risk ticks, in the time unit. Default: automatic.", minimum=1e-9, example=6),
            Key("endpoints", "strings", "Endpoints of the Kaplan-Meier section, in order: PFS, OS, TTP, DoR, TTNT, PFS2 (docs/clinical.md section 6).", default=["PFS", "OS"], example=["PFS", "OS", "DoR", "TTNT"]),
            Key("landmark_from", "number", "Landmark analysis of response (avoids immortal time bias): patients alive and event-free at this time (in the study's time unit), grouped by whether they reached PR or better by then, followed from the landmark (results.json landmark_analysis).", minimum=1e-9, example=6),
        ),
        example='[km]\nconf_type = "log-log"\nlandmarks = [12, 24]',
    ),
    Table(
        "derive",
        "array",
        "A derived column: 1/0 (or two labels) from a numeric column by a threshold, or from a categorical column by a list of values. Exactly one of below, at_least, above, in.",
        keys=(
            Key("name", "string", "Name of the new column.", required=True, example="hgb_lt_11", contract=True),
            Key("from", "string", "The column it is derived from.", required=True, example="hgb", contract=True),
            Key("below", "number", "1 where the value is < this, 0 where >=; missing stays missing.", example=11, contract=True),
            Key("at_least", "number", "1 where the value is >= this, 0 where <.", example=70),
            Key("above", "number", "1 where the value is > this, 0 where <=.", example=3),
            Key("in", "strings", "Categorical source: 1 where the value is one of these, 0 otherwise.", example=["high"]),
            Key("labels", "strings", "Two labels [label for 1, label for 0] that replace 1/0.", example=["<11", ">=11"]),
        ),
        example='[[derive]]\nname = "hgb_lt_11"\nfrom = "hgb"\nbelow = 11',
    ),
    Table(
        "proportion",
        "array",
        "The share of patients whose variable is in a success set, with a confidence interval.",
        keys=(
            Key("name", "string", "Name of the proportion (used by [[compare_proportion]] and [[cutpoint]]).", required=True, example="ORR", contract=True),
            Key("variable", "string", "The categorical variable.", required=True, example="best_response", contract=True),
            Key("success", "strings", "Values that count as success.", required=True, example=["sCR", "CR", "VGPR", "PR"], contract=True),
            Key("method", "string", "Confidence interval: clopper-pearson (exact, R binom.test), wilson, wilson-cc (R prop.test).", default="clopper-pearson", choices=("clopper-pearson", "wilson", "wilson-cc"), example="clopper-pearson"),
            Key("denominator", "string", "all patients, or non-missing values only.", default="all", choices=("all", "non-missing"), example="all"),
        ),
        example='[[proportion]]\nname = "ORR"\nvariable = "best_response"\nsuccess = ["sCR", "CR", "VGPR", "PR"]',
    ),
    Table(
        "compare_proportion",
        "array",
        "Association of a binary outcome (a [[proportion]]) with a factor: Fisher exact (2x2) or chi-square, plus the logistic odds ratio.",
        keys=(
            Key("outcome", "string", "A [[proportion]] name.", required=True, example="ORR", contract=True),
            Key("by", "string", "The factor (a categorical, derived or numeric column).", required=True, example="tcr", contract=True),
        ),
        example='[[compare_proportion]]\noutcome = "ORR"\nby = "tcr"',
    ),
    Table(
        "logrank",
        "array",
        "Log-rank test (R survdiff) of an endpoint by a factor.",
        keys=(
            Key("endpoint", "string", _ENDPOINT_DOC, required=True, choices=ENDPOINT_CHOICES, example="PFS", contract=True),
            Key("by", "string", "The grouping column; rows missing it are dropped.", required=True, example="sex", contract=True),
            Key("strata", "string", "Stratify the test by this column (e.g. center).", example="center"),
            Key("trend", "boolean", "Also test for trend over the ordered levels (scores 1..k).", default=False, example=True),
            Key("rho", "number", "G-rho family weight; 0 = log-rank, 1 = Peto-Peto.", default=0.0, minimum=0.0, maximum=10.0, example=0),
        ),
        example='[[logrank]]\nendpoint = "PFS"\nby = "sex"',
    ),
    Table(
        "cox",
        "array",
        "Cox proportional hazards model (R coxph) of an endpoint.",
        keys=(
            Key("endpoint", "string", _ENDPOINT_DOC, required=True, choices=ENDPOINT_CHOICES, example="OS", contract=True),
            Key("terms", "strings", "Covariates: numeric (HR per unit) or categorical (dummies vs the reference).", required=True, example=["age", "sex", "hgb"], contract=True),
            Key("reference", "map", "Reference level per categorical term; default: the first of [variables.X] levels, else the first in sorted order.", contract=True),
            Key("ties", "string", "Tie handling: efron (R's default) or breslow (SAS PHREG's default).", default="efron", choices=("efron", "breslow"), example="efron", contract=True),
            Key("ph_test", "boolean", "Grambsch-Therneau proportional-hazards test (R cox.zph).", default=True, example=True, contract=True),
            Key("ph_transform", "string", "Time transform of the PH test.", default="km", choices=("km", "rank", "identity"), example="km"),
            Key("strata", "string", "Stratified model: a separate baseline hazard per level of this column.", example="center"),
            Key("robust", "boolean", "Sandwich (robust) variance.", default=False, example=True),
            Key("cluster", "string", "Robust variance clustered by this column (e.g. center).", example="center"),
            Key("firth", "string", "Firth's penalized Cox: auto (also fitted when the likelihood is monotone), always, never.", default="auto", choices=("auto", "always", "never"), example="auto"),
            Key("name", "string", "A name for the model in the reports.", example="Multivariable PFS model"),
            Key("term_tests", "string_or_false", "One overall test per term (a factor's levels tested jointly): II (type II likelihood-ratio tests, R car::Anova; the Wald test with a robust variance), sequential (R anova: terms added in the order written), or false for none.", default="II", choices=("II", "sequential"), example="II"),
            Key("rare_outcome", "boolean", "For the E-values of this model's hazard ratios: true if the outcome is rare (< 15% had the event), false if common.", default_doc="[study] rare_outcome, else decided from the model's event share (common when >= 15%)", example=False),
        ),
        example='[[cox]]\nendpoint = "OS"\nterms = ["age", "sex", "hgb"]\nreference = { sex = "F" }\nties = "efron"',
    ),
    Table(
        "cox.reference",
        "map",
        "Reference level per categorical term of the model: term = level.",
        value=Key("*", "scalar", "The reference level (a value of the term's column).", example="F"),
        example='reference = { sex = "F", tcr = "no" }',
    ),
    Table(
        "cutpoint",
        "array",
        "Data-driven cut-off of a numeric variable for an endpoint (maxstat or Youden) or a binary outcome (Youden). Exactly one of endpoint, proportion.",
        keys=(
            Key("endpoint", "string", "The survival outcome: " + _ENDPOINT_DOC, choices=ENDPOINT_CHOICES, example="PFS", contract=True),
            Key("proportion", "string", "A [[proportion]] name (binary outcome).", example="ORR"),
            Key("variable", "string", "The numeric variable to cut.", required=True, example="hgb", contract=True),
            Key("method", "string", "maxstat (maximally selected log-rank statistic, p adjusted for the search) or youden (ROC).", default="maxstat", choices=("maxstat", "youden"), example="maxstat", contract=True),
            Key("minprop", "number", "maxstat: smallest share of patients in the low group (R maxstat.test minprop).", default=0.1, minimum=0.0, maximum=0.49, example=0.1, contract=True),
            Key("maxprop", "number", "maxstat: largest share of patients in the low group (R maxstat.test maxprop); stays 0.9, as in R, when only minprop changes.", default=0.9, minimum=0.5, maximum=1.0, example=0.9),
            Key("direction", "string", "youden: the event is predicted when x <= cut (\"<=\") or x >= cut (\">=\").", default=">=", choices=("<=", ">="), example="<=", contract=True),
            Key("pmethod", "string", "maxstat p-value adjusted for the search.", default="Lau94", choices=("Lau94", "Lau92", "condMC"), example="Lau94"),
            Key("bootstrap", "integer", "Bootstrap resamples for the cut-off's interval and the optimism-corrected HR; 0 = off.", default=1000, minimum=0, maximum=100000, example=1000),
            Key("seed", "integer", "Random seed of the bootstrap and permutations.", default=20250101, minimum=0, example=20250101),
            Key("n_perm", "integer", "Monte Carlo permutations for a conditional p-value; 0 = off.", default=0, minimum=0, maximum=10_000_000, example=0),
        ),
        example='[[cutpoint]]\nendpoint = "PFS"\nvariable = "hgb"\nmethod = "maxstat"\nminprop = 0.1',
    ),
    Table(
        "subgroup",
        "array",
        "Effect of one binary factor within subgroups: its hazard ratio in each level of each by column (one Cox model per level), the interaction test per by column, and the hazard ratio in all patients; a table and a forest plot.",
        keys=(
            Key("endpoint", "string", "PFS or OS.", required=True, choices=ENDPOINT_CHOICES, example="PFS", contract=True),
            Key("effect", "string", "A column with two levels; the hazard ratio is of its second level against its first (the reference).", required=True, example="hgb_lt_11", contract=True),
            Key("by", "strings", "Subgroup columns (categorical, or numeric with few values); rows missing the column are left out of its models.", required=True, example=["age_group", "tcr"], contract=True),
            Key("reference", "scalar", "Reference level of the effect. Default: the first of [variables.EFFECT] levels, else the first in sorted order.", example=">=11"),
        ),
        example='[[subgroup]]\nendpoint = "PFS"\neffect = "hgb_lt_11"\nby = ["age_group", "tcr"]',
    ),
    Table(
        "cuminc",
        "array",
        "Cumulative incidence of one kind of PFS end (progression, or death without progression) with the other as competing event: Aalen-Johansen estimate as R cmprsk::cuminc, Gray's test across groups, values at chosen times (cmprsk::timepoints).",
        keys=(
            Key("event", "string", "The event of interest: progression (the PFS end was a progression) or death (the PFS end was a death without progression).", required=True, choices=COMPETING_EVENTS, example="progression", contract=True),
            Key("competing", "string", "The competing event: the other of progression and death.", default_doc="the other of progression and death", choices=COMPETING_EVENTS, example="death", contract=True),
            Key("by", "string", "Group column: one curve per level and Gray's test across the levels; rows missing it are dropped.", example="sex", contract=True),
            Key("times", "numbers", "Times (in the study's time unit) at which the cumulative incidence is reported.", default_doc="the [km] landmarks", minimum=0, example=[12, 24], contract=True),
            Key("conf_type", "string", "Pointwise confidence interval: log-log (est^exp(+-z se / (est log est))) or plain (est +- z se, clipped to [0, 1]).", default="log-log", choices=("log-log", "plain"), example="log-log"),
            Key("conf_level", "number", "Confidence level of the pointwise intervals.", default_doc="1 - [study] alpha", minimum=0.5, maximum=0.999, example=0.95),
            Key("strata", "string", "Stratify Gray's test by this column (the curves are not stratified), as cmprsk::cuminc strata.", example="center"),
            Key("rho", "number", "Power of the weight (1 - F(t-))^rho of Gray's test; 0 = the usual test.", default=0.0, minimum=0.0, maximum=10.0, example=0),
        ),
        example='[[cuminc]]\nevent = "progression"\ncompeting = "death"\nby = "sex"\ntimes = [12, 24]',
    ),
    Table(
        "finegray",
        "array",
        "Fine-Gray subdistribution hazards model (R cmprsk::crr) of progression or death with the other as competing event, and the cause-specific Cox model of the same terms.",
        keys=(
            Key("event", "string", "The event of interest: progression or death (as in [[cuminc]]).", required=True, choices=COMPETING_EVENTS, example="progression", contract=True),
            Key("competing", "string", "The competing event: the other of progression and death.", default_doc="the other of progression and death", choices=COMPETING_EVENTS, example="death", contract=True),
            Key("terms", "strings", "Covariates: numeric (per unit) or categorical (dummies vs the reference).", required=True, example=["age", "sex", "hgb"], contract=True),
            Key("reference", "map", "Reference level per categorical term; default: the first of [variables.X] levels, else the first in sorted order.", contract=True),
            Key("cengroup", "string", "A separate censoring distribution per level of this column (crr's cengroup), e.g. when follow-up differs by center.", example="center"),
            Key("cause_specific", "boolean", "Also fit the cause-specific Cox model of the same terms (competing events censored; R coxph, Efron ties).", default=True, example=True),
            Key("conf_level", "number", "Confidence level of the hazard ratio intervals.", default_doc="1 - [study] alpha", minimum=0.5, maximum=0.999, example=0.95),
        ),
        example='[[finegray]]\nevent = "progression"\ncompeting = "death"\nterms = ["age", "sex", "hgb"]\nreference = { sex = "F" }',
    ),
    Table(
        "finegray.reference",
        "map",
        "Reference level per categorical term of the model: term = level.",
        value=Key("*", "scalar", "The reference level (a value of the term's column).", example="F"),
        example='reference = { sex = "F" }',
    ),
    Table(
        "tv_cox",
        "array",
        "Cox model with covariates that switch from 0 to 1 at a date (R coxph(Surv(start, stop, event) ~ ..., cluster = patient) on the follow-up split at that date): response as a time-varying covariate avoids immortal time bias.",
        keys=(
            Key("endpoint", "string", "The endpoint (not DoR, whose origin is the response itself). " + _ENDPOINT_DOC, required=True, choices=ENDPOINT_CHOICES, example="OS"),
            Key("time_varying", "strings", "Covariates that are 0 before and 1 from their date on: response (PR or better reached: first_response_date) or the name of any date column.", default=["response"], example=["response"]),
            Key("terms", "strings", "Baseline covariates adjusted for (numeric, or categorical as dummies vs the reference).", default=[], example=["age", "sex"]),
            Key("reference", "map", "Reference level per categorical term."),
            Key("ties", "string", "Tie handling: efron (R's default) or breslow.", default="efron", choices=("efron", "breslow"), example="efron"),
            Key("name", "string", "A name for the model in the reports.", example="Response as a time-varying covariate"),
        ),
        example='[[tv_cox]]\nendpoint = "OS"\ntime_varying = ["response"]\nterms = ["age"]',
    ),
    Table(
        "tv_cox.reference",
        "map",
        "Reference level per categorical term of the model: term = level.",
        value=Key("*", "scalar", "The reference level (a value of the term's column).", example="F"),
        example='reference = { sex = "F" }',
    ),
    Table(
        "rmst",
        "array",
        "Restricted mean survival time (RMST) of an endpoint up to tau: per group with its standard error and confidence interval, and for two groups the difference and the ratios (R survRM2 rmst2, unadjusted).",
        keys=(
            Key("endpoint", "string", "PFS or OS.", required=True, choices=ENDPOINT_CHOICES, example="OS", contract=True),
            Key("tau", "number", "Truncation time, in the study's time unit; at most the largest tau the follow-up allows (survRM2's rule).", required=True, minimum=1e-9, example=24, contract=True),
            Key("by", "string", "Group column: RMST per level; with two levels their difference and ratios. Rows missing it are dropped.", example="sex", contract=True),
            Key("reference", "scalar", "The group subtracted and in the denominator of the contrasts (survRM2's arm 0); default: the first level.", example="F"),
            Key("conf_level", "number", "Confidence level of every interval.", default_doc="1 - [study] alpha", minimum=0.5, maximum=0.999, example=0.95),
        ),
        example='[[rmst]]\nendpoint = "OS"\ntau = 24\nby = "sex"\nreference = "F"',
    ),
    Table(
        "iptw",
        "array",
        "Inverse probability of treatment weighting (IPTW) of a binary treatment: logistic propensity score (R glm), weights (WeightIt's formulas), covariate balance (cobalt's standardized mean differences), weighted Kaplan-Meier per arm and a weighted Cox model with robust SE (R coxph(weights =, robust = TRUE)), with E-values.",
        keys=(
            Key("treatment", "string", "The binary treatment column; the second level (declared order, else sorted) is the treated group unless `treated` says otherwise.", required=True, example="grp", contract=True),
            Key("covariates", "strings", "Confounders in the logistic propensity model: numeric ones enter linearly, categorical ones as dummies.", required=True, example=["age", "sex", "bili"], contract=True),
            Key("estimand", "string", "ATE (whole population: 1/ps and 1/(1-ps)), ATT (the treated: 1 and ps/(1-ps)) or ATO (overlap: 1-ps and ps).", default="ATE", choices=("ATE", "ATT", "ATO"), example="ATE", contract=True),
            Key("endpoint", "string", "PFS or OS: weighted Kaplan-Meier per arm and weighted Cox model; without it only the propensity score, weights and balance are reported.", choices=ENDPOINT_CHOICES, example="OS", contract=True),
            Key("treated", "string", "The level of the treatment column that is the treated group.", default_doc="the second level", example="IsaPd"),
            Key("reference", "map", "Reference level per categorical covariate of the propensity model; default: the first level."),
            Key("stabilize", "boolean", "Stabilized weights: multiply by the share of the patient's own group (ATE only, as WeightIt).", default=False, example=True),
            Key("trim_bounds", "numbers", "Keep only patients with lower <= ps <= upper (e.g. [0.1, 0.9], Crump et al. 2009); the others get weight 0.", minimum=0, example=[0.1, 0.9]),
            Key("trim_quantile", "number", "Asymmetric trimming (Stürmer et al. 2010): keep ps >= the q-quantile among the treated and <= the (1-q)-quantile among the controls.", minimum=0, maximum=0.49, example=0.05),
            Key("smd_threshold", "number", "Warn when a covariate's absolute standardized mean difference after weighting exceeds this.", default=0.1, minimum=0, maximum=2, example=0.1),
            Key("ps_bounds", "numbers", "Warn (positivity) when an analysed patient's propensity score lies outside [lower, upper].", default=[0.025, 0.975], minimum=0, example=[0.025, 0.975]),
            Key("min_ess_fraction", "number", "Warn when a group's effective sample size is below this share of its patients.", default=0.25, minimum=0, maximum=1, example=0.25),
            Key("rare_outcome", "boolean", "For the E-value of the weighted hazard ratio: true if the outcome is rare (< 15% had the event), false if common.", default_doc="[study] rare_outcome, else decided from the event share (common when >= 15%)", example=False),
            Key("name", "string", "A name for the analysis in the reports.", example="IsaPd vs KPd, overlap weights"),
        ),
        example='[[iptw]]\ntreatment = "grp"\ncovariates = ["age", "sex", "bili"]\nestimand = "ATE"\nendpoint = "OS"',
    ),
    Table(
        "iptw.reference",
        "map",
        "Reference level per categorical covariate of the propensity model: covariate = level.",
        value=Key("*", "scalar", "The reference level.", example="F"),
        example='reference = { sex = "F" }',
    ),
    Table(
        "maic",
        "array",
        "Matching-adjusted indirect comparison (Signorovitch 2010; NICE DSU TSD 18): the cohort is reweighted so that its covariate means (and SDs) equal a published trial arm's, and its weighted outcome is set beside the trial's. Exactly one of outcome, endpoint.",
        keys=(
            Key("covariates", "strings", "Covariates matched; each needs a target.", required=True, example=["age", "tcr"]),
            Key("target", "map", "The trial arm's published baseline value per covariate.", required=True),
            Key("outcome", "string", "A [[proportion]] name (e.g. ORR): its weighted share is compared.", example="ORR"),
            Key("endpoint", "string", "PFS or OS: the weighted Kaplan-Meier median (or survival at `at`) is compared.", choices=ENDPOINT_CHOICES, example="PFS"),
            Key("statistic", "string", "With an endpoint: compare the median, or the survival at time `at`.", default="median", choices=("median", "survival"), example="median"),
            Key("at", "number", "With statistic = \"survival\": the landmark time, in the study's time unit.", minimum=0, example=12),
            Key("landmarks", "numbers", "With an endpoint: weighted survival also reported at these times.", default=[], minimum=0, example=[12, 24]),
            Key("comparator", "table", "The trial arm's published outcome with its confidence interval."),
            Key("contrast", "string", "How the weighted cohort is compared with the trial: ratio (weighted / published) or difference (weighted - published).", default_doc="ratio for a median or survival, difference for a proportion", choices=("ratio", "difference"), example="ratio"),
            Key("n_boot", "integer", "Bootstrap resamples (weights re-estimated in each; comparator drawn from its CI).", default=1000, minimum=2, maximum=100000, example=1000),
            Key("seed", "integer", "Random seed of the bootstrap.", default=20250101, minimum=0, example=20250101),
            Key("name", "string", "A name for the comparison in the reports.", example="PFS vs ICARIA-MM IsaPd"),
            Key("source", "string", "Citation of the published values.", default="", example="Attal et al., Lancet 2019;394:2096-107"),
        ),
        example='[[maic]]\nendpoint = "PFS"\ncovariates = ["age_ge_75", "tcr"]\ntarget = { age_ge_75 = { proportion = 0.21, level = "yes" }, tcr = { proportion = 0.73, level = "yes" } }\ncomparator = { estimate = 11.53, lower = 8.94, upper = 13.90 }',
    ),
    Table(
        "maic.target",
        "map",
        "Covariate = its published value in the trial arm: { mean = ..., sd = ... } for a numeric covariate (sd optional: then only the mean is matched), or { proportion = ..., level = ... } for a binary one.",
        value=Key("*", "table", "The published value of one covariate."),
        example='target = { age = { mean = 67.2, sd = 9.1 }, tcr = { proportion = 0.73, level = "yes" } }',
    ),
    Table(
        "maic.target.*",
        "table",
        "The published value of one covariate: exactly one of mean, proportion.",
        keys=(
            Key("mean", "number", "Published mean (a published median is sometimes used in its place: say so in the source).", example=67.2),
            Key("sd", "number", "Published standard deviation: the second moment is matched too.", minimum=0, example=9.1),
            Key("proportion", "number", "Published share (0-1) of patients in `level`.", minimum=0, maximum=1, example=0.73),
            Key("level", "string", "The level whose share `proportion` is.", default_doc="the second level of the column (declared order, else sorted)", example="yes"),
        ),
    ),
    Table(
        "maic.comparator",
        "table",
        "The trial arm's published outcome and its confidence interval.",
        keys=(
            Key("estimate", "number", "Published value (median in the study's time unit, or a proportion 0-1).", required=True, example=11.53),
            Key("lower", "number", "Lower limit of its confidence interval.", required=True, example=8.94),
            Key("upper", "number", "Upper limit of its confidence interval.", required=True, example=13.9),
            Key("scale", "string", "Where its sampling distribution is taken as normal: log (medians, rates), logit (proportions) or identity.", default_doc="logit for a proportion, log otherwise", choices=("log", "logit", "identity"), example="log"),
            Key("conf_level", "number", "Confidence level of the published interval.", default=0.95, minimum=0.5, maximum=0.999, example=0.95),
            Key("name", "string", "The comparator arm, as shown in the reports.", default="", example="ICARIA-MM, IsaPd arm"),
        ),
    ),
    Table(
        "imputation",
        "table",
        "Multiple imputation of missing covariates by chained equations (the algorithm of R mice: pmm for numbers, logreg for two levels, polyreg for more). Every [[cox]], [[compare_proportion]] logistic model and [[proportion]] whose variables have missing values is refitted on each imputed data set and pooled by Rubin's rules (Barnard-Rubin degrees of freedom); the complete-case result stays beside it.",
        keys=(
            Key("m", "integer", "Number of imputed data sets (at least the percentage of incomplete patients is a common rule).", default=20, minimum=2, maximum=1000, example=50),
            Key("maxit", "integer", "Iterations of the chained equations.", default=10, minimum=1, maximum=200, example=10),
            Key("seed", "integer", "Random seed: the same seed gives the same imputations.", default=20250101, minimum=0, example=20250101),
            Key("donors", "integer", "Donor pool of predictive mean matching.", default=5, minimum=1, maximum=100, example=5),
            Key("variables", "strings", "Columns of the imputation model (imputed where missing, predictors always).", default=[], default_doc="the columns of the analyses pooled: [[cox]] terms, [[compare_proportion]] factors, [[proportion]] variables", example=["fish_risk", "age", "sex", "hgb"]),
            Key("auxiliary_endpoint", "string", "Whose event indicator and Nelson-Aalen cumulative hazard H(T) enter the imputation model as predictors (White & Royston 2009): auto (the endpoints of the [[cox]] models), PFS, OS, both or none.", default="auto", choices=("auto", "PFS", "OS", "both", "none"), example="auto"),
            Key("cumhaz_interactions", "boolean", "Also use H(T) times each complete covariate of the imputation model as predictors (better coverage when effects are not small).", default=True, example=True),
        ),
        example='[imputation]\nm = 50\nseed = 20250101\nvariables = ["fish_risk", "age", "sex", "hgb"]',
    ),
    Table(
        "target",
        "table",
        "The emulated target trial, in the authors' words, for the TARGET table of the report (Cashin et al., BMJ/JAMA 2025); the report sets what the spec itself says beside each item.",
        keys=(
            Key("question", "string", "The causal question.", default="", example="Does IsaPd prolong PFS compared with the ICARIA-MM IsaPd arm's population?"),
            Key("eligibility", "string", "Eligibility criteria of the target trial and how they were applied to the data.", default="", example="Relapsed myeloma refractory to daratumumab, >= 2 prior lines"),
            Key("treatment_strategies", "string", "The treatment strategies compared.", default="", example="IsaPd started within 30 days of eligibility"),
            Key("assignment", "string", "How assignment is emulated (e.g. randomization emulated by adjustment for baseline confounders).", default="", example="Weighting by the propensity score"),
            Key("time_zero", "string", "Start of follow-up: when eligibility is met and the strategy assigned.", default="", example="First dose of IsaPd"),
            Key("follow_up", "string", "End of follow-up: event, loss to follow-up, data cut-off.", default="", example="Until progression, death or 30 June 2024"),
            Key("outcomes", "string", "Outcomes and how they are ascertained.", default="", example="PFS and OS; progression by IMWG 2016"),
            Key("estimand", "string", "The causal contrast (intention-to-treat or per-protocol) and the population it refers to.", default="", example="Intention-to-treat effect in the treated (ATT)"),
            Key("confounders", "string", "Confounders and why they were chosen.", default="", example="Age, ISS, prior lines, refractoriness"),
            Key("analysis", "string", "The analysis plan in words.", default="", example="Weighted Cox model with robust SE"),
            Key("missing_data", "string", "How missing data were handled.", default="", example="Multiple imputation (m = 50)"),
        ),
        example='[target]\ntime_zero = "First dose of IsaPd"\nestimand = "Intention-to-treat effect in the treated"',
    ),
    Table(
        "risk_scores",
        "table",
        "Myeloma staging and risk as derived columns iss, r_iss, r2_iss (with r2_iss_points) and ims2025_risk (docs/clinical.md section 5). Each names the patient-table column holding an input; a score is derived when all its inputs are named, and is \"not assessable\" for a patient whose missing inputs could change it (never guessed). FISH findings: present / absent / empty when not tested.",
        keys=(
            Key("beta2m", "string", "Column of serum beta2-microglobulin in mg/L (ISS, R-ISS, R2-ISS, IMS/IMWG 2025).", example="b2m"),
            Key("albumin", "string", "Column of serum albumin (ISS, R-ISS, R2-ISS).", example="albumin"),
            Key("albumin_unit", "string", "Unit of the albumin column; default: its [variables.NAME] unit (required one way or the other).", choices=("g/dL", "g/L"), example="g/L"),
            Key("ldh", "string", "Column of LDH: high / normal, or a value in U/L with ldh_uln (R-ISS, R2-ISS).", example="ldh"),
            Key("ldh_uln", "scalar", "Upper limit of normal of a numeric LDH: a number (one for all) or the name of a column holding each patient's.", example=250),
            Key("del17p", "string", "Column of del(17p) by FISH (R-ISS, R2-ISS, IMS/IMWG 2025).", example="del17p"),
            Key("del17p_pct", "string", "Column of the percentage of clonal plasma cells with del(17p) (IMS/IMWG 2025: high risk above del17p_cutoff).", example="del17p_pct"),
            Key("del17p_cutoff", "number", "IMS/IMWG 2025: del(17p) counts when its clonal fraction is above this percentage.", default=20.0, minimum=0, maximum=100, example=20),
            Key("t4_14", "string", "Column of t(4;14) by FISH (R-ISS, R2-ISS, IMS/IMWG 2025).", example="t4_14"),
            Key("t14_16", "string", "Column of t(14;16) by FISH (R-ISS, IMS/IMWG 2025).", example="t14_16"),
            Key("t14_20", "string", "Column of t(14;20) by FISH (IMS/IMWG 2025).", example="t14_20"),
            Key("gain1q", "string", "Column of 1q+ (gain or amplification) by FISH (R2-ISS, IMS/IMWG 2025).", example="gain1q"),
            Key("del1p32", "string", "Column of del(1p32): absent, monoallelic, biallelic, or present when the allelic status is unknown (IMS/IMWG 2025).", example="del1p32"),
            Key("tp53", "string", "Column of TP53 mutation (IMS/IMWG 2025).", example="tp53"),
            Key("creatinine", "string", "Column of serum creatinine (IMS/IMWG 2025).", example="creatinine"),
            Key("creatinine_unit", "string", "Unit of the creatinine column; default: its [variables.NAME] unit (required one way or the other).", choices=("mg/dL", "umol/L"), example="mg/dL"),
        ),
        example='[risk_scores]\nbeta2m = "b2m"\nalbumin = "albumin"\nalbumin_unit = "g/dL"\nldh = "ldh_status"\ndel17p = "del17p"\nt4_14 = "t4_14"\nt14_16 = "t14_16"\ngain1q = "gain1q"',
    ),
    Table(
        "table1",
        "table",
        "Baseline characteristics table.",
        keys=(
            Key("variables", "strings", "Rows of the table, in order. Default: every covariate.", default=[], example=["age", "sex", "hgb"]),
            Key("by", "string", "Columns per level of this variable, with a test per row.", example="tcr"),
        ),
    ),
    Table(
        "validation",
        "table",
        "Issues accepted knowingly, and what to do with invalid rows.",
        keys=(
            Key("accept", "map", "Issue code = written reason: the issue is accepted and listed as such."),
            Key("exclude_invalid_rows", "boolean", "Rows with errors are excluded (with the reason) instead of stopping the run.", default=False, example=False),
        ),
    ),
    Table(
        "validation.accept",
        "map",
        "Issue code = the reason it is accepted.",
        value=Key("*", "string", "Why the issue is accepted.", example="values checked with the center"),
        example='[validation.accept]\nMMV011 = "values checked with the center"',
    ),
    Table(
        "cohort",
        "table",
        "Patients excluded by the study team.",
        keys=(Key("exclude", "array", "One entry per excluded patient."),),
    ),
    Table(
        "cohort.exclude",
        "array",
        "A patient excluded by the study team, with the reason.",
        keys=(
            Key("patient_id", "string", "The patient's id as in the table.", required=True, example="P-017"),
            Key("reason", "string", "Why (shown in the patient flow).", required=True, example="consent withdrawn"),
        ),
        example='[[cohort.exclude]]\npatient_id = "P-017"\nreason = "consent withdrawn"',
    ),
    Table(
        "report",
        "table",
        "Display options of the reports (never change a number in results.json).",
        keys=(
            Key("small_cell_k", "integer", "Counts below k print as \"<k\" in the reports, with complementary suppression (\"*\"); groups under k get no median or curve of their own; Table 1 refuses free-text and high-cardinality variables; 0 = off.", default=0, minimum=0, maximum=1000, example=5),
            Key("table1_by", "string", "Column of the baseline table's groups (overrides [table1] by).", example="tcr"),
            Key("figure_formats", "strings", "Also write every figure to DIR/figures/<name>.<ext> in these formats, any of pdf, svg, tiff, png (pdf and svg are vector with fonts embedded; tiff is LZW at figure_dpi).", default=[], example=["pdf", "svg", "tiff"]),
            Key("figure_dpi", "integer", "Resolution of the raster figure files (png, tiff).", default=600, minimum=72, maximum=2400, example=600),
            Key("figure_width_mm", "number", "Printed width of the figure files in mm (85-90: one journal column; 170-180: two).", default=170.0, minimum=50, maximum=260, example=85),
            Key("palette", "string", "Colours of group curves: a colour-blind-safe palette, or greyscale (line styles vary too).", default="okabe-ito", choices=("okabe-ito", "greyscale"), example="greyscale"),
            Key("km_annotations", "boolean", "Print HR (95% CI) and the log-rank p on Kaplan-Meier group plots.", default=True, example=False),
            Key("swimmer", "boolean", "Draw a swimmer plot (needs the therapy and lab tables): one bar per patient for the time on the regimen under study, response assessments, progression, death, ongoing treatment. Rows are anonymous (no id, no date); not drawn when small_cell_k > 0.", default=False, example=True),
            Key("swimmer_max_patients", "integer", "Most patients shown by the swimmer plot; a larger cohort is shown by evenly spaced ranks of the order by time on the regimen.", default=60, minimum=1, maximum=200, example=40),
            Key("therapy_flow", "boolean", "Draw the lines-of-therapy flow (Sankey; needs the therapy table): regimens per line and patients moving between consecutive lines, to death or no further line. Not drawn when small_cell_k > 0.", default=False, example=True),
            Key("therapy_flow_by", "string", "Nodes of the flow: the first regimen of each line as written in the therapy table, or its drug classes (PI + IMiD + anti-CD38).", default="regimen", choices=("regimen", "class"), example="class"),
            Key("therapy_flow_start", "string", "First column of the flow: each patient's first line, or the line of the regimen under study (earlier lines left out).", default="first_line", choices=("first_line", "study_line"), example="study_line"),
            Key("therapy_flow_max_lines", "integer", "Lines shown by the flow; patients with more lines end in \"Later lines\".", default=5, minimum=1, maximum=12, example=4),
            Key("patient_listing", "boolean", "Also write a per-patient QC listing (patient ids, exact dates of every finding) to DIR/restricted/patient_listing.csv; the run warns that it holds patient data.", default=False, example=True),
        ),
    ),
    Table(
        "published",
        "array",
        "A published figure set beside the reproduced one (name, value, CI, source), with the difference.",
        keys=(
            Key("name", "string", "What the figure is, as shown in the table.", required=True, example="median PFS"),
            Key("value", "number", "The published value.", required=True, example=5.8),
            Key("lower", "number", "Lower limit of its published CI.", example=3.9),
            Key("upper", "number", "Upper limit of its published CI.", example=7.7),
            Key("source", "string", "Where it was published.", default="", example="Martino et al., Hematol Oncol 2025"),
            Key("quantity", "string", "The reproduced quantity, by id (n, median:EP, median_symmetric:EP, followup:EP, landmark:EP:T, proportion:NAME, count:VAR:LEVEL, percent:VAR:LEVEL, response:CAT, hr:cox:K:COEF, hr:cutpoint:K, cutpoint:K, p:logrank:K; K 1-based); exactly one of quantity and path.", example="median:PFS"),
            Key("path", "string", "The reproduced number by its path in results.json (keys separated by dots, or a list of keys); exactly one of quantity and path.", example="endpoints.PFS.median"),
            Key("scale", "number", "Multiplies the reproduced value (e.g. 100 for a proportion published as a percentage).", default=1.0, example=100),
        ),
        example='[[published]]\nname = "median PFS"\nvalue = 5.8\nlower = 3.9\nupper = 7.7\nquantity = "median:PFS"',
    ),
    Table(
        "sites",
        "array",
        "One site export for `mmrwe pool`. Reading options left out are taken from [data].",
        keys=(
            Key("file", "string", "The site's file.", required=True, required_doc="unless redcap is given", example="north.csv"),
            Key("center", "string", "Every row of the file is this center.", example="Center A"),
            Key("centers", "strings", "The values the file's center column may hold.", default=[], example=["Center A", "Center B"]),
            Key("columns", "map", "Column mapping for this file (replaces [data.columns])."),
            Key("date_format", "string", "strftime format of this file's dates.", example="%d.%m.%Y"),
            Key("sheet", "string", "Excel sheet.", example="pazienti"),
            Key("delimiter", "string", "CSV field separator.", example=";"),
            Key("decimal", "string", "Decimal mark.", choices=(".", ","), example=","),
            Key("encoding", "string", "Text encoding.", example="latin-1"),
            Key("missing_values", "strings", "Cell texts meaning missing.", example=["", "NA"]),
            Key("units", "map", "Unit of a variable in this file; converted to the unit of [variables.NAME]."),
            Key("recode", "map", "Per variable: cell text = value, e.g. sex = { \"1\" = \"M\", \"2\" = \"F\" }."),
            Key("absent", "strings", "Columns this site does not collect (all missing here).", default=[], example=["fish_risk"]),
            Key("id_prefix", "string", "Prepended to this site's patient ids.", default="", example="N-"),
            Key("excel_serial_dates", "boolean", "Numbers in date columns are Excel serial dates.", default=False, example=True),
            Key("redcap", "table", "The site's REDCap project (record export and data dictionary) instead of a file; its patient table is pooled.", contract=True),
        ),
        example='[[sites]]\nfile = "north.csv"\ncenter = "Center A"\ndelimiter = ";"\ndecimal = ","',
    ),
    Table(
        "sites.redcap",
        "table",
        "A site's REDCap project, read as [data.redcap] reads one (its lab and therapy instruments are not pooled).",
        keys=_REDCAP_KEYS,
        example='redcap = { records = "north_records.csv", dictionary = "north_dictionary.csv" }',
    ),
    Table(
        "sites.redcap.checkboxes",
        "map",
        "How each checkbox field is read: set or columns (as under [data.redcap.checkboxes]).",
        value=Key("*", "string", "set or columns.", choices=REDCAP_CHECKBOX_MODES, example="columns"),
    ),
    Table(
        "sites.columns",
        "map",
        "Canonical name = this site's column name.",
        value=Key("*", "string", "The site's column name.", example="inizio_terapia"),
        suggested=_DATA_COLUMNS_SUGGESTED,
    ),
    Table(
        "sites.units",
        "map",
        "Variable = the unit this site uses for it.",
        value=Key("*", "string", "The unit at this site.", example="g/L"),
    ),
    Table(
        "sites.recode",
        "map",
        "Variable = a table of cell text = value.",
        value=Key("*", "map", "Cell text = value for one variable."),
    ),
    Table(
        "sites.recode.*",
        "map",
        "Cell text = value.",
        value=Key("*", "string", "The value the cell text stands for.", example="M"),
    ),
    Table(
        "pooling",
        "table",
        "Which row of a confirmed cross-site duplicate is kept.",
        keys=(
            Key("keep", "string", "longest_followup (the latest last_followup_date) or first_site (the site listed first).", default="longest_followup", choices=("longest_followup", "first_site"), example="longest_followup"),
            Key("duplicates", "array", "The user's decisions on flagged cross-site pairs."),
        ),
    ),
    Table(
        "pooling.duplicates",
        "array",
        "A decision on a flagged cross-site pair, as listed in pooling.json.",
        keys=(
            Key("rows", "strings", "The two rows of the pair, \"center/patient_id\".", required=True, example=["Center A/MM-017", "Center B/0042"]),
            Key("same_patient", "boolean", "true: one row is kept; false: both are kept.", required=True, example=True),
            Key("keep", "string", "Which row to keep (overrides [pooling] keep).", example="Center A/MM-017"),
        ),
    ),
    Table(
        "pseudonymize",
        "table",
        "What `mmrwe pseudonymize` drops and shifts at the site.",
        keys=(
            Key("identifiers", "strings", "Direct identifiers (source column names) to drop.", default=[], example=["name", "tax_code"]),
            Key("keep", "strings", "Columns that look identifying but are kept knowingly.", default=[], example=["birth_year"]),
            Key("keep_only", "strings", "Allow-list: only the id column and these columns leave the site; every other column is dropped.", example=["age", "sex", "hgb"]),
            Key("dates", "string", "How dates leave: keep, relative (whole days from each patient's start_date; no calendar date leaves) or shift (one keyed offset per patient).", choices=("keep", "relative", "shift"), example="relative"),
            Key("birth_dates", "string", "A kept birth-date column becomes: year (birth_year), age (age_at_index) or keep (exact dates; warned).", default="year", choices=("year", "age", "keep"), example="year"),
            Key("shift_dates", "boolean", "Shift every date of a patient by one keyed random offset (intervals unchanged).", default=False, example=True),
            Key("max_shift_days", "integer", "Largest date shift, in days.", default=182, minimum=1, maximum=3650, example=182),
        ),
    ),
)  # fmt: skip

_BY_PATH = {t.path: t for t in TABLES}


def table(path: str) -> Table:
    """The table at a schema path (``"km"``, ``"cox"``, ``"variables.*"``)."""
    return _BY_PATH[path]


def has_table(path: str) -> bool:
    """True if ``path`` names a table, array of tables or map of the spec."""
    return path in _BY_PATH


def all_keys() -> list[tuple[str, Key]]:
    """Every (dotted path, Key) of the spec, tables included, in table order."""
    out: list[tuple[str, Key]] = []
    for t in TABLES:
        for k in t.keys:
            out.append((f"{t.path}.{k.name}" if t.path else k.name, k))
        if t.value is not None:
            out.append((f"{t.path}.*", t.value))
    return out


def _norm_query(query: str) -> list[str]:
    """Split ``"[[cox]].ties"``, ``"cox.ties"``, ``"[[cox]] 2 -> ties"`` into segments."""
    q = query.strip()
    q = re.sub(r"\]\]\s*\d+\s*->\s*", "].", q)  # "[[cox]] 2 -> ties" -> "[[cox].ties"
    q = q.replace("->", ".").replace("[", "").replace("]", "")
    parts: list[str] = []
    for m in re.finditer(r'"([^"]*)"|([^.\s]+)', q):
        parts.append(m.group(1) if m.group(1) is not None else m.group(2))
    return parts


def resolve(query: str) -> tuple[str, Table | None, Key | None]:
    """Find a key or table from the way a user writes it.

    Accepts ``km.conf_type``, ``[km].conf_type``, ``[[cox]].ties``, ``cox.ties``,
    ``variables.hgb.unit``, ``data.columns.start_date`` and table names (``km``,
    ``[[cox]]``). Returns the canonical dotted path, the table (when the query names a
    table, or the table holding the key) and the key (None when the query names a table).
    Raises ``KeyError`` when nothing matches.
    """
    parts = _norm_query(query)
    if not parts:
        raise KeyError(query)
    if len(parts) == 1 and _BY_PATH[""].key(parts[0]) is None:
        # A bare key name ("ties") that exists in exactly one table.
        homes = [t.path for t in TABLES if t.kind != "map" and t.key(parts[0]) is not None]
        if len(homes) > 1:  # the contract's key first ("ties" is [[cox]]'s, not [[tv_cox]]'s)
            homes = [h for h in homes if (k := _BY_PATH[h].key(parts[0])) and k.contract] or homes
        if len(homes) == 1:
            parts = [*homes[0].split("."), parts[0]]
    path = ""
    current = _BY_PATH[""]
    key: Key | None = None
    for i, seg in enumerate(parts):
        if key is not None:
            if key.type in ("table", "array", "map"):
                current = _BY_PATH[path]
                key = None
            else:
                raise KeyError(query)
        if current.kind == "map":
            named = next((k for k in current.suggested if k.name == seg), None)
            key = named or current.value
            path = f"{current.path}.{seg if named else '*'}"
            if key is not None and key.type in ("table", "map") and i + 1 < len(parts):
                path = f"{current.path}.*"
            continue
        k = current.key(seg)
        if k is None:
            raise KeyError(query)
        key = k
        path = f"{current.path}.{seg}" if current.path else seg
    if key is not None and key.type in ("table", "array", "map") and path in _BY_PATH:
        return path, _BY_PATH[path], None
    parent = path.rsplit(".", 1)[0] if "." in path else ""
    return path, _BY_PATH.get(parent), key


def user_path(query: str, path: str) -> str:
    """``path`` with each ``*`` replaced by the name the user wrote (else ``NAME``)."""
    parts = _norm_query(query)
    segs = path.split(".")
    if len(parts) == len(segs):

        def q(name: str) -> str:
            return name if re.match(r"^[A-Za-z0-9_-]+$", name) else '"' + name + '"'

        return ".".join(q(p) if s == "*" else s for p, s in zip(parts, segs, strict=True))
    return path.replace("*", "NAME")


def closest(query: str, n: int = 3) -> list[str]:
    """Dotted key paths that look like ``query`` (for "did you mean")."""
    import difflib

    names = [p for p, _ in all_keys()]
    q = ".".join(_norm_query(query))
    out = difflib.get_close_matches(q, names, n=n, cutoff=0.5)
    last = q.rsplit(".", 1)[-1]
    for p in names:
        if p.rsplit(".", 1)[-1] == last and p not in out:
            out.append(p)
    return out[: max(n, 1) + 2]
