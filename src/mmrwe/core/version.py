"""The installed version of mmrwe (recorded in results.json and run.json)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mmrwe")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

__all__ = ["__version__"]
