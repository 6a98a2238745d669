"""Study spec: strict TOML loader and frozen dataclasses (contract section 3)."""

from mmrwe.spec.loader import load_spec, parse_spec, sha256_file
from mmrwe.spec.model import (
    ENDPOINTS,
    RESPONSE_CATEGORIES,
    CompareProportionSpec,
    CoxSpec,
    CutpointSpec,
    DataSection,
    DeriveSpec,
    KmSection,
    LogrankSpec,
    ProportionSpec,
    StudySpec,
    VariableSpec,
)

__all__ = [
    "ENDPOINTS",
    "RESPONSE_CATEGORIES",
    "CompareProportionSpec",
    "CoxSpec",
    "CutpointSpec",
    "DataSection",
    "DeriveSpec",
    "KmSection",
    "LogrankSpec",
    "ProportionSpec",
    "StudySpec",
    "VariableSpec",
    "load_spec",
    "parse_spec",
    "sha256_file",
]
