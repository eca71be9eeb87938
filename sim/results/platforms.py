"""Per-platform figures of a market of several platforms, side by side.

The headline summary is the market's (every worker's earnings from every platform); this
table says how each platform's own rules and demand play out: its members, tasks, how fast
they are claimed, what its members earn there and how concentrated that is, and each
profile's share of what it pays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.metrics import claim_latency, fill_rate, gini, median, monthly, profiles
from sim.scenario.schema import Scenario


def platform_summary(scn: Scenario, tasks: pd.DataFrame, workers: pd.DataFrame,
                     registrations: pd.DataFrame | None) -> pd.DataFrame:
    """One row per platform (index ``platform``): ``rule``, ``members``, ``tasks_posted``,
    ``fill_rate``, ``claim_latency_median`` (s), ``earnings`` (its total), ``monthly_earnings
    _per_member``, ``earnings_gini`` (among its members, zero earners included) and
    ``earnings_share.<profile>`` (each profile's share of its earnings). With one platform
    the single row is the market's."""
    market = scn.market()
    if registrations is None:  # one platform: everyone is a member
        registrations = workers.assign(platform=market[0].name)
        tasks = tasks.assign(platform=market[0].name)
    names = profiles(workers)
    rows = []
    for spec in market:
        mine = tasks[tasks["platform"] == spec.name]
        members = registrations[registrations["platform"] == spec.name]
        earnings = members["earnings"].to_numpy(dtype=float)
        total = float(earnings.sum())
        by_profile = members.groupby("profile", observed=False)["earnings"].sum()
        rows.append({
            "platform": spec.name,
            "rule": spec.platform.allocation.rule,
            "members": len(members),
            "tasks_posted": len(mine),
            "fill_rate": fill_rate(mine),
            "claim_latency_median": median(claim_latency(mine)),
            "earnings": total,
            "monthly_earnings_per_member": (monthly(total / len(members), scn.horizon)
                                            if len(members) else np.nan),
            "earnings_gini": gini(earnings),
            **{f"earnings_share.{p}": (float(by_profile.get(p, 0.0)) / total if total > 0
                                       else np.nan) for p in names},
        })
    return pd.DataFrame(rows).set_index("platform")
