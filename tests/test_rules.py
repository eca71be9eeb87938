"""Allocation rules: one contract suite run over every registered rule, plus unit tests of each
rule's ``choose`` on hand-made candidates.

The contract (issue 3): only eligible workers win; a task goes to at most one worker; nobody
online and eligible is skipped forever under a window rule; results are deterministic for a
fixed seed; the rule never changes the population or the arrivals (common random numbers).
Every rule in :data:`sim.core.rules.RULES` is picked up automatically, so a new rule is tested as
soon as it is registered.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL_SCENARIO
from scipy import stats

import sim
from sim.core.population import build_population
from sim.core.rules import RULES, build_rule
from sim.foundation.streams import Streams
from sim.results import invariants
from sim.scenario.allocation import RULE_PARAMS, AllocationConfig

WINDOW = 60.0  # seconds: the window given to every window rule in the contract suite
EPS = 1e-6

ALL_RULES = sorted(RULES)


def allocation(rule: str, window: float = WINDOW) -> dict[str, Any]:
    """``platform.allocation`` for ``rule``: window rules get ``window``, others no params."""
    config: dict[str, Any] = {"rule": rule}
    if "window" in RULE_PARAMS[rule].params.model_fields:
        config["window"] = window
    return config


def is_window_rule(rule: str) -> bool:
    return AllocationConfig(**allocation(rule)).window > 0


def hetero_scenario() -> dict[str, Any]:
    """SMALL_SCENARIO made more heterogeneous so that every eligibility condition binds:
    students accept only surveys and searches, always-on workers live in the north only, the
    shelf photos are regional, and employees have reservation pay spread over 0-8 EUR/h
    (searches pay 4 EUR/h, shelf photos about 6.5 EUR/h of effort including mean travel)."""
    data = copy.deepcopy(SMALL_SCENARIO)
    data["horizon"] = "4d"
    data["profiles"]["employee"]["reservation_pay"] = {"dist": "uniform", "low": 0, "high": 8}
    data["profiles"]["student"]["reservation_pay"] = {"dist": "uniform", "low": 0, "high": 6}
    data["profiles"]["always_on"]["reservation_pay"] = 3.0
    return data


def hetero(rule: str) -> sim.Scenario:
    return sim.override(sim.load_scenario(hetero_scenario()),
                        {"platform.allocation": allocation(rule)})


_CACHE: dict[tuple[str, int], sim.RunResult] = {}


def run_rule(rule: str, seed: int = 3) -> sim.RunResult:
    """Run of the heterogeneous scenario under ``rule`` (cached: several tests share it)."""
    key = (rule, seed)
    if key not in _CACHE:
        _CACHE[key] = sim.run(hetero(rule), seed=seed)
    return _CACHE[key]


# --------------------------------------------------------------------- (a) eligibility
def assert_only_eligible_winners(scn: sim.Scenario, res: sim.RunResult) -> None:
    """Every winner accepts the task type, lives in the task's region (regional tasks), has a
    reservation pay at most the reward per hour of expected effort (effort + mean travel, the
    figure the platform compares), and was online when it claimed: the claim, the start and
    the completion of its task all lie within one of its sessions (sessions rebuilt from the
    run's seed: the population stream is independent of the rule)."""
    tasks, workers = res.tasks, res.workers
    claimed = tasks[tasks["worker_id"].notna()].copy()
    assert len(claimed) > 100, "the scenario must actually allocate work"
    win = workers.set_index("worker_id").loc[claimed["worker_id"].astype(int).to_numpy()]
    win.index = claimed.index

    # task types accepted by the winner's profile
    accepted = {name: p.task_types for name, p in scn.profiles.items()}
    ok_type = [accepted[str(p)] is None or str(t) in accepted[str(p)]
               for p, t in zip(win["profile"], claimed["task_type"], strict=True)]
    assert all(ok_type), claimed.loc[~np.asarray(ok_type), ["task_id", "task_type"]]

    # regional tasks go to workers of the task's region
    regional = claimed["region"].notna()
    assert regional.any()
    assert (win.loc[regional, "region"] == claimed.loc[regional, "region"]).all()

    # reservation pay <= reward per hour of expected effort
    travel = {name: (tt.travel.mean() if tt.travel is not None else 0.0)
              for name, tt in scn.task_types.items()}
    expected = claimed["effort"] + claimed["task_type"].astype(str).map(travel)
    rate = claimed["reward"] / (expected / 3600)
    assert (win["reservation_pay"] <= rate + EPS).all()

    # online: claim, start and completion within one of the winner's sessions
    pop = build_population(scn, Streams(res.seed))
    online = np.bincount(pop.session_worker, weights=pop.session_end - pop.session_start,
                         minlength=pop.size)
    np.testing.assert_allclose(online, workers["online_time"].to_numpy())  # same sessions
    w = claimed["worker_id"].astype(int).to_numpy()
    at = claimed["claimed_at"].to_numpy()
    first = np.searchsorted(pop.session_worker, w, side="left")
    last = np.searchsorted(pop.session_worker, w, side="right")
    for i in range(len(claimed)):
        starts = pop.session_start[first[i]:last[i]]
        ends = pop.session_end[first[i]:last[i]]
        k = np.searchsorted(starts, at[i], side="right") - 1
        assert k >= 0, f"task {claimed['task_id'].iat[i]} claimed before any session of {w[i]}"
        for col in ("claimed_at", "started_at", "completed_at"):
            t = claimed[col].iat[i]
            if not np.isnan(t):
                assert starts[k] - EPS <= t <= ends[k] + EPS, (
                    f"task {claimed['task_id'].iat[i]}: {col}={t} outside the session "
                    f"[{starts[k]}, {ends[k]}] of worker {w[i]}")

    # the constraints actually bind (the checks above are not vacuous)
    assert (workers["profile"] == "student").any() and "shelf_photo" not in accepted["student"]
    assert (workers["reservation_pay"] > rate.min()).any()
    assert (workers["region"] != "north").any()


@pytest.mark.parametrize("rule", ALL_RULES)
def test_only_eligible_workers_win(rule: str) -> None:
    """See :func:`assert_only_eligible_winners`."""
    assert_only_eligible_winners(hetero(rule), run_rule(rule))


LEVERS: dict[str, dict[str, Any]] = {
    "caps": {"platform.daily_cap": 5, "platform.max_claimed": 2},
    "polling_engine": {"engine": "polling", "platform.max_claimed": 3, "horizon": "2d"},
}


@pytest.mark.parametrize("levers", list(LEVERS))
@pytest.mark.parametrize("rule", ALL_RULES)
def test_rules_combine_with_platform_levers(rule: str, levers: str) -> None:
    """Every rule combined with caps or the polling engine: winners are still eligible, the
    run satisfies every invariant and nobody claims more than the daily cap in a day."""
    scn = sim.override(hetero(rule), LEVERS[levers])
    res = sim.run(scn, seed=4)
    invariants.assert_ok(res)
    assert_only_eligible_winners(scn, res)
    claims = res.tasks.dropna(subset=["worker_id"])
    per_day = claims.groupby([claims["worker_id"].astype(int),
                              (claims["claimed_at"] // 86400).astype(int)]).size()
    assert per_day.max() <= (scn.platform.daily_cap or np.inf)


# --------------------------------------------------------------------- (b) one worker per task
@pytest.mark.parametrize("rule", ALL_RULES)
def test_a_task_goes_to_at_most_one_worker(rule: str) -> None:
    """Each task appears once; a task is claimed iff it has exactly one worker; unclaimed tasks
    are open or expired; under a window rule nothing is claimed before the window closes (the
    round's winners at its close, leftovers later, first come first served)."""
    res = run_rule(rule)
    tasks = res.tasks
    assert tasks["task_id"].is_unique
    claimed = tasks["claimed_at"].notna()
    has_worker = tasks["worker_id"].notna()
    assert (claimed == has_worker).all()
    status = tasks["status"].astype(str)
    assert status[~claimed].isin(["open", "expired"]).all()
    assert status[claimed].isin(["approved", "rejected", "abandoned"]).all()
    latency = (tasks["claimed_at"] - tasks["released_at"])[claimed]
    window = AllocationConfig(**allocation(rule)).window
    assert (latency >= window - EPS).all()
    # per worker: counts in the workers table agree with the tasks table
    counts = tasks.loc[claimed, "worker_id"].astype(int).value_counts()
    per_worker = res.workers.set_index("worker_id")["tasks_claimed"]
    assert (per_worker.loc[counts.index] == counts).all()
    assert per_worker.sum() == claimed.sum()


# --------------------------------------------------------------------- (c) nobody skipped forever
CROWD_SIZE = 8
CROWD: dict[str, Any] = {
    "name": "crowd",
    "horizon": "3d",
    "workers": CROWD_SIZE,
    "profiles": {
        "same": {"share": 1.0, "always_online": True,
                 "discovery": {"mode": "script", "interval": "2s"}},
    },
    "task_types": {"micro": {"reward": 0.1, "effort": "20s"}},  # batch size 1
    "requesters": {"count": 1, "batches_per_day": 144, "task_mix": {"micro": 1.0}},
}


@pytest.mark.parametrize("rule", ALL_RULES)
def test_window_rules_skip_nobody_forever(rule: str) -> None:
    """Eight identical always-online workers whose scripts look every 2 s compete for single
    tasks released about every 10 min (3 days: ~430 tasks); a task takes 20 s, so every worker
    enters every 60 s round. Then every worker wins at least once:

    - lottery: each round's winner is uniform over <= 8 candidates, so a given worker misses
      a round with probability <= 7/8 and misses all N >= 300 rounds with probability
      <= (7/8)^300 < 1e-17; over 8 workers (union bound) < 1e-16.
    - reputation: with no rejection a worker's weight (approved+1)/(decided+2) lies in
      [1/2, 1], so it wins a round with probability >= (1/2) / (1/2 + 7) = 1/15, and
      8 * (14/15)^300 < 1e-8.
    - round_robin and least_earned are deterministic here: a worker who never won has the
      oldest last claim (-inf) and zero earnings, so it wins one of the next 8 rounds.
    fcfs has no window (the first to look wins) and is outside this contract.
    """
    if not is_window_rule(rule):
        pytest.skip(f"{rule} has no window round")
    scn = sim.override(sim.load_scenario(CROWD), {"platform.allocation": allocation(rule)})
    res = sim.run(scn, seed=7)
    claimed = res.tasks["worker_id"].dropna().astype(int)
    assert len(claimed) >= 300
    wins = claimed.value_counts().reindex(range(CROWD_SIZE), fill_value=0)
    assert (wins > 0).all(), f"skipped forever under {rule}: {wins.to_dict()}"
    # rules that spread work give everybody a fair share (nobody starved to a trickle)
    assert wins.min() >= 0.25 * len(claimed) / CROWD_SIZE, wins.to_dict()


# --------------------------------------------------------------------- (d) determinism
@pytest.mark.parametrize("rule", ALL_RULES)
def test_deterministic_for_a_fixed_seed(rule: str) -> None:
    """Two runs with the same seed give identical tables and summaries, bit for bit."""
    a, b = run_rule(rule, seed=5), sim.run(hetero(rule), seed=5)
    pd.testing.assert_frame_equal(a.tasks, b.tasks, check_exact=True)
    pd.testing.assert_frame_equal(a.workers, b.workers, check_exact=True)
    assert a.summary.keys() == b.summary.keys()
    np.testing.assert_array_equal(np.array(list(a.summary.values())),
                                  np.array(list(b.summary.values())))


# --------------------------------------------------------------------- (e) common random numbers
WORKER_COLUMNS = ["worker_id", "profile", "region", "discovery", "speed",
                  "rejection_probability", "reservation_pay", "sessions", "online_time"]
TASK_COLUMNS = ["task_id", "batch_id", "requester_id", "task_type", "region", "reward",
                "effort", "released_at", "expires_at"]


@pytest.mark.parametrize("rule", ALL_RULES)
def test_rule_does_not_change_population_or_arrivals(rule: str) -> None:
    """Same seed, other rule: the same workers (profile, speed, sessions, online time...) and
    the same tasks (release, reward, effort...) as under fcfs: only who wins what changes."""
    base, other = run_rule("fcfs", seed=3), run_rule(rule, seed=3)
    pd.testing.assert_frame_equal(base.workers[WORKER_COLUMNS], other.workers[WORKER_COLUMNS],
                                  check_exact=True)
    pd.testing.assert_frame_equal(base.tasks[TASK_COLUMNS], other.tasks[TASK_COLUMNS],
                                  check_exact=True)


def test_window_rules_change_who_wins() -> None:
    """Sanity check of the suite: the window rules do change the allocation (otherwise (e)
    would compare a run with itself)."""
    base = run_rule("fcfs").tasks["worker_id"]
    for rule in ALL_RULES:
        if is_window_rule(rule):
            assert not base.equals(run_rule(rule).tasks["worker_id"]), rule


# --------------------------------------------------------------------- choose() unit tests
class FakeState:
    """What rules may look at on the platform, from hand-made per-worker dicts."""

    def __init__(self, earned: dict[int, float] | None = None,
                 approved: dict[int, int] | None = None, rejected: dict[int, int] | None = None,
                 last: dict[int, float] | None = None) -> None:
        self.earned, self.last = earned or {}, last or {}
        self.approved, self.rejected = approved or {}, rejected or {}

    def earned_this_period(self, workers: np.ndarray) -> np.ndarray:
        return np.array([self.earned.get(w, 0.0) for w in workers.tolist()])

    def approval_rate(self, workers: np.ndarray) -> np.ndarray:
        ok = np.array([self.approved.get(w, 0) for w in workers.tolist()], dtype=float)
        bad = np.array([self.rejected.get(w, 0) for w in workers.tolist()], dtype=float)
        return (ok + 1) / (ok + bad + 2)

    def last_claims(self, workers: np.ndarray) -> np.ndarray:
        return np.array([self.last.get(w, -np.inf) for w in workers.tolist()])


class UndeclaredRead(AssertionError):
    """A rule read what it does not declare (``reads_last_claims``, ``reads_approvals``)."""


class DeclaredState(FakeState):
    """STATE's values, but only those the rule declares it reads: a board keeps the rest only
    for rules that declare them, so an undeclared read would see nothing in a run."""

    def __init__(self, base: FakeState, rule: Any) -> None:
        self.__dict__.update(base.__dict__)
        self.rule = rule

    def approval_rate(self, workers: np.ndarray) -> np.ndarray:
        if not self.rule.reads_approvals:
            raise UndeclaredRead(f"{self.rule.name} reads approval rates")
        return super().approval_rate(workers)

    def last_claims(self, workers: np.ndarray) -> np.ndarray:
        if not self.rule.reads_last_claims:
            raise UndeclaredRead(f"{self.rule.name} reads last claims")
        return super().last_claims(workers)


def build(rule: str, **params: Any) -> Any:
    return build_rule(AllocationConfig(**{**allocation(rule), **params}))


CANDIDATES = np.array([12, 3, 40, 7, 25, 9], dtype=np.int64)
STATE = FakeState(earned={12: 5.0, 3: 0.5, 40: 2.0, 7: 9.0, 25: 0.0, 9: 3.0},
                  approved={12: 50, 3: 1, 40: 10, 7: 0, 25: 20, 9: 5},
                  rejected={12: 0, 3: 1, 40: 10, 7: 0, 25: 1, 9: 5},
                  last={12: 100.0, 3: 50.0, 40: 400.0, 25: 10.0, 9: 300.0})


@pytest.mark.parametrize("n", [0, 1, 3, 6, 10])
@pytest.mark.parametrize("rule", ALL_RULES)
def test_choose_returns_distinct_candidates(rule: str, n: int) -> None:
    """Every rule returns min(n, #candidates) distinct workers, all among the candidates."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        got = np.asarray(build(rule).choose(CANDIDATES.copy(), n, STATE, rng))
        assert len(got) == min(n, len(CANDIDATES))
        assert len(set(got.tolist())) == len(got)
        assert set(got.tolist()) <= set(CANDIDATES.tolist())


def test_fcfs_takes_the_first_to_arrive() -> None:
    rng = np.random.default_rng(0)
    assert build("fcfs").choose(CANDIDATES, 2, STATE, rng).tolist() == [12, 3]


def test_least_earned_picks_the_lowest_earners() -> None:
    rng = np.random.default_rng(0)
    rule = build("least_earned")
    assert rule.choose(CANDIDATES, 1, STATE, rng).tolist() == [25]
    assert rule.choose(CANDIDATES, 3, STATE, rng).tolist() == [25, 3, 40]
    # ties are broken at random, not by arrival order
    tied = FakeState(earned={1: 0.0, 2: 0.0, 3: 5.0})
    first = Counter(rule.choose(np.array([1, 2, 3]), 1, tied, rng).item() for _ in range(400))
    assert set(first) == {1, 2} and min(first.values()) > 120


@pytest.mark.parametrize("period, seconds", [("day", 86400.0), ("week", 7 * 86400.0),
                                             ("run", np.inf)])
def test_least_earned_period(period: str, seconds: float) -> None:
    assert build("least_earned", period=period).earnings_period == seconds


def test_round_robin_picks_the_longest_waiting() -> None:
    rng = np.random.default_rng(0)
    rule = build("round_robin")
    # 7 never claimed (-inf), then 25 (t=10), 3 (t=50), 12 (t=100)
    assert rule.choose(CANDIDATES, 1, STATE, rng).tolist() == [7]
    assert rule.choose(CANDIDATES, 4, STATE, rng).tolist() == [7, 25, 3, 12]
    tied = FakeState(last={1: 5.0, 2: 5.0, 3: 1.0})
    second = Counter(rule.choose(np.array([1, 2, 3]), 2, tied, rng)[1].item() for _ in range(400))
    assert set(second) == {1, 2} and min(second.values()) > 120


def test_reputation_favours_high_approval_rates() -> None:
    """Two candidates with smoothed approval rates 0.9 and 0.1: Efraimidis-Spirakis sampling
    with n=1 picks each with probability proportional to its weight, i.e. 0.9 and 0.1."""
    rng = np.random.default_rng(1)
    rule = build("reputation")
    state = FakeState(approved={1: 8, 2: 0}, rejected={1: 0, 2: 8})  # (8+1)/10 and 1/10
    draws = 4000
    high = sum(rule.choose(np.array([2, 1]), 1, state, rng).item() == 1 for _ in range(draws))
    assert stats.binomtest(high, draws, 0.9).pvalue > 1e-3, high / draws
    # a newcomer (rate 1/2) against a worker with rate 0.1 still wins most of the time
    state = FakeState(approved={2: 0}, rejected={2: 8})
    new = sum(rule.choose(np.array([2, 5]), 1, state, rng).item() == 5 for _ in range(draws))
    assert stats.binomtest(new, draws, 0.5 / 0.6).pvalue > 1e-3, new / draws


@pytest.mark.parametrize("n", [1, 2, 5])
def test_reputation_never_returns_more_than_n(n: int) -> None:
    rng = np.random.default_rng(2)
    rule = build("reputation")
    for _ in range(200):
        got = rule.choose(CANDIDATES, n, STATE, rng)
        assert len(got) == n and len(set(got.tolist())) == n


@pytest.mark.parametrize("n", [1, 2])
def test_lottery_is_uniform(n: int) -> None:
    """Over many rounds each of 6 candidates wins n/6 of them: chi-square goodness of fit
    (and no arrival-order bias: the first and last candidate win as often as the others)."""
    rng = np.random.default_rng(3)
    rule = build("lottery")
    draws = 6000
    wins = Counter()
    for _ in range(draws):
        wins.update(rule.choose(CANDIDATES, n, STATE, rng).tolist())
    observed = np.array([wins[w] for w in CANDIDATES.tolist()])
    expected = np.full(len(CANDIDATES), draws * n / len(CANDIDATES))
    assert stats.chisquare(observed, expected).pvalue > 1e-3, observed


# --------------------------------------------------------------------- parameters
@pytest.mark.parametrize("rule", ALL_RULES)
def test_unknown_rule_parameter_is_named(rule: str) -> None:
    """A misspelt rule parameter is an error naming it, never silently ignored."""
    data = hetero_scenario()
    data["platform"]["allocation"] = {**allocation(rule), "windw": 30}
    with pytest.raises(sim.ScenarioError, match=r"platform\.allocation.*windw"):
        sim.load_scenario(data)
    with pytest.raises(sim.ScenarioError, match=r"platform\.allocation.*windw"):
        sim.override(sim.load_scenario(SMALL_SCENARIO),
                     {"platform.allocation": {**allocation(rule), "windw": 30}})


def test_window_given_to_fcfs_is_an_error() -> None:
    with pytest.raises(sim.ScenarioError, match="window"):
        sim.override(sim.load_scenario(SMALL_SCENARIO),
                     {"platform.allocation": {"rule": "fcfs", "window": 60}})


@pytest.mark.parametrize("rule", [r for r in ALL_RULES
                                  if "window" in RULE_PARAMS[r].params.model_fields])
@pytest.mark.parametrize("value", [-5, 0, "soon"])
def test_bad_window_is_named(rule: str, value: Any) -> None:
    with pytest.raises(sim.ScenarioError, match="window"):
        sim.override(sim.load_scenario(SMALL_SCENARIO),
                     {"platform.allocation": {"rule": rule, "window": value}})


def test_window_accepts_durations() -> None:
    scn = sim.override(sim.load_scenario(SMALL_SCENARIO),
                       {"platform.allocation": {"rule": "lottery", "window": "5min"}})
    assert scn.platform.allocation.window == 300.0


def test_bad_least_earned_period_is_named() -> None:
    with pytest.raises(sim.ScenarioError, match="period"):
        sim.override(sim.load_scenario(SMALL_SCENARIO),
                     {"platform.allocation": {"rule": "least_earned", "period": "month"}})


def test_unknown_rule_is_named() -> None:
    with pytest.raises(sim.ScenarioError, match="lotery") as err:
        sim.override(sim.load_scenario(SMALL_SCENARIO), {"platform.allocation.rule": "lotery"})
    for rule in ALL_RULES:  # the message lists what is allowed
        assert rule in str(err.value)


def test_every_rule_is_documented() -> None:
    """Scenario and core register the same rules; each has a one-paragraph description."""
    assert sorted(RULES) == sorted(RULE_PARAMS)
    for name, cls in RULES.items():
        assert cls.name == name
        assert len(RULE_PARAMS[name].description) > 80, f"rule {name} needs a description"


@pytest.mark.parametrize("rule", ALL_RULES)
def test_every_rule_declares_the_history_it_reads(rule: str) -> None:
    """A board records last claims and approvals only for a rule that declares it reads them
    (a write a task saved otherwise; a run of a rule reading what its board does not keep
    fails, which the runs of every rule above check): every rule's choose runs on a state
    that refuses the reads it does not declare."""
    built = build(rule)
    winners = built.choose(CANDIDATES, 3, DeclaredState(STATE, built), np.random.default_rng(0))
    assert len(winners) == 3
