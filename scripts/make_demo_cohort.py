"""Generate the SYNTHETIC 51-patient demo cohort shipped in ``src/mmrwe/data/demo/``.

No real patient is behind any row. The cohort is calibrated to the published figures of
Martino et al., Hematol Oncol 2025 (IsaPd after daratumumab; the figures are listed with
their sources as ``[[published]]`` entries of the demo spec, ``src/mmrwe/data/demo/study.toml``):

* counts exact: 51 patients; 31 under 70; 29 female; 38 triple-class refractory; 28 with FISH,
  9 high-risk; best response sCR/CR/VGPR/PR 3/4/7/15;
* survival near the published figures, measured with mmrwe itself: median PFS 5.8 months,
  12-month PFS 30.6 %, median OS 21.0, 12-month OS 63.4 %, median follow-up about 16.8; the
  maximally selected hemoglobin cut-off for PFS between 11.0 and 12.5 g/dL with a
  low-vs-high HR between 2.5 and 5.

Counts are fixed by construction. Times come from a simple generative model (hazards tied to
hemoglobin, FISH risk and response); the script tries seeds in order from ``SEED0`` and keeps
the first cohort whose analysed figures fall inside the calibration windows, so the output
is byte-stable. Run from the repository root::

    python scripts/make_demo_cohort.py            # writes src/mmrwe/data/demo/patients.csv
    python scripts/make_demo_cohort.py --check    # regenerate and compare with the shipped file
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "src" / "mmrwe" / "data" / "demo" / "patients.csv"
SEED0 = 20250142
N = 51
CENTERS = {"Center A": 14, "Center B": 12, "Center C": 10, "Center D": 8, "Center E": 7}
RESPONSES = (
    ["sCR"] * 3 + ["CR"] * 4 + ["VGPR"] * 7 + ["PR"] * 15 + ["MR"] * 5 + ["SD"] * 9 + ["PD"] * 8
)
CUTOFF = dt.date(2024, 6, 30)
DPM = 30.4375

# Calibration windows (tighter than the acceptance windows, so the demo lands near the
# published values rather than at the edge of what is acceptable).
WINDOWS = {
    "pfs_median": (5.8 - 0.2, 5.8 + 0.2),
    "pfs_12": (0.306 - 0.02, 0.306 + 0.02),
    "os_median": (21.0 - 0.7, 21.0 + 0.7),
    "os_12": (0.634 - 0.02, 0.634 + 0.02),
    "followup": (16.8 - 1.5, 16.8 + 1.5),
    "hgb_cut": (11.4, 12.2),
    "hgb_hr": (3.0, 4.2),
}


def _exact(rng: np.random.Generator, n_yes: int, n: int = N) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    flags[rng.choice(n, size=n_yes, replace=False)] = True
    return flags


def generate(seed: int) -> pd.DataFrame:
    """One candidate cohort (counts exact by construction; times random)."""
    rng = np.random.default_rng(seed)
    center = np.repeat(list(CENTERS), list(CENTERS.values()))
    rng.shuffle(center)
    female = _exact(rng, 29)
    under70 = _exact(rng, 31)
    age = np.where(under70, rng.integers(47, 70, N), rng.integers(70, 85, N))
    tcr = _exact(rng, 38)
    prior_lines = np.clip(np.round(rng.gamma(4.0, 0.8, N) + np.where(tcr, 1.0, 0.0)), 1, 9).astype(
        int
    )
    dara_months = np.round(np.clip(rng.gamma(1.4, 5.5, N), 0.3, 48.0), 1)
    hgb = np.round(np.clip(rng.normal(11.7, 1.55, N), 7.8, 15.6), 1)
    tested = _exact(rng, 28)
    high = np.zeros(N, dtype=bool)
    high[rng.choice(np.flatnonzero(tested), size=9, replace=False)] = True
    fish = np.where(~tested, None, np.where(high, "high", "standard"))
    response = np.array(RESPONSES, dtype=object)
    # Better hemoglobin, standard risk and a deeper response go with longer PFS: order
    # responses by a noisy prognostic score so they are associated, not deterministic.
    score = -0.6 * (hgb - 11.7) + 0.8 * high + rng.normal(0, 1.0, N)
    response = response[np.argsort(np.argsort(score))]
    depth = {"sCR": 0.0, "CR": 0.0, "VGPR": 0.15, "PR": 0.35, "MR": 0.9, "SD": 1.1, "PD": 1.6}
    low_hgb = hgb <= 11.8
    log_hazard = (
        np.log(np.log(2) / 21.0)
        + 0.8 * low_hgb
        + 0.9 * high
        + np.array([depth[r] for r in response])
    )
    pfs_months = rng.exponential(1.0 / np.exp(log_hazard))
    # Survival after progression: shorter with low hemoglobin.
    post = rng.exponential(np.where(low_hgb, 11.0, 48.0))
    prog_first = rng.random(N) < 0.85  # most PFS events are progressions, some deaths
    start_days = rng.integers(0, (dt.date(2023, 9, 30) - dt.date(2022, 3, 15)).days, N)
    start = np.array([dt.date(2022, 3, 15) + dt.timedelta(days=int(d)) for d in start_days])
    potential = np.array([(CUTOFF - s).days for s in start], dtype=float)
    lost = rng.random(N) < 0.08
    potential = np.where(lost, potential * rng.uniform(0.3, 0.9, N), potential)
    pfs_days = np.maximum(np.round(pfs_months * DPM), 7)
    death_days = np.where(prog_first, pfs_days + np.maximum(np.round(post * DPM), 14), pfs_days)

    rows = []
    for i in range(N):
        fu = int(potential[i])
        prog = death = None
        if pfs_days[i] <= fu:
            if prog_first[i]:
                prog = start[i] + dt.timedelta(days=int(pfs_days[i]))
            else:
                death = start[i] + dt.timedelta(days=int(pfs_days[i]))
        if death is None and death_days[i] <= fu:
            death = start[i] + dt.timedelta(days=int(death_days[i]))
        last = death if death is not None else start[i] + dt.timedelta(days=fu)
        rows.append(
            {
                "patient_id": f"SYN-{i + 1:03d}",
                "center": center[i],
                "start_date": start[i].isoformat(),
                "progression_date": prog.isoformat() if prog else "",
                "death_date": death.isoformat() if death else "",
                "last_followup_date": last.isoformat(),
                "age": int(age[i]),
                "sex": "F" if female[i] else "M",
                "prior_lines": int(prior_lines[i]),
                "tcr": "yes" if tcr[i] else "no",
                "months_from_dara_refractory": float(dara_months[i]),
                "hgb": float(hgb[i]),
                "fish_risk": fish[i] or "",
                "best_response": response[i],
            }
        )
    return pd.DataFrame(rows)


def measure(df: pd.DataFrame) -> dict[str, float]:
    """The calibration figures, computed with mmrwe's own estimators."""
    from mmrwe.core.conventions import SurvivalConventions
    from mmrwe.stats.cox import cox_fit
    from mmrwe.stats.cutpoint import maxstat_cutpoint
    from mmrwe.stats.km import kaplan_meier, reverse_km_followup

    conv = SurvivalConventions()
    start = pd.to_datetime(df.start_date)
    prog = pd.to_datetime(df.progression_date.replace("", None))
    death = pd.to_datetime(df.death_date.replace("", None))
    last = pd.to_datetime(df.last_followup_date)
    pfs_end = pd.concat([prog, death], axis=1).min(axis=1)
    pfs_event = pfs_end.notna().to_numpy()
    pfs_t = ((pfs_end.fillna(last) - start).dt.days / DPM).to_numpy()
    os_event = death.notna().to_numpy()
    os_t = ((last - start).dt.days / DPM).to_numpy()
    pfs = kaplan_meier(pfs_t, pfs_event, conventions=conv)
    os_ = kaplan_meier(os_t, os_event, conventions=conv)
    fu = reverse_km_followup(os_t, os_event, conventions=conv)
    hgb = df.hgb.to_numpy(float)
    ms = maxstat_cutpoint(pfs_t, pfs_event, hgb, minprop=0.1)
    low = (hgb <= ms.cutpoint).astype(float).reshape(-1, 1)
    hr = cox_fit(pfs_t, pfs_event, low, names=["low"]).hr[0]
    return {
        "pfs_median": pfs.median.value,
        "pfs_12": pfs.survival_at(12).surv,
        "os_median": os_.median.value,
        "os_12": os_.survival_at(12).surv,
        "followup": fu.to_dict()["estimate"],
        "hgb_cut": ms.cutpoint,
        "hgb_hr": float(hr),
    }


def ok(m: dict[str, float]) -> bool:
    return all(
        v is not None and lo <= m[k] <= hi for k, (lo, hi) in WINDOWS.items() for v in [m[k]]
    )


def search(max_tries: int = 200_000) -> tuple[int, pd.DataFrame, dict[str, float]]:
    for k in range(max_tries):
        seed = SEED0 + k
        df = generate(seed)
        m = measure(df)
        if ok(m):
            return seed, df, m
    raise SystemExit(f"no seed in {max_tries} tries met the calibration windows")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--check", action="store_true", help="regenerate and compare with the shipped file"
    )
    args = ap.parse_args()
    seed, df, m = search()
    text = df.to_csv(index=False, lineterminator="\n")
    print(f"seed {seed}: " + ", ".join(f"{k}={v:.4g}" for k, v in m.items()))
    if args.check:
        same = OUT.read_text() == text
        print("shipped file is identical" if same else "shipped file DIFFERS")
        sys.exit(0 if same else 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
