"""Validation: the rule table, evaluated by the engine; every problem at once, each located."""

from mmrwe.validate.patients import RULES, Exclusion, RuleInfo, Validated, validate_patients

__all__ = ["RULES", "Exclusion", "RuleInfo", "Validated", "validate_patients"]
