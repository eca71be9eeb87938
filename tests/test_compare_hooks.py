"""The hooks of the run design that interactive front ends use (the policy explorer): a
progress callback, a cancel hook, and the claim latencies a comparison can keep, with the two
comparison figures drawn from them (latency overlay, winners and losers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim
from sim.analysis.metrics import claim_latency
from sim.experiments.design import replication_seed
from sim.foundation.errors import Cancelled
from sim.presentation.figures import registry
from sim.presentation.figures.comparison import latency_overlay, winners_losers
from tests.conftest import SMALL_SCENARIO

VARIANTS = {"fcfs": {}, "lottery": {"platform.allocation": {"rule": "lottery", "window": "5min"}}}


def test_progress_callback_and_latencies() -> None:
    seen: list[tuple[int, int]] = []
    cmp = sim.compare(SMALL_SCENARIO, VARIANTS, replications=2, seed=4, processes=1,
                      progress=lambda done, total: seen.append((done, total)), latencies=True)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    plain = sim.compare(SMALL_SCENARIO, VARIANTS, replications=2, seed=4, processes=1,
                        progress=False)
    assert plain.latencies == {}
    assert cmp.runs.equals(plain.runs)  # keeping latencies changes no result
    scn = sim.override(sim.load_scenario(SMALL_SCENARIO), VARIANTS["lottery"])
    again = sim.run(scn, seed=replication_seed(4, 0))
    np.testing.assert_array_equal(cmp.latencies["lottery"], claim_latency(again.tasks))


@pytest.mark.parametrize("processes", [1, 2])
def test_cancel_stops_after_the_runs_in_flight(processes: int) -> None:
    calls: list[int] = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2  # asked before the first run and after each: stop after 2 runs

    with pytest.raises(Cancelled, match="cancelled after"):
        sim.compare(SMALL_SCENARIO, VARIANTS, replications=4, seed=1, processes=processes,
                    progress=False, cancel=cancel)
    assert len(calls) == 3


def test_cancel_before_any_run() -> None:
    with pytest.raises(Cancelled, match="after 0 runs"):
        sim.compare(SMALL_SCENARIO, VARIANTS, replications=2, processes=1, progress=False,
                    cancel=lambda: True)


def test_latency_and_winners_figures(tmp_path: Path) -> None:
    cmp = sim.compare(SMALL_SCENARIO, VARIANTS, replications=3, seed=2, processes=1,
                      progress=False, latencies=True)
    fig = latency_overlay(cmp)
    assert len(fig.axes[0].get_lines()) == 2
    fig = winners_losers(cmp)
    bars: Any = fig.axes[0].patches
    assert len(bars) == 3  # one per profile, one non-baseline variant
    paired = cmp.paired(metrics=["monthly_earnings_mean.employee"])
    assert bars[[t.get_text() for t in fig.axes[0].get_yticklabels()].index("employee")
                ].get_width() == pytest.approx(paired["mean_diff"].iloc[0])
    names = [p.name for p in registry.save_comparison_plots(cmp, tmp_path)]
    assert names[-2:] == ["winners_losers.png", "latency_overlay.png"]
    cmp.latencies = {}
    assert "latency_overlay.png" not in [
        p.name for p in registry.save_comparison_plots(cmp, tmp_path / "b")]
