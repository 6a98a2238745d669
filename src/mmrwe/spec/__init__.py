"""Study spec: strict TOML loader, frozen dataclasses, key table and JSON Schema."""

from mmrwe.spec.errors import InvalidSpecError
from mmrwe.spec.loader import load_spec, parse_spec, sha256_file, spec_key_label
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
    "InvalidSpecError",
    "KmSection",
    "LogrankSpec",
    "ProportionSpec",
    "StudySpec",
    "VariableSpec",
    "load_spec",
    "parse_spec",
    "sha256_file",
    "spec_key_label",
]
