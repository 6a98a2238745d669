"""``[risk_scores]``: ISS, R-ISS, R2-ISS and IMS/IMWG 2025 risk as columns of the analysis table.

The spec names the patient-table columns holding the inputs; the scores come from
:mod:`mmrwe.derive.risk_scores` (three-valued: "not assessable" when a missing input could
change the answer, never guessed) and are joined back on the engine, before the
``[[derive]]`` columns, so every analysis and Table 1 can use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

import numpy as np

from mmrwe.core.errors import Location, SpecError
from mmrwe.spec.model import StudySpec

#: score -> (its columns, the [risk_scores] inputs it needs, levels, label, definition)
SCORES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str, str]] = {
    "iss": (
        ("iss",),
        ("beta2m", "albumin"),
        ("I", "II", "III", "not assessable"),
        "ISS (at index)",
        "International Staging System (Greipp 2005): I = beta2-microglobulin < 3.5 mg/L and "
        "albumin >= 3.5 g/dL; III = beta2-microglobulin >= 5.5 mg/L; II = neither",
    ),
    "r_iss": (
        ("r_iss",),
        ("beta2m", "albumin", "ldh", "del17p", "t4_14", "t14_16"),
        ("I", "II", "III", "not assessable"),
        "R-ISS (at index)",
        "Revised ISS (Palumbo 2015): I = ISS I, none of del(17p), t(4;14), t(14;16) and LDH "
        "<= ULN; III = ISS III and (one of those abnormalities or LDH > ULN); II = neither",
    ),
    "r2_iss": (
        ("r2_iss", "r2_iss_points"),
        ("beta2m", "albumin", "ldh", "del17p", "t4_14", "gain1q"),
        ("I", "II", "III", "IV", "not assessable"),
        "R2-ISS (at index)",
        "Second revision of the ISS (D'Agostino 2022): points ISS II 1, ISS III 1.5, del(17p) "
        "1, LDH > ULN 1, t(4;14) 1, 1q+ 0.5; I = 0, II = 0.5-1, III = 1.5-2.5, IV = 3-5",
    ),
    "ims2025_risk": (
        ("ims2025_risk",),
        ("del17p", "tp53", "t4_14", "t14_16", "t14_20", "gain1q", "del1p32", "beta2m",
         "creatinine"),
        ("high", "standard", "not assessable"),
        "IMS/IMWG 2025 genomic risk",
        "IMS/IMWG 2025 consensus (Avet-Loiseau 2025): high risk with del(17p) in more than "
        "del17p_cutoff % of clonal plasma cells and/or a TP53 mutation; t(4;14), t(14;16) or "
        "t(14;20) with 1q+ and/or del(1p32); biallelic del(1p32), or monoallelic with 1q+; or "
        "beta2-microglobulin >= 5.5 mg/L with creatinine < 1.2 mg/dL",
    ),
}  # fmt: skip
_NUMERIC = ("beta2m", "albumin", "creatinine", "del17p_pct")


def risk_columns(spec: StudySpec) -> dict[str, tuple[str, ...]]:
    """Scores the spec can derive (all inputs named) -> their levels, in SCORES order."""
    rs = spec.risk_scores
    return {
        name: levels
        for name, (_, needs, levels, _, _) in SCORES.items()
        if all(getattr(rs, k) is not None for k in needs)
    }


def risk_variables(spec: StudySpec) -> StudySpec:
    """The spec with level order and label of each score column (unless declared)."""
    from dataclasses import replace

    from mmrwe.spec.model import VariableSpec

    declared = {v.name for v in spec.variables}
    extra = []
    for name, levels in risk_columns(spec).items():
        columns, _, _, label, _ = SCORES[name]
        if columns[0] not in declared:
            extra.append(VariableSpec(name=columns[0], label=label, levels=levels))
        if name == "r2_iss" and "r2_iss_points" not in declared:
            extra.append(VariableSpec(name="r2_iss_points", label="R2-ISS points",
                                      type="numeric"))  # fmt: skip
    return replace(spec, variables=spec.variables + tuple(extra)) if extra else spec


def add_risk_scores(
    spec: StudySpec, be: Any, table: Any, types: Mapping[str, str]
) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """Derive the scores whose inputs the spec names and join them to ``table``.

    Returns the table with the columns added, the column types, and results.json
    ``risk_scores`` (inputs, units, per score its counts and definition; the scores not
    derived and why).

    Raises
    ------
    SpecError
        A named input column is not in the patient table, or a value column is not numeric.
    """
    import pyarrow as pa

    from mmrwe.derive import risk_scores as rsk
    from mmrwe.engine.sources import open_arrow

    rs = spec.risk_scores
    inputs = {k: getattr(rs, k) for k in ("beta2m", "albumin", "ldh", "del17p", "del17p_pct",
              "t4_14", "t14_16", "t14_20", "gain1q", "del1p32", "tp53", "creatinine")
              if getattr(rs, k) is not None}  # fmt: skip
    uln_col = rs.ldh_uln if isinstance(rs.ldh_uln, str) else None
    cols = list(dict.fromkeys([*inputs.values(), *([uln_col] if uln_col else [])]))
    for key, name in [*inputs.items(), *([("ldh_uln", uln_col)] if uln_col else [])]:
        if name not in types:
            raise SpecError(
                f"[risk_scores] {key} = {name!r}: the patient table has no such column",
                where=Location(spec_key=f"risk_scores.{key}"),
                fix="name the column holding it (after [data.columns] mapping)",
            )
        if (key in _NUMERIC or key == "ldh_uln") and types[name] != "numeric":
            raise SpecError(
                f"[risk_scores] {key} = {name!r} holds text, not numbers",
                where=Location(spec_key=f"risk_scores.{key}"),
                fix=f"check the {name!r} column for text cells",
            )
    for key, unit in (("albumin", rs.albumin_unit), ("creatinine", rs.creatinine_unit)):
        if key in inputs and unit is None:
            raise SpecError(
                f"[risk_scores] the unit of {key} ({inputs[key]!r}) is not given",
                where=Location(spec_key=f"risk_scores.{key}_unit"),
                fix=f"add {key}_unit under [risk_scores] (never guessed)",
            )
    res = table.order_by("_ord").select("patient_id", *cols).to_pyarrow()
    n = res.num_rows

    def col(key: str) -> np.ndarray:
        a = res[inputs[key]]
        if types[inputs[key]] == "numeric":
            return np.asarray(a.to_numpy(zero_copy_only=False), dtype=np.float64)
        return np.array(a.to_pylist(), dtype=object)

    uln: Any = (
        np.asarray(res[uln_col].to_numpy(zero_copy_only=False), dtype=np.float64)
        if uln_col
        else rs.ldh_uln
    )
    made = risk_columns(spec)
    # checked above: a named albumin or creatinine has its unit
    alb_unit = cast(Literal["g/dL", "g/L"], rs.albumin_unit or "g/dL")
    cr_unit = cast(Literal["mg/dL", "umol/L"], rs.creatinine_unit or "mg/dL")
    out: dict[str, Any] = {}
    if "iss" in made:
        out["iss"] = rsk.iss_stage(col("beta2m"), col("albumin"), albumin_unit=alb_unit)
    if "r_iss" in made:
        out["r_iss"] = rsk.riss_stage(
            col("beta2m"), col("albumin"), col("ldh"), col("del17p"), col("t4_14"),
            col("t14_16"), albumin_unit=alb_unit, ldh_uln=uln,
        )  # fmt: skip
    if "r2_iss" in made:
        r2 = rsk.r2iss_stage(
            col("beta2m"), col("albumin"), col("ldh"), col("del17p"), col("t4_14"),
            col("gain1q"), albumin_unit=alb_unit, ldh_uln=uln,
        )  # fmt: skip
        out["r2_iss"], out["r2_iss_points"] = r2.stage, r2.points
    if "ims2025_risk" in made:
        hr = rsk.ims2025_high_risk(
            del17p=col("del17p"), tp53_mutation=col("tp53"), t4_14=col("t4_14"),
            t14_16=col("t14_16"), t14_20=col("t14_20"), gain1q=col("gain1q"),
            del1p32=col("del1p32"), beta2m=col("beta2m"), creatinine=col("creatinine"),
            del17p_pct=col("del17p_pct") if "del17p_pct" in inputs else None,
            creatinine_unit=cr_unit, del17p_cutoff=rs.del17p_cutoff,
        )  # fmt: skip
        out["ims2025_risk"] = hr.call
    arrow: dict[str, Any] = {"_pid": res["patient_id"].cast(pa.string())}
    new_types = dict(types)
    for name, values in out.items():
        if name == "r2_iss_points":
            arrow[f"_r_{name}"] = pa.array(values, pa.float64(), from_pandas=True)
            new_types[name] = "numeric"
        else:
            arrow[f"_r_{name}"] = pa.array(np.asarray(values, dtype=object).tolist(), pa.string())
            new_types[name] = "categorical"
    rt = open_arrow(be, pa.table(arrow), "risk_scores")
    joined = table.left_join(rt, table.patient_id == rt._pid)
    sel = {c: joined[c] for c in table.columns if c not in out}
    for name in out:
        sel[name] = joined[f"_r_{name}"]
    units = (("beta2m", "mg/L"), ("albumin", rs.albumin_unit), ("creatinine", rs.creatinine_unit))
    section: dict[str, Any] = {
        "inputs": dict(inputs) | ({"ldh_uln": rs.ldh_uln} if rs.ldh_uln is not None else {}),
        "units": {k: u for k, u in units if k in inputs},
        "at": "index (start of the regimen under study); the systems were built at diagnosis",
        "not_assessable_rule": "a score is not assessable when a missing input could change "
        "it; not tested is never read as absent",
        "scores": {},
        "not_derived": {},
    }
    if "ims2025_risk" in out:
        section["del17p_cutoff"] = rs.del17p_cutoff
    for name, (columns, needs, levels, label, definition) in SCORES.items():
        if name not in made:
            missing = [k for k in needs if getattr(rs, k) is None]
            section["not_derived"][name] = f"needs {', '.join(missing)} under [risk_scores]"
            continue
        v = np.asarray(out[name], dtype=object)
        section["scores"][name] = {
            "columns": list(columns),
            "label": label,
            "levels": list(levels),
            "counts": {lv: int(np.sum(v == lv)) for lv in levels},
            "n": n,
            "definition": definition,
        }
    return joined.select(**sel), new_types, section
