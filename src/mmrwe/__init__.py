"""mmrwe: multicenter real-world-evidence studies in multiple myeloma.

Raw site exports in, a validated canonical table, derived endpoints, statistics that
agree with R, and a publication-ready report out::

    import mmrwe

    result = mmrwe.Study.from_toml("study.toml").run()   # validate, derive, analyse
    result.to_dict()                                     # == results.json
    result.write("out/")                                 # every file `mmrwe analyze` writes

The names below are imported on first use, so ``import mmrwe`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmrwe.core.version import __version__

if TYPE_CHECKING:
    from mmrwe.core.errors import InputError as InputError
    from mmrwe.core.errors import MmrweError as MmrweError
    from mmrwe.core.errors import SchemaError as SchemaError
    from mmrwe.core.errors import SpecError as SpecError
    from mmrwe.core.errors import ValidationError as ValidationError
    from mmrwe.results.model import StudyResults as StudyResults
    from mmrwe.study.api import Study as Study
    from mmrwe.study.api import StudyResult as StudyResult
    from mmrwe.study.api import ValidationReport as ValidationReport
    from mmrwe.study.api import load_results as load_results

_LAZY = {
    "Study": "mmrwe.study.api",
    "StudyResult": "mmrwe.study.api",
    "ValidationReport": "mmrwe.study.api",
    "load_results": "mmrwe.study.api",
    "StudyResults": "mmrwe.results.model",
    "MmrweError": "mmrwe.core.errors",
    "SpecError": "mmrwe.core.errors",
    "InputError": "mmrwe.core.errors",
    "SchemaError": "mmrwe.core.errors",
    "ValidationError": "mmrwe.core.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mmrwe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
