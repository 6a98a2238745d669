"""Validation rules: every problem at once, each with where and how to fix it."""

from mmrwe.validate.patients import Exclusion, ValidatedTable, validate_patients

__all__ = ["Exclusion", "ValidatedTable", "validate_patients"]
