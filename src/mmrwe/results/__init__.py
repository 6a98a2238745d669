"""The results tree (results.json v1), its deterministic writer and its long ARD view."""

from mmrwe.results.model import SCHEMA_VERSION, ArdRow, StudyResults, clean_json

__all__ = ["SCHEMA_VERSION", "ArdRow", "StudyResults", "clean_json"]
