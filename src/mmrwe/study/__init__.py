"""The study: spec -> ingest -> validate -> derive -> analyses -> results, on one engine.

:class:`Study` is the public entry point (also re-exported as ``mmrwe.Study``); the
pipeline stages are in :mod:`mmrwe.study.pipeline`, the analyses registry in
:mod:`mmrwe.study.analyses`, output writing in :mod:`mmrwe.study.outputs`, multicenter
pooling in :mod:`mmrwe.study.pooling`.
"""

from mmrwe.study.api import Study, StudyResult, ValidationReport, load_results

__all__ = ["Study", "StudyResult", "ValidationReport", "load_results"]
