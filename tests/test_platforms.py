"""Markets of several platforms (issue 12): workers registered on more than one, one task at a
time across all of them, each platform with its own board, rule, levers and ledger.

* Half attention: two identical platforms with independent demand and every worker on both
  give each platform the statistics of one platform alone whose workers look half as often.
  The conserved quantity is a worker's looks per hour online: on k platforms each board gets
  1/k of them (a script refreshing every T looks at each of its k apps as an independent
  clock of mean k T). Checked against the exact claim latency of the race: with n idle
  workers each looking at a board as a Poisson process of rate r, a task released there is
  claimed after the first look, an exponential delay of mean 1 / (n r).
* Isolation: with no worker on both, one platform's lever (rule, minimum pay) leaves the
  other's rows bit for bit unchanged (each platform draws from streams of its own).
* Invariants per platform (one task at a time across platforms, each platform's caps and
  payout threshold, money per platform) and engine agreement (race against the polling
  oracle) on a market with overlap.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.cli import main
from sim.core.board import Board
from sim.core.discovery import RaceEngine
from sim.core.engine import simulate
from sim.core.population import _inclusion, build_population
from sim.foundation.errors import ScenarioError
from sim.foundation.streams import Streams
from sim.presentation.text import format_summary
from sim.results.invariants import check

Z = 4.0


def two_platforms(workers: int, interval: str, count: float, batches: float = 200,
                  effort: str = "20s", **levers: Any) -> dict[str, Any]:
    """Two identical platforms ``a`` and ``b``, always-online script workers, tasks of one
    kind posted one at a time; ``count`` platforms per worker (2: everyone on both)."""
    return {
        "name": "two_platforms", "horizon": "2d", "workers": workers,
        "profiles": {"w": {"share": 1.0, "always_online": True,
                           "discovery": {"mode": "script",
                                         "interval": {"dist": "exponential", "mean": interval}},
                           "platforms": {"count": count}}},
        "task_types": {"task": {"reward": 0.1, "effort": effort}},
        "requesters": {"count": 3, "batches_per_day": batches, "task_mix": {"task": 1.0}},
        "platforms": {"a": {"registered": workers}, "b": {"registered": workers,
                                                          "platform": levers}},
    }


def alone(workers: int, interval: str, batches: float = 200) -> dict[str, Any]:
    """One platform with the same workers and demand as one of :func:`two_platforms`."""
    scn = two_platforms(workers, interval, 1, batches)
    del scn["platforms"], scn["profiles"]["w"]["platforms"]
    return scn


def latencies(res: sim.RunResult, platform: str | None) -> np.ndarray:
    tasks = res.tasks if platform is None else res.tasks[res.tasks["platform"] == platform]
    claimed = tasks["claimed_at"].notna()
    return (tasks["claimed_at"] - tasks["released_at"])[claimed].to_numpy()


def test_two_identical_platforms_each_get_half_the_attention() -> None:
    """40 workers on both platforms, each refreshing every 10 min (so every 20 min per app):
    a task on either platform waits 1 / (40 / 20 min) = 30 s, as on one platform alone whose
    workers refresh every 20 min; work is short (20 s), so a worker is rarely busy on the
    other platform (about 0.5 % of its time; the exact formula ignores it)."""
    n, seeds = 40, range(6)
    expected = 1 / (n / 1200.0)
    both, single = [], []
    for seed in seeds:
        market = sim.run(two_platforms(n, "10min", 2), seed)
        assert set(market.registrations.groupby("worker_id").size()) == {2}
        both += [latencies(market, "a"), latencies(market, "b")]
        single.append(latencies(sim.run(alone(n, "20min"), seed), None))
    for sample in (np.concatenate(both), np.concatenate(single)):
        se = sample.std(ddof=1) / math.sqrt(len(sample))
        assert abs(sample.mean() - expected) < Z * se, (sample.mean(), expected, se)
    a, b = np.concatenate(both), np.concatenate(single)
    se = math.hypot(a.std(ddof=1) / math.sqrt(len(a)), b.std(ddof=1) / math.sqrt(len(b)))
    assert abs(a.mean() - b.mean()) < Z * se


def test_workers_on_both_platforms_earn_what_they_would_earn_on_each_alone() -> None:
    """Per platform, a member's mean earnings there equal a worker's on one platform alone
    with half the attention (same demand per platform, same number of workers)."""
    n, diffs = 40, []
    for seed in range(6):
        market = sim.run(two_platforms(n, "10min", 2), seed)
        single = sim.run(alone(n, "20min"), seed)
        per_platform = market.registrations.groupby("platform", observed=True)["earnings"].mean()
        diffs.append(per_platform.mean() - single.workers["earnings"].mean())
    diffs = np.asarray(diffs)
    se = diffs.std(ddof=1) / math.sqrt(len(diffs))
    assert abs(diffs.mean()) < Z * se + 1e-9


@pytest.mark.parametrize("lever", [
    {"allocation": {"rule": "lottery", "window": "2min"}},
    {"minimum_pay_rate": 30.0, "demand_elasticity": 1.0},
    {"daily_cap": 3, "commission": 0.2, "payout_threshold": 1.0},
])
def test_a_lever_on_one_platform_leaves_the_other_alone_without_overlap(lever: dict) -> None:
    """Every worker on one platform: changing platform b's rules changes nothing of a's tasks
    and registrations, bit for bit (paired seeds)."""
    before = sim.run(two_platforms(60, "5min", 1, batches=400, effort="3min"), 4)
    after = sim.run(two_platforms(60, "5min", 1, batches=400, effort="3min", **lever), 4)
    assert set(before.registrations.groupby("worker_id").size()) == {1}
    for res in (before, after):
        assert check(res) == []
    ident = ["run_id", "seed", "variant", "replication"]

    def rows(res: sim.RunResult, table: str) -> pd.DataFrame:
        frame = getattr(res, table)
        mine = frame[frame["platform"] == "a"].drop(columns=ident)
        return mine.drop(columns=["task_id", "batch_id"], errors="ignore").reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(before, "tasks"), rows(after, "tasks"))
    pd.testing.assert_frame_equal(rows(before, "registrations"), rows(after, "registrations"))
    changed = before.platforms.loc["b"].drop("rule").astype(float) \
        != after.platforms.loc["b"].drop("rule").astype(float)
    assert changed.any() or (before.platforms.loc["b", "rule"] != after.platforms.loc["b", "rule"])


def test_invariants_hold_per_platform_with_overlap_and_different_levers() -> None:
    """Workers on one to three platforms with different caps, holds and thresholds: one task at
    a time across platforms, each platform's max_claimed and daily cap, money per platform."""
    scn = two_platforms(80, "2min", 0, batches=1500, effort="4min", max_claimed=2,
                        daily_cap=6, payout_threshold=0.5, commission=0.1)
    scn["profiles"]["w"]["platforms"] = {"count": {"dist": "choice", "values": [1, 2, 3],
                                                   "weights": [0.4, 0.4, 0.2]}}
    scn["platforms"]["c"] = {"registered": 40, "platform": {"allocation": {
        "rule": "least_earned", "window": "1min"}}, "requesters": {"batches_per_day": 300}}
    scn["task_types"]["task"]["batch_size"] = {"dist": "choice", "values": [1, 4]}
    for seed in range(3):
        res = sim.run(scn, seed)
        assert check(res) == []
        sizes = res.registrations.groupby("worker_id").size()
        assert set(sizes) <= {1, 2, 3} and sizes.max() == 3
        # the workers table adds up the registrations
        earned = res.registrations.groupby("worker_id")["earnings"].sum()
        np.testing.assert_allclose(earned.reindex(res.workers["worker_id"], fill_value=0),
                                   res.workers["earnings"], atol=1e-9)
        assert (res.tasks.groupby("platform", observed=True)["worker_id"].count() > 0).all()


def test_the_checker_sees_a_worker_paid_by_a_platform_it_is_not_on() -> None:
    res = sim.run(two_platforms(30, "5min", 1, batches=300), 1)
    moved = res.registrations.copy()
    first = moved.index[moved["earnings"] > 0][0]
    moved.loc[first, "platform"] = "b" if moved.loc[first, "platform"] == "a" else "a"
    res.registrations = moved
    assert any("platform" in v for v in check(res))


@pytest.mark.parametrize("case", ["market", "caps_windows_memoryless", "adaptive"])
def test_lazy_availability_gives_the_eager_records_exactly(case: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The race engine's lazy bookkeeping of workers on several platforms (a claim only kills
    what the other boards armed; releases leave busy workers out; a completion resumes only
    refreshers) gives the records of the eager one (every other board told at every claim and
    completion) bit for bit: the shipped market (notified, periodic and script workers); daily
    caps on every platform (workers capped, then busy elsewhere at midnight), a window rule
    and memoryless clocks; adaptive supply (whose patience clock hears of every look)."""
    changes: dict[str, Any] = {"horizon": "3d"}
    if case == "caps_windows_memoryless":
        changes.update({
            "platform.daily_cap": 12,
            "platforms.third.platform.allocation": {"rule": "lottery", "window": "30s"},
            "profiles.employee.discovery": {"mode": "refresh",
                                            "interval": {"dist": "exponential", "mean": "4min"}},
        })
    if case == "adaptive":
        changes["supply.adaptive"] = True
    scn = sim.override(sim.load_scenario("scenarios/platforms_market.yaml"), changes)
    rechecks: list[int] = []
    looks: list[tuple[int, int]] = []
    recheck, look = Board.recheck, Board.look
    monkeypatch.setattr(Board, "recheck", lambda self, w: (rechecks.append(w), recheck(self, w)))
    monkeypatch.setattr(Board, "look", lambda self, w, *hungry: (
        looks.append((self.index, w)), look(self, w, *hungry)))
    lazy = simulate(scn, 3)
    lazy_looks, looks[:] = looks[:], []
    assert rechecks == []  # lazy indeed: no other board was told
    monkeypatch.setattr(RaceEngine, "masks_busy", False)
    eager = simulate(scn, 3)
    assert len(rechecks) > 100  # and eager: the other boards were told
    # the same looks in the same order: no arrival of a busy worker survives (its effects,
    # a phase moved or a tie between arrivals ordered otherwise, may show only at full size)
    assert lazy_looks == looks
    for field, value in vars(eager).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(lazy, field), value, err_msg=field)
        else:
            assert getattr(lazy, field) == value, field
    claimed = eager.task_worker >= 0
    assert claimed.sum() > 5_000
    if case == "caps_windows_memoryless":  # the cap binds: some worker-days reach it
        day = (eager.task_claimed[claimed] // 86_400).astype(np.int64)
        keys = np.stack([eager.task_worker[claimed], eager.task_platform[claimed], day])
        assert np.unique(keys, axis=1, return_counts=True)[1].max() == 12


@pytest.mark.parametrize("seed_base", [0])
def test_race_and_polling_agree_on_a_market_with_overlap(seed_base: int) -> None:
    """Race engine against the literal polling oracle on two platforms sharing half of the
    workers, periodic and memoryless refreshers, busy workers (4-minute tasks, batches of up
    to 4): paired seeds, |mean difference| within 4 SE for the latency mean and fill rate."""
    scn = two_platforms(50, "3min", 0, batches=900, effort="4min")
    scn["horizon"] = "12h"
    scn["profiles"]["w"]["platforms"] = {"count": {"dist": "choice", "values": [1, 2]}}
    scn["profiles"]["w"]["discovery"] = [
        {"mode": "refresh", "share": 0.5, "interval": {"dist": "constant", "value": "3min"}},
        {"mode": "script", "share": 0.5, "interval": {"dist": "exponential", "mean": "3min"}}]
    scn["task_types"]["task"]["batch_size"] = {"dist": "choice", "values": [1, 4]}
    scn["task_types"]["task"]["expiry"] = "6min"
    diffs: dict[str, list[float]] = {"latency": [], "fill": []}
    for seed in range(seed_base, seed_base + 16):
        stats = []
        for engine in ("race", "polling"):
            res = sim.run({**scn, "engine": engine}, seed)
            assert check(res) == []
            stats.append((latencies(res, None).mean(), res.tasks["claimed_at"].notna().mean()))
        diffs["latency"].append(stats[0][0] - stats[1][0])
        diffs["fill"].append(stats[0][1] - stats[1][1])
    for name, values in diffs.items():
        d = np.asarray(values)
        assert abs(d.mean()) <= Z * d.std(ddof=1) / math.sqrt(len(d)) + 1e-12, name


def test_platform_errors_name_the_field() -> None:
    base = two_platforms(10, "5min", 1)
    cases = [
        (("platforms", "b", "platform"), {"commission": 2}, "platforms.b.platform.commission"),
        (("platforms", "b", "requesters"), {"task_mix": {"nope": 1}},
         "platforms.b.requesters.task_mix"),
        (("profiles", "w", "platforms"), {"weights": {"zzz": 1}},
         "profiles.w.platforms.weights"),
    ]
    for path, value, where in cases:
        data = {**base, "platforms": {k: dict(v) for k, v in base["platforms"].items()},
                "profiles": {"w": dict(base["profiles"]["w"])}}
        data[path[0]][path[1]][path[2]] = value
        with pytest.raises(ScenarioError, match=where.replace(".", r"\.")):
            sim.load_scenario(data)
    single = alone(10, "5min")
    single["profiles"]["w"]["platforms"] = {"count": 2}
    with pytest.raises(ScenarioError, match=r"profiles\.w\.platforms"):
        sim.load_scenario(single)


def test_a_lever_set_at_the_top_applies_to_every_platform() -> None:
    data = two_platforms(10, "5min", 1, commission=0.3)
    data["platform"] = {"daily_cap": 7, "commission": 0.1}
    market = sim.load_scenario(data).market()
    assert [m.platform.daily_cap for m in market] == [7, 7]
    assert [m.platform.commission for m in market] == [0.1, 0.3]
    data["platforms"]["b"]["platform"] = {"allocation": {"rule": "least_earned",
                                                         "period": "day", "window": 60}}
    data["platform"]["allocation"] = {"rule": "lottery", "window": 30}
    market = sim.load_scenario(data).market()
    assert [m.platform.allocation.rule for m in market] == ["lottery", "least_earned"]


def test_platform_sizes_follow_registered() -> None:
    """Memberships drawn with fitted race weights give each platform members in proportion to
    its ``registered`` (scaled to the registrations the counts imply), within the Monte Carlo
    error of the fit (4,096 sampled workers: about 1 % of a share, so 4 % at 4 SE); drawing in
    proportion to the sizes themselves would leave the largest platform about 13 % short."""
    data = two_platforms(20_000, "5min", 0)
    data["platforms"] = {"big": {"registered": 10_000}, "mid": {"registered": 6_000},
                         "small": {"registered": 4_000}}
    data["profiles"]["w"]["platforms"] = {"count": {"dist": "choice", "values": [1, 2, 3],
                                                    "weights": [0.6, 0.3, 0.1]}}
    scn = sim.load_scenario(data)
    pop = build_population(scn, Streams(3))
    counts = np.diff(pop.platform_offsets)
    members = np.bincount(pop.platform_of, minlength=3)
    target = np.array([10_000, 6_000, 4_000]) / 20_000 * counts.sum()
    np.testing.assert_allclose(members, target, rtol=0.04)
    clocks = np.random.default_rng(0).exponential(size=(len(counts), 3))
    naive = _inclusion(counts, clocks, np.array([10_000, 6_000, 4_000.0])) * len(counts)
    assert naive[0] < 0.9 * target[0] and naive[2] > 1.1 * target[2]
    # every worker's platforms are distinct, in a random order
    first = pop.platform_of[pop.platform_offsets[:-1]]
    assert len(np.unique(first)) == 3
    for w in range(200):
        mine = pop.platform_of[pop.platform_offsets[w]:pop.platform_offsets[w + 1]]
        assert len(set(mine.tolist())) == len(mine) == counts[w]


def test_a_platform_without_demand_leaves_the_others_numbered_right() -> None:
    """A platform whose requesters post nothing (found by the property test: its empty demand
    once shifted every later platform's task numbers)."""
    data = two_platforms(30, "5min", 2, batches=300)
    data["platforms"]["a"]["requesters"] = {"batches_per_day": 0}
    res = sim.run(data, 2)
    assert check(res) == [] and len(res.tasks) > 0
    assert set(res.tasks["platform"]) == {"b"}
    assert res.registrations.query("platform == 'a'")["earnings"].sum() == 0


def test_a_market_result_saves_loads_and_reports(tmp_path: Path) -> None:
    """The registrations table and the platforms figure belong to a run folder: saved, loaded
    back, the folder replaced by a new run, and shown by the CLI summary."""
    res = sim.run(two_platforms(30, "5min", 2, batches=300), 1)
    folder = res.save(tmp_path / "run")
    back = sim.load_result(folder)
    pd.testing.assert_frame_equal(back.registrations, res.registrations)
    pd.testing.assert_frame_equal(back.platforms, res.platforms)
    assert sim.run(two_platforms(30, "5min", 2, batches=300), 2).save(folder) == folder
    out = tmp_path / "cli"
    for _ in range(2):  # the second run replaces the first folder
        assert main(["run", str(_yaml(tmp_path, two_platforms(30, "5min", 2))), "--out",
                     str(out), "--quiet"]) == 0
    assert {"registrations.parquet", "platforms.png"} <= {p.name for p in out.iterdir()}
    assert "By platform" in format_summary(sim.load_result(out))
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "By platform" in page and "<strong>platforms.png</strong>" in page


def _yaml(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "market.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
