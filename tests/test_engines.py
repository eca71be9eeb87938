"""The event-driven race engine and the literal polling oracle agree (DESIGN.md, rule 5).

The engines draw different random numbers (the polling engine draws a refresh gap at every
poll, the race engine only when a release makes it matter), so they agree in distribution,
not bit for bit. Each scenario is run with both engines for the same seeds. Thanks to common
random numbers (population and task arrivals come from their own streams), the run with seed
``s`` under each engine sees the same workers and the same tasks, so we compare *paired*
per-replication statistics: ``d_s = stat_race(s) - stat_polling(s)`` are independent across
seeds, and we assert ``|mean(d)| <= 4 * SE`` with ``SE = sd(d) / sqrt(replications)``
(a Welch-style bound on the difference of means, sharpened by the pairing). Statistics: the
mean, median and 90th percentile of the claim latency (its distribution), the share of claims
won by each profile, and the fill rate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.core import board, clock, discovery, engine, population

Z = 4.0
REPLICATIONS = 24
STATS = ("latency_mean", "latency_median", "latency_p90", "fill_rate")


def refresh(kind: str, interval: str) -> dict[str, Any]:
    """Discovery by refreshing every ``interval``: ``periodic`` (constant) or memoryless."""
    dist = (
        {"dist": "constant", "value": interval}
        if kind == "periodic"
        else {"dist": "exponential", "mean": interval}
    )
    return {"mode": "refresh", "interval": dist}


def notification(mean: str) -> dict[str, Any]:
    """Discovery by notification with an exponential reaction delay of ``mean``."""
    return {"mode": "notification", "reaction": {"dist": "exponential", "mean": mean}}


def market(profiles: dict[str, Any], workers: int, **platform: Any) -> dict[str, Any]:
    """One busy day: batches of 1-5 tasks every ~2 minutes, exponential effort (no exact ties
    between periodic schedules), 5-minute expiry so that the fill rate is informative."""
    return {
        "name": "engines",
        "horizon": "1d",
        "workers": workers,
        "profiles": profiles,
        "task_types": {
            "task": {
                "reward": 1.0,
                "effort": {"dist": "exponential", "mean": "4min"},
                "batch_size": {"dist": "choice", "values": [1, 2, 5], "weights": [6, 3, 1]},
                "expiry": "5min",
            }
        },
        "requesters": {"count": 2, "batches_per_day": 800, "task_mix": {"task": 1.0}},
        "platform": platform,
    }


def always(share: float, discovery: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """An always-online profile (``discovery`` may be a mix of modes with shares)."""
    return {"share": share, "always_online": True, "discovery": discovery}


def daily(share: float, discovery: dict[str, Any]) -> dict[str, Any]:
    """A profile online once a day, at a random time in the first half, for ~6 hours."""
    session = {
        "start": {"dist": "uniform", "low": "0h", "high": "12h"},
        "duration": {"dist": "exponential", "mean": "6h"},
    }
    return {"share": share, "sessions": [session], "discovery": discovery}


SCENARIOS: dict[str, dict[str, Any]] = {
    "periodic": market(
        {"fast": always(0.5, refresh("periodic", "20s")),
         "slow": always(0.5, refresh("periodic", "60s"))},
        workers=8,
    ),
    "memoryless": market(
        {"fast": always(0.5, refresh("memoryless", "20s")),
         "slow": always(0.5, refresh("memoryless", "60s"))},
        workers=8,
    ),
    "notification": market(
        {"fast": always(0.5, notification("30s")), "slow": always(0.5, notification("2min"))},
        workers=8,
    ),
    "sessions": market(
        {"periodic": daily(0.4, refresh("periodic", "1min")),
         "memoryless": daily(0.3, refresh("memoryless", "2min")),
         "notified": daily(0.3, notification("1min"))},
        workers=20,
        max_claimed=2,
    ),
    "daily_cap": market(
        {"periodic": daily(0.5, refresh("periodic", "1min")),
         "mixed": always(0.5, [{**notification("1min"), "share": 0.5},
                               {**refresh("memoryless", "30s"), "share": 0.5}])},
        workers=12,
        daily_cap=40,
    ),
    "lottery_window": market(
        {"memoryless": daily(0.5, refresh("memoryless", "1min")),
         "notified": always(0.5, notification("1min"))},
        workers=12,
        allocation={"rule": "lottery", "window": "1min"},
    ),
}


def replication_stats(scenario: dict[str, Any], engine: str,
                      replications: int = REPLICATIONS) -> dict[str, np.ndarray]:
    """Per-seed statistics of ``scenario`` run with ``engine``."""
    scn = sim.override(sim.load_scenario(scenario), {"engine": engine})
    profiles = list(scn.profiles)
    rows: dict[str, list[float]] = {k: [] for k in (*STATS, *(f"share.{p}" for p in profiles))}
    for seed in range(replications):
        res = sim.run(scn, seed=seed)
        tasks = res.tasks
        claimed = tasks[tasks["claimed_at"].notna()]
        latency = (claimed["claimed_at"] - claimed["released_at"]).to_numpy()
        rows["latency_mean"].append(latency.mean())
        rows["latency_median"].append(np.median(latency))
        rows["latency_p90"].append(np.quantile(latency, 0.9))
        rows["fill_rate"].append(res.summary["fill_rate"])
        winners = claimed["winner_profile"].astype(str)
        for p in profiles:
            rows[f"share.{p}"].append((winners == p).mean())
    return {k: np.asarray(v) for k, v in rows.items()}


def large_market() -> dict[str, Any]:
    """A large population (400 workers, of whom a few hundred idle at each release: release
    waves sort only their earliest arrivals) with batches of up to 20 tasks, workers holding
    up to 2 tasks and looking again on each completion (busy enough that some tasks expire),
    every discovery mode, 8 hours."""
    scenario = market(
        {"periodic": daily(0.4, refresh("periodic", "2min")),
         "memoryless": daily(0.3, refresh("memoryless", "3min")),
         "notified": daily(0.3, notification("1min"))},
        workers=400,
        max_claimed=2,
    )
    scenario["horizon"] = "8h"
    for profile in scenario["profiles"].values():
        profile["sessions"][0]["start"] = {"dist": "uniform", "low": "0h", "high": "2h"}
    scenario["task_types"]["task"]["batch_size"] = {
        "dist": "choice", "values": [1, 5, 20], "weights": [5, 3, 2]}
    scenario["requesters"]["batches_per_day"] = 7000
    scenario["task_types"]["task"]["effort"] = {"dist": "exponential", "mean": "5min"}
    return scenario


def assert_agree(name: str, race: dict[str, np.ndarray], polling: dict[str, np.ndarray]) -> None:
    """|mean paired difference| <= Z standard errors for every statistic."""
    failures = []
    for key in race:
        d = race[key] - polling[key]
        se = d.std(ddof=1) / math.sqrt(len(d))
        scale = max(abs(race[key].mean()), 1.0)
        if abs(d.mean()) > Z * se + 1e-9 * scale:  # identical draws (notification) give se = 0
            failures.append(
                f"{key}: race {race[key].mean():.4g} vs polling {polling[key].mean():.4g}"
                f" (difference {d.mean():.3g}, SE {se:.3g})"
            )
    assert not failures, f"{name}: engines disagree:\n  " + "\n  ".join(failures)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_engines_agree(name: str) -> None:
    """Race and polling agree on latency distribution, win shares and fill rate (paired,
    |mean difference| <= 4 SE over replications)."""
    assert_agree(name, replication_stats(SCENARIOS[name], "race"),
                 replication_stats(SCENARIOS[name], "polling"))


def test_engines_agree_at_large_population() -> None:
    """The same agreement where a release has hundreds of idle candidates, batches are claimed
    by several arrivals, and busy workers look again on completion (16 paired seeds)."""
    scenario = large_market()
    race = replication_stats(scenario, "race", replications=16)
    polling = replication_stats(scenario, "polling", replications=16)
    assert race["fill_rate"].mean() < 0.99  # competition: not every task finds a worker
    assert_agree("large", race, polling)


def test_partial_selection_and_compaction_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sorting a release's arrivals a few at a time (refilled while the batch is open) and
    compacting the board often give exactly the run of one full sort and no compaction."""
    scn = sim.load_scenario(large_market())
    monkeypatch.setattr(discovery, "FRONT", 10**9)
    monkeypatch.setattr(board, "COMPACT_SLACK", 10**9)
    whole = sim.run(scn, seed=3).tasks
    monkeypatch.setattr(discovery, "FRONT", 1)
    monkeypatch.setattr(board, "COMPACT_SLACK", 1)
    pd.testing.assert_frame_equal(sim.run(scn, seed=3).tasks, whole)


@pytest.mark.parametrize("case", ["platforms", "polling-caps-lottery"])
def test_numbering_active_workers_first_is_exact(case: str, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    """Numbering the workers who come online first inside the run (``active_first``) gives the
    records of the natural numbering exactly, once numbered back: on a market of several
    platforms (registrations included), and with the polling engine, daily caps (workers
    capped and released at midnight) and a window rule."""
    root = "scenarios/platforms_market.yaml" if case == "platforms" else "scenarios/baseline.yaml"
    changes: dict[str, Any] = {"horizon": "3d"}
    if case != "platforms":
        changes.update({"engine": "polling", "platform.daily_cap": 15,
                        "platform.allocation": {"rule": "lottery", "window": 30}})
    scn = sim.override(sim.load_scenario(root), changes)
    assert population.active_first(population.build_population(
        scn, engine.Streams(5))) is not None  # the case does renumber
    renumbered = engine.simulate(scn, 5)
    monkeypatch.setattr(engine, "active_first", lambda pop: None)
    natural = engine.simulate(scn, 5)
    for field, value in vars(natural).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(renumbered, field), value, err_msg=field)
        else:
            assert getattr(renumbered, field) == value, field
    assert (natural.task_worker >= 0).sum() > 1000


def test_race_engine_uses_far_fewer_events() -> None:
    """Rare tasks, workers refreshing every 20 s all day: polling pays for every refresh, the
    race engine only for releases, claims and completions."""
    scenario = {
        "name": "idle",
        "horizon": "1d",
        "workers": 10,
        "profiles": {
            "periodic": always(0.5, refresh("periodic", "20s")),
            "memoryless": always(0.5, refresh("memoryless", "20s")),
        },
        "task_types": {"task": {"reward": 1.0, "effort": "1min"}},
        "requesters": {"count": 1, "batches_per_day": 100, "task_mix": {"task": 1.0}},
    }
    race = sim.run(scenario, seed=1)
    polling = sim.run(sim.override(sim.load_scenario(scenario), {"engine": "polling"}), seed=1)
    assert polling.stats["polls"] > 10 * 86400 / 20 * 0.9  # nearly every refresh was an event
    assert race.stats["polls"] == 0
    assert race.stats["events"] * 20 < polling.stats["events"], (race.stats, polling.stats)
    assert race.stats["events_per_task"] < 10
    # and they still did the same work
    assert len(race.tasks) == len(polling.tasks)
    assert race.tasks["claimed_at"].notna().sum() == polling.tasks["claimed_at"].notna().sum()


class _ScriptedEngine:
    """Just what ``Arrivals._arrive`` reads of a race engine: stamps that never change, a
    platform whose looks are scripted, and each wave's next entry as its next key."""

    def __init__(self, arrivals: discovery.Arrivals, on_look: dict[int, Any]) -> None:
        self.version, self.epoch, self.members = [0] * 8, [0] * 8, list(range(8))
        self.looks: list[int] = []
        self.platform = self
        self.on_look = on_look
        self.arrivals = arrivals

    def look(self, w: int) -> None:
        self.looks.append(w)
        if w in self.on_look:
            self.on_look[w]()

    def next_key(self, wave: Any) -> float | None:
        return wave.keys[wave.next] if wave.next < len(wave.keys) else None


def test_an_arrival_armed_during_a_look_before_the_wave_s_key_is_kept() -> None:
    """The wave that arrives stays on the heap during the look and is then replaced by its
    next entry; when the look arms an arrival due before the wave's key (possible only within
    a rounding error of now), the order is still that of a pop before the look and a push
    after it: the new arrival is not lost and comes next."""
    arrivals = discovery.Arrivals(clock.Clock())
    early = discovery._Wave.of_one(None, 3, 4.0, 0)
    scripted = _ScriptedEngine(arrivals, {1: lambda: arrivals.push(4.0, early)})
    early.engine = scripted
    first = discovery._Wave.of_one(scripted, 1, 5.0, 0)
    first.keys, first.workers, first.versions = [5.0, 8.0], [1, 2], [0, 0]
    later = discovery._Wave.of_one(scripted, 5, 7.0, 0)
    arrivals.push(5.0, first)
    arrivals.push(7.0, later)
    arrivals.schedule()
    arrivals._arrive()
    assert scripted.looks == [1, 3]
    assert [(key, wave) for key, _, wave in sorted(arrivals.heap)] == [(7.0, later), (8.0, first)]
