"""Myeloma staging and genomic risk from per-patient inputs, with three-valued logic.

Every function is vectorized over patients (numpy arrays or plain sequences in, one array
out) and never guesses: an input that is missing ("not tested", empty, NaN) stays unknown,
and the answer is ``"not assessable"`` unless it is already determined by the known inputs
(for example ISS III from beta2-microglobulin >= 5.5 mg/L alone, or IMS/IMWG high risk from
one known high-risk feature). Missing FISH never becomes standard risk.

Definitions and where they were checked (docs/clinical.md section 5 lists the same rules):

* **ISS** (Greipp PR et al., J Clin Oncol 2005;23(15):3412-3420): I = beta2-microglobulin
  (B2M) < 3.5 mg/L and albumin >= 3.5 g/dL (35 g/L); III = B2M >= 5.5 mg/L; II = neither.
  Checked against the cliot R package documentation (``iss_multiple_myeloma``, citing Greipp
  2005) and a BMJ Best Practice "Criteria" page seen through an institutional mirror
  ("Stage I: beta2-microglobulin < 3.5 mg/L and albumin >= 35 g/L ... Stage III: >= 5.5
  mg/L").
* **R-ISS** (Palumbo A et al., J Clin Oncol 2015;33(26):2863-2869): I = ISS I and no
  high-risk chromosomal abnormality by iFISH (del(17p), t(4;14), t(14;16)) and LDH <= the
  upper limit of normal; III = ISS III and (a high-risk abnormality or LDH > ULN); II = not
  I or III. Checked against cliot ``revised_iss_multiple_myeloma`` and the same clinical page.
* **R2-ISS** (D'Agostino M et al., J Clin Oncol 2022;40(29):3406-3418, HARMONY): points ISS
  II 1, ISS III 1.5, del(17p) 1, LDH > ULN 1, t(4;14) 1, 1q+ (gain, 3 copies, or
  amplification, >= 4 copies) 0.5; groups I 0 (low), II 0.5-1 (low-intermediate), III
  1.5-2.5 (intermediate-high), IV 3-5 (high). Checked against the Blood Cancer Journal 2025
  RW-ISS paper's summary of R2-ISS (doi:10.1038/s41408-025-01268-y) and the MedPage Today /
  ogkologos summaries (1q+ = gain or amplification).
* **IMS/IMWG 2025 consensus genomic high risk** (Avet-Loiseau H et al., J Clin Oncol
  2025;43(24):2739-2751; PubMed 40489728): high risk if at least one of (1) del(17p) in
  > 20 % of clonal plasma cells and/or a TP53 mutation; (2) t(4;14), t(14;16) or t(14;20)
  together with 1q+ and/or del(1p32); (3) monoallelic del(1p32) with 1q+, or biallelic
  del(1p32); (4) B2M >= 5.5 mg/L with creatinine < 1.2 mg/dL. Checked against The Limbic's
  summary of the validation study ("del(17p), with a cut-off of > 20 % clonal fraction ...
  beta-2 microglobulin >= 5.5 mg/L with normal creatinine (< 1.2 mg/dL)") and HealthTree's.

Choices where a definition is ambiguous (all are parameters or documented here):

* del(17p) threshold: the JCO abstract and The Limbic say "> 20 %", HealthTree "20 % or
  more": default strict ``> 20`` (``del17p_cutoff=20``, ``del17p_inclusive=False``).
* 1q+ means gain or amplification, one input (``gain1q``), as R2-ISS and the 2025 consensus.
* R-ISS and R2-ISS take del(17p) as reported by the lab (present/absent at its own FISH
  cut-off); only the 2025 consensus uses the clonal fraction (``del17p_pct``).
* del(1p32) present with unknown allelic status counts as "present": it satisfies criterion 2
  (any del(1p32)) and criterion 3 when 1q+ is present; otherwise criterion 3 is unknown.
* LDH "high" means > ULN; a value equal to the ULN is normal (Palumbo 2015: "normal LDH =
  serum LDH <= upper limit of normal").
* Creatinine "< 1.2 mg/dL" is strict; B2M ">= 5.5" inclusive, as written.

All three systems were built at diagnosis; applied at a later index date the label should
say "at index" (docs/clinical.md section 5), which is the caller's to record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from mmrwe.core.errors import InputError

NOT_ASSESSABLE = "not assessable"
HIGH, STANDARD = "high", "standard"
#: Canonical values are rounded to this many decimals after a unit conversion, so that 35 g/L
#: and 3.5 g/dL give the same double (as mmrwe.derive.labs does).
CANONICAL_DECIMALS = 9
CREATININE_UMOL_PER_MG_DL = 88.4  # umol/L per mg/dL (docs/clinical.md section 7)

ISS_I_B2M = 3.5  # mg/L, stage I needs B2M < 3.5
ISS_III_B2M = 5.5  # mg/L, stage III needs B2M >= 5.5
ISS_I_ALBUMIN = 3.5  # g/dL, stage I needs albumin >= 3.5
IMS_B2M = 5.5  # mg/L, criterion 4: B2M >= 5.5
IMS_CREATININE = 1.2  # mg/dL, criterion 4: creatinine < 1.2

R2ISS_POINTS = {
    "iss_ii": 1.0,
    "iss_iii": 1.5,
    "del17p": 1.0,
    "ldh_high": 1.0,
    "t4_14": 1.0,
    "gain1q": 0.5,
}

_TRUE_WORDS = frozenset(
    {"present", "positive", "pos", "yes", "y", "detected", "true", "1", "abnormal", "+"}
)
_FALSE_WORDS = frozenset(
    {"absent", "negative", "neg", "no", "n", "not detected", "false", "0", "normal", "-"}
)
_UNKNOWN_WORDS = frozenset(
    {"", "not tested", "nottested", "not done", "unknown", "na", "n/a", "nan", "missing", "none"}
)


# --------------------------------------------------------------------------------------
# three-valued logic (Kleene): a value is known true, known false, or unknown
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tri:
    """A vector of three-valued truths: ``true`` and ``false`` masks (neither = unknown)."""

    true: NDArray[np.bool_]
    false: NDArray[np.bool_]

    @property
    def unknown(self) -> NDArray[np.bool_]:
        """Rows where the value is not determined."""
        return ~(self.true | self.false)

    def __and__(self, other: Tri) -> Tri:
        return Tri(self.true & other.true, self.false | other.false)

    def __or__(self, other: Tri) -> Tri:
        return Tri(self.true | other.true, self.false & other.false)

    def __invert__(self) -> Tri:
        return Tri(self.false, self.true)


def _known(mask_true: NDArray[np.bool_], known: NDArray[np.bool_]) -> Tri:
    return Tri(mask_true & known, ~mask_true & known)


def _any(*items: Tri) -> Tri:
    out = items[0]
    for t in items[1:]:
        out = out | t
    return out


def _all(*items: Tri) -> Tri:
    out = items[0]
    for t in items[1:]:
        out = out & t
    return out


# --------------------------------------------------------------------------------------
# input parsing
# --------------------------------------------------------------------------------------


def finding(values: ArrayLike | Sequence[Any], name: str = "finding") -> Tri:
    """Parse a present / absent / not-tested column into three-valued truth.

    Parameters
    ----------
    values : array_like
        Booleans, 0/1 (NaN = unknown), or words: present, positive, yes, detected, true, 1
        (present); absent, negative, no, not detected, false, 0 (absent); empty, "not
        tested", unknown, NA, None, NaN (unknown). Case and surrounding spaces are ignored.
    name : str
        Input name used in error messages.

    Returns
    -------
    Tri

    Raises
    ------
    InputError
        A value that is none of these (never read as absent).
    """
    a = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    a = np.atleast_1d(a)
    if a.dtype.kind == "b":
        return Tri(a.astype(bool), ~a.astype(bool))
    if a.dtype.kind in "iuf":
        f = a.astype(np.float64)
        known = ~np.isnan(f)
        bad = known & ~np.isin(f, (0.0, 1.0))
        if bad.any():
            raise InputError(
                f"{name}: numeric values must be 0 (absent) or 1 (present), got {f[bad][0]!r}",
                fix="code findings as 1/0, present/absent, or leave them empty when not tested",
            )
        return Tri((f == 1.0) & known, (f == 0.0) & known)
    words = _normalize_words(a)
    is_t = np.isin(words, list(_TRUE_WORDS))
    is_f = np.isin(words, list(_FALSE_WORDS))
    is_u = np.isin(words, list(_UNKNOWN_WORDS))
    bad = ~(is_t | is_f | is_u)
    if bad.any():
        raise InputError(
            f"{name}: value {a[bad][0]!r} is not present/absent/not tested",
            fix="use present/absent (or yes/no, positive/negative, 1/0) and leave untested "
            "findings empty; a missing finding is never read as absent",
        )
    return Tri(is_t, is_f)


def _normalize_words(a: NDArray[Any]) -> NDArray[np.str_]:
    """Lower-case, stripped text of each cell ("" for missing), parsing each distinct value once."""
    codes, uniques = pd.factorize(pd.Series(a, dtype=object), use_na_sentinel=True)

    def one(v: object) -> str:
        if isinstance(v, bool | np.bool_):
            return "true" if v else "false"
        if isinstance(v, float | np.floating | int | np.integer) and float(v) in (0.0, 1.0):
            return str(int(v))
        return str(v).strip().lower()

    table = np.array([one(v) for v in uniques.tolist()] + [""], dtype=object)
    return np.asarray(table[codes], dtype=str)  # code -1 (missing) picks the trailing ""


def _numeric(
    values: ArrayLike | Sequence[Any], name: str, n: int | None = None
) -> NDArray[np.float64]:
    a = np.atleast_1d(np.asarray(values, dtype=object))
    # None and NaN become NaN; empty strings too (a blank cell); anything else must parse
    s = pd.Series(a, dtype=object)
    s = s.where(~s.astype(str).str.strip().eq(""), np.nan)
    try:
        out = pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise InputError(
            f"{name}: values must be numbers (empty or NaN when missing)",
            fix=f"check the {name} column for text or units inside the cells",
        ) from err
    if n is not None and out.size != n:
        raise InputError(f"{name} has {out.size} values, expected {n} (one per patient)")
    if np.any(out[~np.isnan(out)] < 0):
        raise InputError(f"{name}: values must be >= 0")
    return out


def _albumin_g_dl(albumin: ArrayLike, unit: str, n: int) -> NDArray[np.float64]:
    a = _numeric(albumin, "albumin", n)
    if unit == "g/dL":
        return a
    if unit == "g/L":
        return np.round(a / 10.0, CANONICAL_DECIMALS)
    raise InputError(f"albumin unit {unit!r} is not accepted", fix='use "g/dL" or "g/L"')


def _creatinine_mg_dl(creatinine: ArrayLike, unit: str, n: int) -> NDArray[np.float64]:
    c = _numeric(creatinine, "creatinine", n)
    if unit == "mg/dL":
        return c
    if unit in ("umol/L", "µmol/L"):
        return np.round(c / CREATININE_UMOL_PER_MG_DL, CANONICAL_DECIMALS)
    raise InputError(f"creatinine unit {unit!r} is not accepted", fix='use "mg/dL" or "umol/L"')


def ldh_high(ldh: ArrayLike | Sequence[Any], uln: ArrayLike | float | None = None) -> Tri:
    """LDH above the upper limit of normal, three-valued.

    Parameters
    ----------
    ldh : array_like
        Either words ("high"/"elevated"/"abnormal" versus "normal"; empty = unknown) or
        values in U/L (NaN = unknown) together with ``uln``.
    uln : float or array_like, optional
        Upper limit of normal of each patient's lab (or one for all), in the unit of the
        values. Required for numeric LDH.

    Returns
    -------
    Tri
        True where LDH > ULN (a value equal to the ULN is normal).
    """
    a = np.atleast_1d(np.asarray(ldh, dtype=object))
    n = a.size
    kinds = {type(v) for v in pd.unique(pd.Series(a, dtype=object).dropna()).tolist()}
    if kinds and all(issubclass(k, int | float | np.integer | np.floating) for k in kinds):
        if any(issubclass(k, bool | np.bool_) for k in kinds):
            return finding(a, "ldh")  # True/False read as high/normal
        if uln is None:
            raise InputError(
                "LDH is numeric but no upper limit of normal (ldh_uln) was given",
                fix="pass ldh_uln (per patient or one value), or code LDH as high/normal",
            )
        v = _numeric(a, "ldh", n)
        u = _numeric(np.broadcast_to(np.asarray(uln, dtype=object), (n,)), "ldh_uln", n)
        known = ~np.isnan(v) & ~np.isnan(u)
        return _known(v > u, known)
    words = _normalize_words(a)
    is_t = np.isin(
        words, ["high", "elevated", "abnormal", "above uln", "> uln", "yes", "1", "true"]
    )
    is_f = np.isin(words, ["normal", "not elevated", "<= uln", "no", "0", "false"])
    is_u = np.isin(words, list(_UNKNOWN_WORDS))
    bad = ~(is_t | is_f | is_u)
    if bad.any():
        raise InputError(
            f"ldh: value {a[bad][0]!r} is neither high nor normal",
            fix='code LDH as "high"/"normal" or give values with ldh_uln',
        )
    return Tri(is_t, is_f)


Del1p32 = Literal["absent", "monoallelic", "biallelic", "present"]


def del1p32_status(values: ArrayLike | Sequence[Any]) -> tuple[Tri, Tri]:
    """Parse del(1p32): returns (any deletion, biallelic deletion) as three-valued truths.

    Accepted: "absent" (or a false word), "monoallelic"/"mono", "biallelic"/"bi"/
    "homozygous", "present" (or a true word: deleted, allelic status unknown), and the
    unknown words. "present" makes "any" true and "biallelic" unknown.
    """
    a = np.atleast_1d(np.asarray(values, dtype=object))
    words = _normalize_words(a)
    mono = np.isin(words, ["monoallelic", "mono", "heterozygous", "monoallelic del(1p32)"])
    bi = np.isin(words, ["biallelic", "bi", "homozygous", "biallelic del(1p32)"])
    present = np.isin(words, list(_TRUE_WORDS)) | (words == "deleted")
    absent = np.isin(words, list(_FALSE_WORDS))
    unknown = np.isin(words, list(_UNKNOWN_WORDS))
    bad = ~(mono | bi | present | absent | unknown)
    if bad.any():
        raise InputError(
            f"del1p32: value {a[bad][0]!r} is not absent/monoallelic/biallelic/present",
            fix="code del(1p32) as absent, monoallelic, biallelic, or present when the allelic "
            "status is unknown; leave it empty when not tested",
        )
    any_del = Tri(mono | bi | present, absent)
    biallelic = Tri(bi, absent | mono)
    return any_del, biallelic


# --------------------------------------------------------------------------------------
# ISS, R-ISS, R2-ISS
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _IssParts:
    stage_i: Tri
    stage_iii: Tri

    @property
    def stage_ii(self) -> Tri:
        return ~self.stage_i & ~self.stage_iii


def _iss_parts(beta2m: ArrayLike, albumin: ArrayLike, albumin_unit: str) -> _IssParts:
    b = _numeric(beta2m, "beta2m")
    alb = _albumin_g_dl(albumin, albumin_unit, b.size)
    b_known = ~np.isnan(b)
    a_known = ~np.isnan(alb)
    b_low = _known(b < ISS_I_B2M, b_known)
    alb_ok = _known(alb >= ISS_I_ALBUMIN, a_known)
    return _IssParts(stage_i=b_low & alb_ok, stage_iii=_known(b >= ISS_III_B2M, b_known))


def _label(cases: Sequence[tuple[Tri, str]], n: int) -> NDArray[np.str_]:
    out = np.full(n, NOT_ASSESSABLE, dtype=object)
    for tri, label in cases:
        out[tri.true] = label
    return out.astype(str)


def iss_stage(
    beta2m: ArrayLike, albumin: ArrayLike, *, albumin_unit: Literal["g/dL", "g/L"] = "g/dL"
) -> NDArray[np.str_]:
    """International Staging System (Greipp 2005), per patient.

    Parameters
    ----------
    beta2m : array_like of float
        Serum beta2-microglobulin, mg/L (NaN = missing).
    albumin : array_like of float
        Serum albumin in ``albumin_unit`` (NaN = missing).
    albumin_unit : {"g/dL", "g/L"}

    Returns
    -------
    ndarray of str
        "I", "II", "III" or "not assessable". B2M >= 5.5 gives III without albumin; B2M in
        [3.5, 5.5) gives II without albumin; B2M < 3.5 needs albumin (I if >= 3.5 g/dL).

    Examples
    --------
    >>> iss_stage([2.0, 3.5, 5.5, float("nan")], [3.5, 4.0, float("nan"), 4.0]).tolist()
    ['I', 'II', 'III', 'not assessable']
    """
    parts = _iss_parts(beta2m, albumin, albumin_unit)
    n = parts.stage_i.true.size
    return _label([(parts.stage_i, "I"), (parts.stage_ii, "II"), (parts.stage_iii, "III")], n)


def riss_stage(
    beta2m: ArrayLike,
    albumin: ArrayLike,
    ldh: ArrayLike | Sequence[Any],
    del17p: ArrayLike | Sequence[Any],
    t4_14: ArrayLike | Sequence[Any],
    t14_16: ArrayLike | Sequence[Any],
    *,
    albumin_unit: Literal["g/dL", "g/L"] = "g/dL",
    ldh_uln: ArrayLike | float | None = None,
) -> NDArray[np.str_]:
    """Revised ISS (Palumbo 2015), per patient, three-valued.

    Parameters
    ----------
    beta2m, albumin, albumin_unit :
        As :func:`iss_stage`.
    ldh : array_like
        "high"/"normal" words, or U/L values with ``ldh_uln`` (see :func:`ldh_high`).
    del17p, t4_14, t14_16 : array_like
        FISH findings, present / absent / not tested (see :func:`finding`).
    ldh_uln : float or array_like, optional
        Upper limit of normal for numeric LDH.

    Returns
    -------
    ndarray of str
        "I", "II", "III" or "not assessable". I needs ISS I, all three abnormalities known
        absent and LDH known normal; III needs ISS III and one known high-risk feature
        (abnormality present or LDH high); II needs I and III both excluded (for example ISS
        II, whatever FISH and LDH are). Anything else is not assessable, never II.
    """
    parts = _iss_parts(beta2m, albumin, albumin_unit)
    n = parts.stage_i.true.size
    ca = _any(
        _check_n(finding(del17p, "del17p"), n, "del17p"),
        _check_n(finding(t4_14, "t4_14"), n, "t4_14"),
        _check_n(finding(t14_16, "t14_16"), n, "t14_16"),
    )
    high_ldh = _check_n(ldh_high(ldh, ldh_uln), n, "ldh")
    r1 = parts.stage_i & ~ca & ~high_ldh
    r3 = parts.stage_iii & (ca | high_ldh)
    r2 = ~r1 & ~r3
    return _label([(r1, "I"), (r2, "II"), (r3, "III")], n)


@dataclass(frozen=True, slots=True)
class R2ISS:
    """R2-ISS per patient: the group and the points.

    ``stage`` is "I".."IV" or "not assessable"; ``points`` is the total (NaN unless every
    factor is known); ``points_min``/``points_max`` bound the total over the unknown
    factors (equal when all are known). A group is given whenever both bounds fall in it.
    """

    stage: NDArray[np.str_]
    points: NDArray[np.float64]
    points_min: NDArray[np.float64]
    points_max: NDArray[np.float64]


def _r2iss_group(points: NDArray[np.float64]) -> NDArray[np.str_]:
    # I 0; II 0.5-1; III 1.5-2.5; IV 3-5 (points are multiples of 0.5, so these are exact)
    return np.select(
        [points <= 0.0, points <= 1.0, points <= 2.5], ["I", "II", "III"], default="IV"
    ).astype(str)


def r2iss_stage(
    beta2m: ArrayLike,
    albumin: ArrayLike,
    ldh: ArrayLike | Sequence[Any],
    del17p: ArrayLike | Sequence[Any],
    t4_14: ArrayLike | Sequence[Any],
    gain1q: ArrayLike | Sequence[Any],
    *,
    albumin_unit: Literal["g/dL", "g/L"] = "g/dL",
    ldh_uln: ArrayLike | float | None = None,
) -> R2ISS:
    """Second revision of the ISS (D'Agostino 2022, HARMONY), per patient.

    Parameters
    ----------
    beta2m, albumin, albumin_unit, ldh, ldh_uln :
        As :func:`riss_stage`.
    del17p, t4_14 : array_like
        FISH findings (present / absent / not tested).
    gain1q : array_like
        1q+ (gain, 3 copies, or amplification, >= 4 copies), present / absent / not tested.

    Returns
    -------
    R2ISS
        Points ISS II 1, ISS III 1.5, del(17p) 1, LDH > ULN 1, t(4;14) 1, 1q+ 0.5; groups
        I 0, II 0.5-1, III 1.5-2.5, IV 3-5. With unknown factors the group is given only
        if the lowest and highest possible totals fall in the same group (for example 3
        known points make IV whatever the rest is).
    """
    parts = _iss_parts(beta2m, albumin, albumin_unit)
    n = parts.stage_i.true.size
    lo = np.zeros(n)
    hi = np.zeros(n)
    # ISS: the smallest and largest points among the stages still possible
    can_1 = ~parts.stage_i.false
    can_3 = ~parts.stage_iii.false
    can_2 = ~parts.stage_ii.false
    iss_pts = np.where(
        np.stack([can_1, can_2, can_3]),
        np.array([0.0, R2ISS_POINTS["iss_ii"], R2ISS_POINTS["iss_iii"]])[:, None],
        np.nan,
    )
    lo += np.nanmin(iss_pts, axis=0)
    hi += np.nanmax(iss_pts, axis=0)
    for tri, pts in (
        (_check_n(finding(del17p, "del17p"), n, "del17p"), R2ISS_POINTS["del17p"]),
        (_check_n(ldh_high(ldh, ldh_uln), n, "ldh"), R2ISS_POINTS["ldh_high"]),
        (_check_n(finding(t4_14, "t4_14"), n, "t4_14"), R2ISS_POINTS["t4_14"]),
        (_check_n(finding(gain1q, "gain1q"), n, "gain1q"), R2ISS_POINTS["gain1q"]),
    ):
        lo += np.where(tri.true, pts, 0.0)
        hi += np.where(tri.false, 0.0, pts)
    g_lo, g_hi = _r2iss_group(lo), _r2iss_group(hi)
    stage = np.where(g_lo == g_hi, g_lo, NOT_ASSESSABLE).astype(str)
    points = np.where(lo == hi, lo, np.nan)
    return R2ISS(stage=stage, points=points, points_min=lo, points_max=hi)


# --------------------------------------------------------------------------------------
# IMS/IMWG 2025 consensus genomic high risk
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HighRisk2025:
    """IMS/IMWG 2025 high risk per patient, with each criterion's three-valued truth.

    ``call`` is "high", "standard" or "not assessable"; ``criteria`` maps
    "del17p_tp53", "translocation_1q_1p", "del1p32", "b2m_creatinine" to int8 arrays
    (1 met, 0 not met, -1 unknown), for the audit trail.
    """

    call: NDArray[np.str_]
    criteria: dict[str, NDArray[np.int8]]


def _code(t: Tri) -> NDArray[np.int8]:
    out = np.full(t.true.size, -1, dtype=np.int8)
    out[t.true] = 1
    out[t.false] = 0
    return out


def ims2025_high_risk(
    *,
    del17p: ArrayLike | Sequence[Any],
    tp53_mutation: ArrayLike | Sequence[Any],
    t4_14: ArrayLike | Sequence[Any],
    t14_16: ArrayLike | Sequence[Any],
    t14_20: ArrayLike | Sequence[Any],
    gain1q: ArrayLike | Sequence[Any],
    del1p32: ArrayLike | Sequence[Any],
    beta2m: ArrayLike,
    creatinine: ArrayLike,
    del17p_pct: ArrayLike | None = None,
    creatinine_unit: Literal["mg/dL", "umol/L"] = "mg/dL",
    del17p_cutoff: float = 20.0,
    del17p_inclusive: bool = False,
) -> HighRisk2025:
    """IMS/IMWG 2025 consensus genomic high-risk myeloma (Avet-Loiseau et al., JCO 2025).

    Parameters
    ----------
    del17p : array_like
        del(17p) by FISH, present / absent / not tested.
    tp53_mutation : array_like
        TP53 mutation (sequencing), present / absent / not tested.
    t4_14, t14_16, t14_20, gain1q : array_like
        FISH findings (1q+ = gain or amplification).
    del1p32 : array_like
        absent / monoallelic / biallelic / present (allelic status unknown) / not tested
        (see :func:`del1p32_status`).
    beta2m : array_like of float
        Serum beta2-microglobulin, mg/L.
    creatinine : array_like of float
        Serum creatinine in ``creatinine_unit``.
    del17p_pct : array_like of float, optional
        Percentage of clonal plasma cells carrying del(17p) (NaN = not reported). Without
        it, a present del(17p) leaves criterion 1 unknown (unless TP53 is mutated), since
        the consensus requires > 20 %.
    creatinine_unit : {"mg/dL", "umol/L"}
    del17p_cutoff, del17p_inclusive :
        Criterion 1 needs a clonal fraction > ``del17p_cutoff`` (>= when inclusive).

    Returns
    -------
    HighRisk2025
        "high" when any criterion is known to be met; "standard" when all four are known
        not to be met; otherwise "not assessable".
    """
    dp = finding(del17p, "del17p")
    n = dp.true.size
    tp53 = _check_n(finding(tp53_mutation, "tp53_mutation"), n, "tp53_mutation")
    if del17p_pct is not None:
        pct = _numeric(del17p_pct, "del17p_pct", n)
        over = pct >= del17p_cutoff if del17p_inclusive else pct > del17p_cutoff
        frac = _known(over, ~np.isnan(pct))
        # an absent del(17p) is below any cut-off; a reported fraction decides otherwise
        del17p_hr = Tri(frac.true & ~dp.false, dp.false | frac.false)
    else:
        del17p_hr = Tri(np.zeros(n, dtype=bool), dp.false)
    c1 = del17p_hr | tp53
    transloc = _any(
        _check_n(finding(t4_14, "t4_14"), n, "t4_14"),
        _check_n(finding(t14_16, "t14_16"), n, "t14_16"),
        _check_n(finding(t14_20, "t14_20"), n, "t14_20"),
    )
    q1 = _check_n(finding(gain1q, "gain1q"), n, "gain1q")
    del1p_any, del1p_bi = del1p32_status(del1p32)
    _check_n(del1p_any, n, "del1p32")
    c2 = transloc & (q1 | del1p_any)
    c3 = del1p_bi | (del1p_any & q1)
    b = _numeric(beta2m, "beta2m", n)
    cr = _creatinine_mg_dl(creatinine, creatinine_unit, n)
    c4 = _known(b >= IMS_B2M, ~np.isnan(b)) & _known(cr < IMS_CREATININE, ~np.isnan(cr))
    hr = _any(c1, c2, c3, c4)
    call = _label([(hr, HIGH), (~hr, STANDARD)], n)
    return HighRisk2025(
        call=call,
        criteria={
            "del17p_tp53": _code(c1),
            "translocation_1q_1p": _code(c2),
            "del1p32": _code(c3),
            "b2m_creatinine": _code(c4),
        },
    )


def _check_n(t: Tri, n: int, name: str) -> Tri:
    if t.true.size != n:
        raise InputError(f"{name} has {t.true.size} values, expected {n} (one per patient)")
    return t
