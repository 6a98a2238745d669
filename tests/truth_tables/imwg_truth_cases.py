# ruff: noqa: C408  (dict(...) keeps the case table readable)
"""Truth table of small patient histories: IMWG 2016 response, progression and lab rules.

Every case is one synthetic patient. Day 0 (start of the regimen under study) is
2022-01-01 and every date is written as days from day 0. The expected calls were written by
hand from docs/clinical.md sections 1-2 and 7 (the arithmetic is in the comments); the case id is
the reason and becomes the test id. Values are in g/dL (serum M), mg/24h (urine M), mg/dL
(FLC), % (BMPC), cm2 (SPD) unless a unit is given.

``expect`` keys: ``best_response``, ``best_response_date``, ``first_response_date``,
``progression_date``, ``unconfirmed_pd_date``, ``measurable_by``, ``measurable_compartments``,
``next_line_date``, ``next_line_progression_date`` (days or None), ``anti_cd38_interference``,
``anti_cd38_in_line``, ``issues`` (codes that must be reported for this case). ``isotype``
(optional) is the patient's M-protein isotype; ``params`` the ``[response]`` parameters.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any

import pandas as pd

from mmrwe.io.readers import SourceTable

DAY0 = dt.date(2022, 1, 1)
LFU = 400  # last follow-up, days from day 0, unless a case says otherwise


def day(n: int) -> str:
    return (DAY0 + dt.timedelta(days=n)).isoformat()


def s(d: int, v: Any, unit: str = "g/dL") -> tuple[Any, ...]:
    return (d, "serum_m_protein", v, unit)


def u(d: int, v: Any, unit: str = "mg/24h") -> tuple[Any, ...]:
    return (d, "urine_m_protein", v, unit)


def k(d: int, v: Any, unit: str = "mg/dL") -> tuple[Any, ...]:
    return (d, "flc_kappa", v, unit)


def lam(d: int, v: Any, unit: str = "mg/dL") -> tuple[Any, ...]:
    return (d, "flc_lambda", v, unit)


def sife(d: int, v: str) -> tuple[Any, ...]:
    return (d, "serum_ife", v, "")


def uife(d: int, v: str) -> tuple[Any, ...]:
    return (d, "urine_ife", v, "")


def bm(d: int, v: Any) -> tuple[Any, ...]:
    return (d, "bm_plasma_cells", v, "%")


def spd(d: int, v: Any) -> tuple[Any, ...]:
    return (d, "plasmacytoma_spd", v, "cm2")


def new(d: int) -> tuple[Any, ...]:
    return (d, "new_lesion", "yes", "")


def clon(d: int, v: str) -> tuple[Any, ...]:
    return (d, "bm_clonal_plasma_cells", v, "")


def cr_visit(d: int, kappa: float | None = 1.2, lambda_: float | None = 1.0) -> list:
    """M-protein gone, both immunofixations negative, FLC ratio 1.2 (normal)."""
    out = [s(d, 0), sife(d, "negative"), uife(d, "negative")]
    if kappa is not None:
        out += [k(d, kappa), lam(d, lambda_)]
    return out


INDEX = ("isatuximab;pomalidomide;dexamethasone", 0, None, None, None)

CASES: list[dict[str, Any]] = [
    # ---------------------------------------------------------------- categories
    dict(
        id="sCR: CR plus normal FLC ratio and no clonal marrow cells, confirmed",
        # 30 and 60: M 0, IFE -/-, kappa/lambda 1.2 (normal); marrow 2 % and clonality
        # negative on day 40 (carried to the confirming assessment on day 60).
        # Reading on 30 = VGPR (no marrow yet); pair (30, 60) = min(sCR, sCR, marrow as of
        # 60: ok) = sCR, dated at the first of the two.
        labs=[s(-5, 3.0), *cr_visit(30), bm(40, 2), clon(40, "negative"), *cr_visit(60)],
        expect=dict(
            best_response="sCR",
            best_response_date=30,
            first_response_date=30,
            progression_date=None,
            measurable_by="serum",
        ),
    ),
    dict(
        id="CR: no marrow clonality result, sCR downgraded to CR",
        labs=[s(-5, 3.0), *cr_visit(30), bm(40, 2), *cr_visit(60)],
        expect=dict(best_response="CR", best_response_date=30),
    ),
    dict(
        id="sCR by FLC ratio alone when scr_without_clonality = flc_ratio",
        labs=[s(-5, 3.0), *cr_visit(30), bm(40, 2), *cr_visit(60)],
        params=dict(scr_without_clonality="flc_ratio"),
        expect=dict(best_response="sCR", best_response_date=30),
    ),
    dict(
        id="CR: abnormal FLC ratio (2.0) at the confirming assessment blocks sCR",
        labs=[s(-5, 3.0), *cr_visit(30), bm(40, 2), clon(40, "negative"), *cr_visit(60, kappa=2.0)],
        expect=dict(best_response="CR", best_response_date=30),
    ),
    dict(
        id="VGPR: missing marrow for CR downgrades to the best level present",
        # IFE negative twice, M 0, but no bone-marrow count since day 0 -> VGPR.
        labs=[s(-5, 3.0), *cr_visit(30), *cr_visit(60)],
        expect=dict(best_response="VGPR", best_response_date=30),
    ),
    dict(
        id="VGPR: CR needs a negative urine immunofixation (missing)",
        labs=[
            s(-5, 3.0),
            s(30, 0),
            sife(30, "negative"),
            k(30, 1.2),
            lam(30, 1.0),
            bm(20, 1),
            s(60, 0),
            sife(60, "negative"),
            k(60, 1.2),
            lam(60, 1.0),
        ],
        expect=dict(best_response="VGPR", best_response_date=30),
    ),
    dict(
        id="VGPR: serum M reduced exactly 90 % (boundary inclusive)",
        # (2.0 - 0.2) / 2.0 = 0.90 -> VGPR; (2.0 - 0.15) / 2.0 = 0.925
        labs=[s(-5, 2.0), s(30, 0.2), s(60, 0.15)],
        expect=dict(best_response="VGPR", best_response_date=30),
    ),
    dict(
        id="VGPR: M-protein seen on immunofixation only",
        labs=[s(-5, 1.5), s(30, 0), sife(30, "positive"), s(60, 0), sife(60, "positive")],
        expect=dict(best_response="VGPR", best_response_date=30),
    ),
    dict(
        id="PR: serum M reduced exactly 50 %",
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0)],
        expect=dict(best_response="PR", best_response_date=30, first_response_date=30),
    ),
    dict(
        id="MR: serum M reduced 25-49 % (25 % on the boundary)",
        # (2.0 - 1.5) / 2.0 = 0.25 -> MR; (2.0 - 1.1) / 2.0 = 0.45 -> MR
        labs=[s(-5, 2.0), s(30, 1.5), s(60, 1.1)],
        expect=dict(best_response="MR", best_response_date=30, first_response_date=None),
    ),
    dict(
        id="SD: serum M reduced < 25 %",
        labs=[s(-5, 2.0), s(30, 1.6), s(60, 1.7)],
        expect=dict(
            best_response="SD",
            best_response_date=30,
            first_response_date=None,
            progression_date=None,
        ),
    ),
    dict(
        id="PD: progression confirmed at the first two assessments",
        # rise 2.6 - 2.0 = 0.6 >= 0.5 and >= 0.25 x 2.0; 2.8 confirms
        labs=[s(-5, 2.0), s(30, 2.6), s(60, 2.8)],
        expect=dict(best_response="PD", best_response_date=30, progression_date=30),
    ),
    dict(
        id="NE: measurable at baseline but no assessment after day 0",
        labs=[s(-5, 2.0)],
        expect=dict(best_response="NE", best_response_date=None, measurable_by="serum"),
    ),
    dict(
        id="NE: serum M 0.8 g/dL is not measurable (IMWG 1.0 g/dL)",
        labs=[s(-5, 0.8), s(30, 0.3), s(60, 0.3)],
        expect=dict(best_response="NE", measurable_by="none", issues=["MML013"]),
    ),
    dict(
        id="PR: serum M 0.8 g/dL measurable when measurable_serum_g_dl = 0.5",
        # (0.8 - 0.3) / 0.8 = 0.625 -> PR twice
        labs=[s(-5, 0.8), s(30, 0.3), s(60, 0.3)],
        params=dict(measurable_serum_g_dl=0.5),
        expect=dict(best_response="PR", best_response_date=30, measurable_by="serum"),
    ),
    # ---------------------------------------------------------------- confirmation
    dict(
        id="confirmation missing at the last visit: VGPR reading stays unconfirmed",
        # 30: 60 % PR; 60: 63 % PR; 90: 93 % VGPR, last -> best confirmed PR (30, 60)
        labs=[s(-5, 3.0), s(30, 1.2), s(60, 1.1), s(90, 0.2)],
        expect=dict(best_response="PR", best_response_date=30),
    ),
    dict(
        id="single PR reading not confirmed counts as SD",
        labs=[s(-5, 3.0), s(30, 1.2)],
        expect=dict(best_response="SD", best_response_date=30, first_response_date=None),
    ),
    dict(
        id="confirmed category is the lower of the two readings",
        # 30: 93 % VGPR; 60: 80 % PR (rise 0.4 from nadir 0.2 < 0.5: not PD) -> PR
        labs=[s(-5, 3.0), s(30, 0.2), s(60, 0.6)],
        expect=dict(best_response="PR", best_response_date=30),
    ),
    dict(
        id="a single high value not confirmed is not progression",
        # 30: 1.0 PR; 60: 1.6 = rise 0.6 from nadir 1.0 (PD reading); 90: 1.0 (not PD)
        # -> no progression; PR on 30 not confirmed (next reading PD) -> SD
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.6), s(90, 1.0)],
        expect=dict(
            best_response="SD",
            best_response_date=30,
            progression_date=None,
            unconfirmed_pd_date=None,
        ),
    ),
    dict(
        id="PD reading at the last assessment is unconfirmed: reported, not an event",
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0), s(90, 1.6)],
        expect=dict(
            best_response="PR",
            best_response_date=30,
            progression_date=None,
            unconfirmed_pd_date=90,
            issues=["MML014"],
        ),
    ),
    dict(
        id="unconfirmed PD counted when unconfirmed_pd_is_event = true",
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0), s(90, 1.6)],
        params=dict(unconfirmed_pd_is_event=True),
        expect=dict(best_response="PR", best_response_date=30, progression_date=90),
    ),
    dict(
        id="confirmed PD is dated at the first of the two assessments",
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0), s(90, 1.6), s(120, 1.7)],
        expect=dict(best_response="PR", best_response_date=30, progression_date=90),
    ),
    dict(
        id="death after an unconfirmed PD confirms it",
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0), s(90, 1.6)],
        lfu=100,
        death=100,
        expect=dict(best_response="PR", progression_date=90, unconfirmed_pd_date=None),
    ),
    dict(
        id="progression after the next line started is not an event of this line",
        # next line on day 100: the confirming value on day 120 is outside the window, so
        # the PD reading on day 90 is the last one: unconfirmed
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0), s(90, 1.6), s(120, 1.7)],
        therapy=[INDEX, ("carfilzomib;dexamethasone", 100, None, None, None)],
        expect=dict(
            best_response="PR", progression_date=None, unconfirmed_pd_date=90, next_line_date=100
        ),
    ),
    # ---------------------------------------------------------------- progression routes
    dict(
        id="serum PD with nadir >= 5 g/dL needs a rise >= 1 g/dL",
        # nadir 6.0: 6.9 (rise 0.9) is not PD; 7.0 (rise 1.0) is, confirmed by 7.2.
        # 30, 60: (8 - 6) / 8 = 25 % -> MR
        labs=[s(-5, 8.0), s(30, 6.0), s(60, 6.0), s(90, 6.9), s(120, 7.0), s(150, 7.2)],
        expect=dict(best_response="MR", best_response_date=30, progression_date=120),
    ),
    dict(
        id="serum PD on the boundary: rise exactly 0.5 g/dL and 25 %, values in g/L",
        # 40 g/L = 4.0 g/dL; nadir 2.0; 25 g/L = 2.5: rise 0.5 = 25 % of 2.0 -> PD
        labs=[
            s(-5, 40, "g/L"),
            s(30, 20, "g/L"),
            s(60, 20, "g/L"),
            s(90, 25, "g/L"),
            s(120, 25.5, "g/L"),
        ],
        expect=dict(best_response="PR", best_response_date=30, progression_date=90),
    ),
    dict(
        id="serum rise of 0.5 g/dL below 25 % of the nadir is not PD",
        # nadir 2.4: 2.9 - 2.4 = 0.5 < 0.25 x 2.4 = 0.6
        labs=[s(-5, 4.0), s(30, 2.4), s(60, 2.4), s(90, 2.9), s(120, 2.9)],
        expect=dict(best_response="MR", progression_date=None),
    ),
    dict(
        id="light-chain-only disease: urine route response and urine PD, g/24h converted",
        # 0.8 g/24h = 800 mg/24h. 30: 300 (62.5 %, >= 200) MR; 60: 150 (< 200) PR;
        # 90: 140 PR -> pairs MR, PR -> PR on 60. PD: 400 - 140 = 260 >= 200, >= 35.
        labs=[
            s(-5, 0),
            u(-5, 0.8, "g/24h"),
            u(30, 300),
            u(60, 150),
            u(90, 140),
            u(120, 400),
            u(150, 420),
        ],
        expect=dict(
            best_response="PR", best_response_date=60, progression_date=120, measurable_by="urine"
        ),
    ),
    dict(
        id="FLC-only disease: FLC route response and dFLC progression, mg/L converted",
        # kappa 600 mg/L = 60 mg/dL, lambda 1.0: ratio 60, dFLC 59. 30: dFLC 19 (68 %) PR;
        # 60: 4 (93 %) VGPR (ratio 5 abnormal: not CR); 90: 3 VGPR -> VGPR on 60.
        # 120: dFLC 15, rise 12 > 10 mg/dL and >= 25 % of 3 -> PD, confirmed by 150.
        labs=[
            s(-5, 0.2),
            u(-5, 50),
            k(-5, 600, "mg/L"),
            lam(-5, 10, "mg/L"),
            k(30, 20),
            lam(30, 1),
            k(60, 5),
            lam(60, 1),
            k(90, 4),
            lam(90, 1),
            k(120, 16),
            lam(120, 1),
            k(150, 17),
            lam(150, 1),
        ],
        expect=dict(
            best_response="VGPR", best_response_date=60, progression_date=120, measurable_by="flc"
        ),
    ),
    dict(
        id="FLC route: a dFLC rise of exactly 10 mg/dL is not PD (> 10 required)",
        labs=[
            s(-5, 0.2),
            k(-5, 60),
            lam(-5, 1),
            k(30, 20),
            lam(30, 1),
            k(60, 5),
            lam(60, 1),
            k(90, 4),
            lam(90, 1),
            k(120, 14),
            lam(120, 1),
            k(150, 14),
            lam(150, 1),
        ],
        expect=dict(best_response="VGPR", progression_date=None),
    ),
    dict(
        id="MR is not defined on the FLC route: 34 % dFLC reduction is SD",
        # dFLC 59 -> 39: (59 - 39) / 59 = 0.34
        labs=[k(-5, 60), lam(-5, 1), k(30, 40), lam(30, 1), k(60, 41), lam(60, 1)],
        expect=dict(best_response="SD", measurable_by="flc"),
    ),
    dict(
        id="serum-measurable patient is never followed on the FLC route (light-chain escape)",
        # serum 2.0 -> 0.9 (55 %) PR twice; kappa rising 5 -> 60 is not FLC PD here
        labs=[
            s(-5, 2.0),
            k(-5, 5),
            lam(-5, 1),
            s(30, 0.9),
            k(30, 30),
            lam(30, 1),
            s(60, 0.9),
            k(60, 60),
            lam(60, 1),
        ],
        expect=dict(best_response="PR", progression_date=None, measurable_by="serum"),
    ),
    dict(
        id="marrow route: BMPC reduced >= 50 % is PR without confirmation",
        # serum 0, urine 0, FLC normal, BMPC 60 % -> marrow route; 20 %: 67 % reduction
        labs=[s(-5, 0), u(-5, 0), k(-5, 1.2), lam(-5, 1.0), bm(-5, 60), bm(60, 20)],
        expect=dict(best_response="PR", best_response_date=60, measurable_by="marrow"),
    ),
    dict(
        id="marrow route PD: BMPC rise >= 10 points and >= 25 % from nadir",
        # nadir 20 -> 32: rise 12 >= 10 and >= 5; no confirmation needed
        labs=[s(-5, 0), u(-5, 0), k(-5, 1.2), lam(-5, 1.0), bm(-5, 60), bm(60, 20), bm(120, 32)],
        expect=dict(best_response="PR", progression_date=120, measurable_by="marrow"),
    ),
    dict(
        id="new bone lesion is progression without confirmation",
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0), new(75)],
        expect=dict(best_response="PR", best_response_date=30, progression_date=75),
    ),
    dict(
        id="plasmacytoma SPD >= 50 % above its nadir is progression",
        # baseline SPD 10; day 30 SPD 4 (60 % smaller: PR allowed, not CR); day 90 SPD 6:
        # rise 2 = 50 % of 4 -> PD on 90 (imaging, no confirmation)
        labs=[s(-5, 2.0), spd(-5, 10), s(30, 1.0), spd(30, 4), s(60, 1.0), spd(90, 6.0)],
        expect=dict(best_response="PR", best_response_date=30, progression_date=90),
    ),
    dict(
        id="baseline plasmacytoma reduced only 30 %: MR, not PR",
        labs=[s(-5, 2.0), spd(-5, 10), s(30, 1.0), spd(30, 7), s(60, 1.0)],
        expect=dict(best_response="MR", best_response_date=30),
    ),
    dict(
        id="baseline plasmacytoma not re-measured: downgraded to SD",
        labs=[s(-5, 2.0), spd(-5, 10), s(30, 1.0), s(60, 1.0)],
        expect=dict(best_response="SD"),
    ),
    dict(
        id="marrow done once between the two IFE-negative assessments: no marrow confirmation",
        # no FLC -> sCR not assessable -> CR
        labs=[s(-5, 3.0), *cr_visit(30, kappa=None), bm(45, 1), *cr_visit(60, kappa=None)],
        expect=dict(best_response="CR", best_response_date=30),
    ),
    dict(
        id="positive immunofixation alone after CR is not progression",
        labs=[
            s(-5, 3.0),
            *cr_visit(30, kappa=None),
            bm(45, 1),
            *cr_visit(60, kappa=None),
            s(90, 0),
            sife(90, "positive"),
            uife(90, "negative"),
            s(120, 0),
            sife(120, "positive"),
            uife(120, "negative"),
        ],
        expect=dict(best_response="CR", progression_date=None),
    ),
    dict(
        id="relapse from CR: M-protein back >= 0.5 g/dL from nadir 0 is progression",
        labs=[
            s(-5, 3.0),
            *cr_visit(30, kappa=None),
            bm(45, 1),
            *cr_visit(60, kappa=None),
            s(90, 0.6),
            s(120, 0.7),
        ],
        expect=dict(best_response="CR", progression_date=90),
    ),
    dict(
        id="serum and urine measurable: urine not measured downgrades to SD",
        labs=[s(-5, 3.0), u(-5, 500), s(30, 1.2), s(60, 1.2)],
        expect=dict(
            best_response="SD", measurable_by="serum", measurable_compartments="serum;urine"
        ),
    ),
    dict(
        id="serum and urine measurable: both respond, the lower level (PR) counts",
        # serum 60 % -> PR; urine 40 and 30 mg/24h (< 100) -> VGPR level; min = PR
        labs=[s(-5, 3.0), u(-5, 500), s(30, 1.2), u(30, 40), s(60, 1.2), u(60, 30)],
        expect=dict(best_response="PR", best_response_date=30),
    ),
    # ---------------------------------------------------------------- lab rows
    dict(
        id="unit mislabelled: 25 g/dL is implausible, reported and left out",
        # 25 g/dL > 15 g/dL (reject range); the value looks like g/L. Without it: 60 and 90
        # are PR (1.2, 1.1 of 3.0)
        labs=[s(-5, 3.0), s(30, 25), s(60, 1.2), s(90, 1.1)],
        expect=dict(best_response="PR", best_response_date=60, issues=["MML004"]),
    ),
    dict(
        id="unit slip inside a series: 2.4 written as g/L is left out (no false response)",
        # 2.4 g/L = 0.24 g/dL is ~10x below both neighbours (2.4 and 2.5 g/dL, which agree):
        # kept, it would read VGPR and make 2.5 a false PD
        labs=[s(-5, 2.5), s(30, 2.4), s(60, 2.4, "g/L"), s(90, 2.5)],
        expect=dict(
            best_response="SD", progression_date=None, unconfirmed_pd_date=None, issues=["MML009"]
        ),
    ),
    dict(
        id="unit not accepted for the test: serum M in mg/dL",
        labs=[s(-5, 3.0), s(30, 1200, "mg/dL"), s(60, 1.2), s(90, 1.1)],
        expect=dict(best_response="PR", best_response_date=60, issues=["MML003"]),
    ),
    dict(
        id="missing unit is never assumed",
        labs=[s(-5, 3.0), s(30, 1.2, ""), s(60, 1.2), s(90, 1.1)],
        expect=dict(best_response="PR", best_response_date=60, issues=["MML003"]),
    ),
    dict(
        id="unknown test name",
        labs=[s(-5, 3.0), (30, "serum_mprotein", 1.2, "g/dL"), s(60, 1.2), s(90, 1.1)],
        expect=dict(best_response="PR", best_response_date=60, issues=["MML002"]),
    ),
    dict(
        id="unreadable date",
        labs=[s(-5, 3.0), ("2022/01/31", "serum_m_protein", 1.2, "g/dL"), s(60, 1.2), s(90, 1.1)],
        expect=dict(best_response="PR", best_response_date=60, issues=["MML005"]),
    ),
    dict(
        id="unreadable value (decimal comma with decimal = '.')",
        labs=[s(-5, 3.0), s(30, "1,2"), s(60, 1.2), s(90, 1.1)],
        expect=dict(best_response="PR", best_response_date=60, issues=["MML006"]),
    ),
    dict(
        id="several values of one test on one date: the worst is kept",
        # 30: 1.0 and 1.4 -> 1.4 (30 % MR); 60: 1.3 (35 % MR) -> MR
        labs=[s(-5, 2.0), s(30, 1.0), s(30, 1.4), s(60, 1.3)],
        expect=dict(best_response="MR", best_response_date=30, issues=["MML012"]),
    ),
    dict(
        id="lab after the last follow-up is left out",
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0), s(150, 3.0)],
        lfu=100,
        expect=dict(best_response="PR", progression_date=None, issues=["MML011"]),
    ),
    dict(
        id="hemoglobin 11 g/L is implausible (a g/dL value labelled g/L)",
        labs=[s(-5, 2.0), (-5, "hemoglobin", 11, "g/L"), s(30, 1.0), s(60, 1.0)],
        expect=dict(best_response="PR", issues=["MML004"]),
    ),
    dict(
        id="patient without any lab row: NE",
        labs=[],
        expect=dict(best_response="NE", measurable_by="none", issues=["MML015"]),
    ),
    # ------------------------------------------------- derivation profiles (clinical.md 1.5)
    dict(
        id="strict: a PR reading at the last assessment is not confirmed (SD)",
        # 30: (2.0 - 1.0) / 2.0 = 50 % -> PR reading; no second assessment -> counts as SD
        labs=[s(-5, 2.0), s(30, 1.0)],
        expect=dict(best_response="SD", first_response_date=None),
    ),
    dict(
        id="relaxed: one PR reading suffices (real-world derived response)",
        labs=[s(-5, 2.0), s(30, 1.0)],
        params=dict(profile="relaxed"),
        expect=dict(best_response="PR", best_response_date=30, first_response_date=30),
    ),
    dict(
        id="relaxed: CR without a marrow result (strict gives VGPR)",
        # M 0 and IFE -/- on 30 and 60, FLC ratio normal, no marrow: strict caps at VGPR
        # (BM_MISSING); relaxed lifts that cap; no clonality result -> CR, not sCR
        labs=[s(-5, 3.0), *cr_visit(30), *cr_visit(60)],
        params=dict(profile="relaxed"),
        expect=dict(best_response="CR", best_response_date=30),
    ),
    dict(
        id="relaxed: marrow 10 % still blocks CR",
        labs=[s(-5, 3.0), bm(20, 10), *cr_visit(30), *cr_visit(60)],
        params=dict(profile="relaxed"),
        expect=dict(best_response="VGPR", best_response_date=30),
    ),
    dict(
        id="relaxed: progression still needs confirmation",
        # 30: rise 2.6 - 2.0 = 0.6 >= 0.5 and >= 25 %, the last assessment, alive: unconfirmed
        labs=[s(-5, 2.0), s(30, 2.6)],
        params=dict(profile="relaxed"),
        expect=dict(progression_date=None, unconfirmed_pd_date=30),
    ),
    dict(
        id="relaxed: the best single reading, dated at its own assessment",
        # 30: 60 % PR; 60: 95 % VGPR (last) -> relaxed VGPR on day 60, first response 30
        labs=[s(-5, 2.0), s(30, 0.8), s(60, 0.1)],
        params=dict(profile="relaxed"),
        expect=dict(best_response="VGPR", best_response_date=60, first_response_date=30),
    ),
    dict(
        id="strict: serum and urine progression at one (last) assessment is unconfirmed",
        # serum rise 2.6 - 2.0 = 0.6 (>= 0.5, >= 0.5 = 25 % of 2.0); urine rise 800 - 500 =
        # 300 mg/24h (>= 200, >= 125); the last assessment, alive
        labs=[s(-5, 2.0), u(-5, 500), s(30, 2.6), u(30, 800)],
        expect=dict(progression_date=None, unconfirmed_pd_date=30),
    ),
    dict(
        id="simultaneous_pd: serum and urine progression at one assessment confirm each other",
        labs=[s(-5, 2.0), u(-5, 500), s(30, 2.6), u(30, 800)],
        params=dict(profile="simultaneous_pd"),
        expect=dict(best_response="PD", progression_date=30, unconfirmed_pd_date=None),
    ),
    dict(
        id="simultaneous_pd: one marker progressing at the last assessment stays unconfirmed",
        # urine 550: rise 50 < 200 mg/24h -> only serum progresses
        labs=[s(-5, 2.0), u(-5, 500), s(30, 2.6), u(30, 550)],
        params=dict(profile="simultaneous_pd"),
        expect=dict(progression_date=None, unconfirmed_pd_date=30),
    ),
    # ---------------------------------------------- next line (PFS2) and anti-CD38 (1.4)
    dict(
        id="next line with a recorded progression: next_line_progression_date (PFS2)",
        # index line progresses on 90 (reason progression); next line starts 120, its own
        # progression on 250 -> the PFS2 event date
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0)],
        therapy=[
            ("isatuximab;pomalidomide;dexamethasone", 0, 100, "progression", 90),
            ("carfilzomib;dexamethasone", 120, 260, "progression", 250),
        ],
        expect=dict(next_line_date=120, next_line_progression_date=250),
    ),
    dict(
        id="next line without a progression: no PFS2 progression date",
        labs=[s(-5, 2.0), s(30, 1.0), s(60, 1.0)],
        therapy=[INDEX, ("carfilzomib;dexamethasone", 120, None, None, None)],
        expect=dict(next_line_date=120, next_line_progression_date=None),
    ),
    dict(
        id="anti-CD38: IgG-kappa band 0.2 g/dL on isatuximab, VGPR -> interference yes",
        # (3.0 - 0.2) / 3.0 = 93 % -> VGPR twice; 0 < 0.2 < 0.25 on treatment; below CR
        labs=[s(-5, 3.0), s(30, 0.2), s(60, 0.2)],
        therapy=[INDEX],
        isotype="IgG kappa",
        expect=dict(best_response="VGPR", anti_cd38_interference="yes", anti_cd38_in_line="yes"),
    ),
    dict(
        id="anti-CD38: same band, isotype not recorded -> possible",
        labs=[s(-5, 3.0), s(30, 0.2), s(60, 0.2)],
        therapy=[INDEX],
        expect=dict(best_response="VGPR", anti_cd38_interference="possible"),
    ),
    dict(
        id="anti-CD38: same band in an IgA-lambda patient -> no",
        labs=[s(-5, 3.0), s(30, 0.2), s(60, 0.2)],
        therapy=[INDEX],
        isotype="IgA lambda",
        expect=dict(anti_cd38_interference="no"),
    ),
    dict(
        id="anti-CD38: a band of exactly 0.25 g/dL is not small enough (exclusive)",
        # (3.0 - 0.25) / 3.0 = 91.7 % -> VGPR
        labs=[s(-5, 3.0), s(30, 0.25), s(60, 0.25)],
        therapy=[INDEX],
        isotype="IgG-k",
        expect=dict(best_response="VGPR", anti_cd38_interference="no"),
    ),
    dict(
        id="anti-CD38: no daratumumab or isatuximab in the line -> no",
        labs=[s(-5, 3.0), s(30, 0.2), s(60, 0.2)],
        therapy=[("pomalidomide;dexamethasone", 0, None, None, None)],
        isotype="IgG kappa",
        expect=dict(anti_cd38_interference="no", anti_cd38_in_line="no"),
    ),
    dict(
        id="anti-CD38: CR reached, nothing hidden -> no",
        labs=[s(-5, 3.0), bm(20, 2), *cr_visit(30), *cr_visit(60)],
        therapy=[INDEX],
        isotype="IgG kappa",
        expect=dict(best_response="CR", anti_cd38_interference="no"),
    ),
    dict(
        id="anti-CD38: no therapy row for the patient -> not assessable",
        labs=[s(-5, 3.0), s(30, 0.2), s(60, 0.2)],
        isotype="IgG kappa",
        expect=dict(anti_cd38_interference=""),
    ),
]


def build(cases: list[dict[str, Any]]) -> tuple[pd.DataFrame, SourceTable, SourceTable | None]:
    """Patient table, lab table and therapy table for a list of cases (one patient each)."""
    pats, lab_rows, th_rows = [], [], []
    for i, c in enumerate(cases):
        pid = f"C{i:03d}"
        lfu = c.get("lfu", LFU)
        death = c.get("death")
        pats.append({
            "patient_id": pid,
            "center": "A",
            "start_date": pd.Timestamp(DAY0),
            "death_date": pd.Timestamp(day(death)) if death is not None else pd.NaT,
            "last_followup_date": pd.Timestamp(day(lfu)),
            "isotype": c.get("isotype"),
        })  # fmt: skip
        for d, test, v, unit in c["labs"]:
            date = d if isinstance(d, str) else day(d)
            lab_rows.append([pid, date, test, None if v is None else str(v), unit or None])
        for agents, start, end, reason, prog in c.get("therapy") or []:
            th_rows.append([pid, agents, day(start), None if end is None else day(end),
                            reason, None if prog is None else day(prog)])  # fmt: skip
    patients = pd.DataFrame(pats)
    lf = pd.DataFrame(lab_rows, columns=["patient_id", "date", "test", "value", "unit"],
                      dtype=object)  # fmt: skip
    labs = SourceTable(pathlib.Path("labs.csv"), "csv", lf, tuple(range(2, len(lf) + 2)), "")
    therapy = None
    if th_rows:
        tf = pd.DataFrame(th_rows, columns=["patient_id", "agents", "start_date", "end_date",
                                            "reason_end", "progression_date"], dtype=object)  # fmt: skip
        therapy = SourceTable(pathlib.Path("therapy.csv"), "csv", tf,
                              tuple(range(2, len(tf) + 2)), "")  # fmt: skip
    return patients, labs, therapy
