"""Small helpers shared by the estimators (array checks, read-only arrays)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmrwe.core.errors import InputError


def read_only(a: ArrayLike, dtype: Any = None) -> NDArray[Any]:
    """Return a read-only copy: ``frozen=True`` dataclasses do not freeze array contents."""
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


def as_time_event(
    time: ArrayLike, is_event: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Check and convert survival inputs: finite non-negative times, boolean events."""
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(is_event)
    if t.ndim != 1 or e.ndim != 1 or t.shape != e.shape:
        raise InputError(
            f"time and is_event must be 1-d arrays of one length, got {t.shape} and {e.shape}"
        )
    if not np.all(np.isfinite(t)):
        raise InputError("survival times must be finite (no NaN or infinity)")
    if np.any(t < 0):
        raise InputError(
            "survival times must be >= 0", fix="check that no event date precedes its start date"
        )
    if e.dtype != np.bool_:
        ev = np.asarray(e, dtype=np.float64)
        if not np.all(np.isin(ev, (0.0, 1.0))):
            raise InputError("is_event must be boolean (True = event) or 0/1")
        e = ev.astype(bool)
    return t, e.astype(bool, copy=False)


def z_value(conf_level: float) -> float:
    """Two-sided normal quantile for ``conf_level`` (0.95 -> 1.959963984540054)."""
    # ndtri is what norm.ppf evaluates (bit-identical), without importing scipy.stats
    from scipy.special import ndtri

    return float(ndtri(1.0 - (1.0 - conf_level) / 2.0))


def none_if_nan(x: float | None) -> float | None:
    """Map NaN (R's NA) to None, so results.json writes null."""
    if x is None:
        return None
    xf = float(x)
    return None if not np.isfinite(xf) else xf


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its confidence limits; ``None`` means not estimable / not reached.

    Never ``inf`` for "not reached": a median the curve never crosses is ``value=None``.
    """

    value: float | None
    lower: float | None
    upper: float | None

    def to_dict(self) -> dict[str, float | None]:
        """Return ``{"estimate", "lower", "upper"}`` as in results.json."""
        return {
            "estimate": none_if_nan(self.value),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
        }
