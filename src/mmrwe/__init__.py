"""mmrwe: multicenter real-world-evidence studies in multiple myeloma.

Raw site exports in, a validated canonical table, derived endpoints, statistics that
agree with R, and a publication-ready report out.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mmrwe")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

__all__ = ["__version__"]
