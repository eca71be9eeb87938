"""Property: a scenario that validates runs to completion with its invariants holding, or is
refused with a clear :class:`sim.ScenarioError` before anything runs.

Slow tier (``pytestmark = pytest.mark.slow``): ``python3 dev.py test`` runs it, a fast tier
deselects it with ``-m "not slow"``.

Size and time, measured on 2 cores: 1,411 cases (600 generated scenarios, 800 mutations of
the shipped scenarios, 10 shortened shipped scenarios as controls, 1 check of the bounds) in
about 2 minutes (116 s with the hardening of issue 9 in place; every case passes).

Cases
-----
* **Generated scenarios** (:func:`generated_cases`): every field type of the schema (durations
  as numbers and as strings with every unit, every distribution kind with edge parameters:
  zero, subnormal and boundary values, ``low == high``, ``sigma: 0``, ``min == max``, heavy
  pareto tails, zero weights; shares mappings, including sums off by less than the validation
  tolerance; optional fields present and absent), every allocation rule with its parameters,
  every platform lever (``daily_cap``, ``max_claimed``, ``monthly_cap``, ``minimum_pay_rate``
  with ``demand_elasticity``, ``commission``, ``payout_threshold``, ``expiry``), regions,
  regional task types with travel, every discovery mode and mixes of modes, ``always_online``
  profiles, an optional calibration section (its measures run in every ``sim.run``), and both
  engines. Sizes are bounded so a correct simulator runs a case in well under a second: at most
  40 workers, 100 batches a day of at most 20 tasks and a 2-day horizon with ``engine: race``;
  at most 4 workers, a 6-hour horizon and refresh intervals of 5 s or more with
  ``engine: polling``.
* **Mutations of the shipped scenarios** (:func:`mutated_cases`): ``scenarios/*.yaml`` and the
  baseline with each variant of ``scenarios/policies.yaml``, shortened to one day with ``scale``
  reduced to about 40 workers (:func:`shipped`), then one to three mutations: a numeric leaf
  (a number or a duration string) replaced by a non-finite number (nan, inf, -inf, also as the
  strings ``"nan"``, ``"inf"``, ``"1e400"`` that YAML leaves as text), a huge value (1e9,
  1e300, 1e400 which Python and YAML's ``1.0e+400`` read as inf, integers beyond 64 bits), a
  tiny, zero or negative value; any leaf replaced by a wrong type (string, list, dict, bool,
  None); a key deleted; a mapping or a list emptied.

What passes
-----------
Each case runs in a forked child process (:func:`run_case`) and passes when either

* ``sim.load_scenario(data)`` raises :class:`sim.ScenarioError`, or ``sim.run`` raises it
  before the run starts (a resource guard refusing a scenario too large to run); or
* ``sim.run(scenario, seed=seed)`` completes, ``invariants.check(result) == []`` and the
  result tables hold no NaN or infinity where a value is defined (:func:`nonfinite`):

  - money, finite everywhere: ``tasks.reward``, ``tasks.fee``, ``tasks.paid``,
    ``workers.earnings``, ``workers.withheld``;
  - time, finite everywhere: ``workers.online_time``, ``work_time``, ``unpaid_work_time``,
    ``unpaid_time`` and ``tasks.released_at``;
  - time, finite where defined and NaN exactly where not: ``claimed_at`` is NaN exactly for
    tasks never claimed (status ``open`` or ``expired``); ``completed_at`` is NaN exactly for
    tasks never completed (``open``, ``expired``, ``abandoned``); ``started_at`` is finite for
    ``approved`` and ``rejected`` tasks, NaN for ``open`` and ``expired`` ones and either for
    ``abandoned`` ones (abandoned while queued or while worked on); none of them is ever
    infinite;
  - ``expires_at`` is +inf exactly for tasks whose task type has no ``expiry`` and finite for
    every other task.

Anything else fails and names the case: any other exception (TypeError, a ValueError that is
not a ScenarioError, ZeroDivisionError, MemoryError, RecursionError, ...), a violated
invariant, a NaN or an infinity, a child killed by a signal, or a bound exceeded.

Bounds
------
Every run is sized first by the project's size guard with a limit of
:data:`RUN_MEMORY_GIB` (0.5 GiB), so a case too large for the bounds is refused before it is
built (a mutation deleting ``scale`` makes a full-size market: the whole French market over
the short horizon is estimated at 0.73 GiB and takes minutes; the shortened shipped scenarios
are estimated at about 0.18 GiB). A case may use
:data:`MEMORY_BUDGET` (2 GiB) of address space beyond what the test process
has mapped when it forks (``RLIMIT_AS``; about 3.6 GiB in all) and :data:`TIMEOUT` (60 s) of
wall-clock time; the child is killed after that.

Hypothesis runs with a fixed derandomised seed (``derandomize=True``, no example database), so
CI always draws the same cases; it shrinks a failure to a small scenario or a short list of
mutations, printed with the outcome and a line that reproduces it.
"""

from __future__ import annotations

import copy
import functools
import math
import multiprocessing
import pprint
import re
import resource
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import sim
from sim.analysis.measures import MEASURES
from sim.foundation.units import UNITS
from sim.results import invariants
from sim.scenario.allocation import RULE_PARAMS as RULES
from sim.scenario.loading import read_scenario_file

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
TIMEOUT = 60.0
"""Wall-clock seconds a case may take (load, run and checks) before its child is killed."""
MEMORY_BUDGET = 2 << 30
RUN_MEMORY_GIB = 0.5
"""The size guard's limit for a case (``sim.run(..., max_memory=...)``): a case estimated
above it is refused before it is built (a pass), well inside :data:`MEMORY_BUDGET`."""
"""Bytes of address space a case may map beyond what the test process had when it forked."""
GENERATED_EXAMPLES = 600
MUTATED_EXAMPLES = 800
SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "print_blob": False,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                              HealthCheck.large_base_example],
}

# --------------------------------------------------------------------------- one case


@dataclass(frozen=True)
class Outcome:
    """What became of a case: ``kind`` is one of ``refused`` (load_scenario raised
    ScenarioError), ``refused_at_run`` (run raised ScenarioError), ``ok``, ``violations``
    (invariants or non-finite values), ``exception``, ``timeout`` or ``crashed``."""

    kind: str
    message: str = ""
    problems: tuple[str, ...] = ()
    error: str = ""  # exception type (qualified name)
    phase: str = ""  # load, run or check: where the exception was raised
    where: str = ""  # innermost frame of the package (file:line function) that raised
    trace: str = ""  # the innermost frames of the traceback
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.kind in ("refused", "refused_at_run", "ok")

    def describe(self) -> str:
        if self.kind in ("refused", "refused_at_run"):
            return f"{self.kind}: {self.message}"
        if self.kind == "violations":
            return "violations:\n  - " + "\n  - ".join(self.problems)
        if self.kind == "exception":
            return f"{self.error} in {self.phase} at {self.where}: {self.message}"
        return f"{self.kind}: {self.message}"


MONEY = {"tasks": ("reward", "fee", "paid"), "workers": ("earnings", "withheld")}
WORKER_TIMES = ("online_time", "work_time", "unpaid_work_time", "unpaid_time")


def _floats(frame: Any, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=float, na_value=np.nan)


def nonfinite(result: sim.RunResult) -> list[str]:
    """NaN or infinities in the money and time columns where a value is defined (see the
    module docstring), one message per offending column."""
    out: list[str] = []
    tables = {"tasks": result.tasks, "workers": result.workers}

    def report(table: str, column: str, bad: np.ndarray, values: np.ndarray, why: str) -> None:
        if bad.any():
            shown = ", ".join(f"row {i}: {values[i]!r}" for i in np.flatnonzero(bad)[:3])
            out.append(f"non-finite: {table}.{column} {why}: {int(bad.sum())} rows, e.g. {shown}")

    for table, columns in MONEY.items():
        for column in columns:
            values = _floats(tables[table], column)
            report(table, column, ~np.isfinite(values), values, "must be finite")
    for column in WORKER_TIMES:
        values = _floats(result.workers, column)
        report("workers", column, ~np.isfinite(values), values, "must be finite")
    tasks = result.tasks
    values = _floats(tasks, "released_at")
    report("tasks", "released_at", ~np.isfinite(values), values, "must be finite")

    status = tasks["status"].astype(str).to_numpy()
    never_claimed = np.isin(status, ("open", "expired"))
    decided = np.isin(status, ("approved", "rejected"))
    for column, undefined, maybe in (
        ("claimed_at", never_claimed, np.zeros(len(tasks), dtype=bool)),
        ("started_at", never_claimed, status == "abandoned"),
        ("completed_at", ~decided, np.zeros(len(tasks), dtype=bool)),
    ):
        values = _floats(tasks, column)
        nan = np.isnan(values)
        report("tasks", column, np.isinf(values), values, "must not be infinite")
        report("tasks", column, ~maybe & (nan != undefined), values,
               "must be NaN exactly when the task never reached that stage")
    no_expiry = [name for name, tt in result.scenario.task_types.items() if tt.expiry is None]
    never = tasks["task_type"].astype(str).isin(no_expiry).to_numpy()
    values = _floats(tasks, "expires_at")
    report("tasks", "expires_at", np.where(never, values != np.inf, ~np.isfinite(values)), values,
           "must be +inf exactly for task types without expiry, finite otherwise")
    return out


def _origin(exc: BaseException) -> BaseException:
    """The exception first raised: SimPy re-raises a failed callback's exception as a copy
    whose ``__cause__`` is the original."""
    while exc.__cause__ is not None and type(exc.__cause__) is type(exc):
        exc = exc.__cause__
    return exc


def _where(exc: BaseException) -> tuple[str, str]:
    """Innermost frame in the package (else the innermost frame) where an exception was first
    raised, and the innermost four frames."""
    frames = traceback.extract_tb(_origin(exc).__traceback__)
    ours = [f for f in frames if "/sim/" in f.filename.replace("\\", "/")]
    trace = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                       for f in reversed(frames[-4:]))
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return "?", trace
    name = frame.filename.replace("\\", "/")
    name = "sim/" + name.rsplit("/sim/", 1)[1] if "/sim/" in name else name.rsplit("/", 1)[-1]
    return f"{name}:{frame.lineno} {frame.name}", trace


def _evaluate(data: Any, seed: int) -> Outcome:
    """Load, run and check one case in this process."""
    phase = "load"
    try:
        try:
            scenario = sim.load_scenario(data)
        except sim.ScenarioError as exc:
            return Outcome("refused", str(exc))
        phase = "run"
        try:
            result = sim.run(scenario, seed=seed, max_memory=RUN_MEMORY_GIB)
        except sim.ScenarioError as exc:
            return Outcome("refused_at_run", str(exc))
        phase = "check"
        problems = invariants.check(result) + nonfinite(result)
        return Outcome("violations", problems=tuple(problems)) if problems else Outcome("ok")
    except BaseException as exc:  # every other exception is the finding
        where, trace = _where(exc)
        return Outcome("exception", str(exc)[:600], error=type(exc).__qualname__, phase=phase,
                       where=where, trace=trace)


def _child(conn: Any, data: Any, seed: int, limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")
    try:
        conn.send(_evaluate(data, seed))
    except BaseException as exc:  # sending failed (e.g. out of memory): report what we can
        conn.send(Outcome("crashed", f"could not send the outcome: {type(exc).__name__}"))
    finally:
        conn.close()


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 1 << 30


def run_case(data: Any, seed: int, timeout: float = TIMEOUT,
             memory: int = MEMORY_BUDGET) -> Outcome:
    """Evaluate one case in a forked child bounded in address space and wall-clock time."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, data, seed, _address_space() + memory),
                            daemon=True)
    started = time.monotonic()
    child.start()
    send.close()
    try:
        if receive.poll(timeout):
            try:
                outcome = receive.recv()
            except EOFError:
                child.join(5)
                outcome = Outcome("crashed", f"the child died (exit code {child.exitcode})")
        else:
            outcome = Outcome("timeout", f"no outcome within {timeout:g} s")
    finally:
        receive.close()
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join()
    elapsed = time.monotonic() - started
    return Outcome(**{**outcome.__dict__, "seconds": elapsed})


# --------------------------------------------------------------------------- durations


FORMS = ("float", "int", "unit", "unit", "spaced")


@st.composite
def duration_form(draw: Any) -> tuple[str, str]:
    """How durations are written: a number, an integer, or text with a unit (``"2h"``,
    ``" 1.5 min "``). The parameters of one distribution share a form, so their order holds."""
    return draw(st.sampled_from(FORMS)), draw(st.sampled_from(sorted(UNITS)))


def write_duration(seconds: float, form: tuple[str, str]) -> float | int | str:
    """``seconds`` written in ``form``."""
    kind, unit = form
    if kind == "float" or not math.isfinite(seconds):
        return seconds
    if kind == "int":
        return round(seconds) if seconds >= 0.5 or seconds == 0 else seconds
    text = f"{seconds / UNITS[unit]:.10g}"
    return f"{text}{unit}" if kind == "unit" else f" {text} {unit} "


@st.composite
def number(draw: Any, low: float, high: float, *, edges: tuple[float, ...] = ()) -> float:
    """A float in [low, high]; one draw in four is a bound or one of ``edges``."""
    if draw(st.integers(0, 3)) == 3:
        return draw(st.sampled_from([low, high, *edges]))
    return draw(st.floats(low, high, allow_nan=False))


@st.composite
def duration(draw: Any, low: float, high: float, *, edges: tuple[float, ...] = ()
             ) -> float | int | str:
    """A duration in [low, high] seconds (or one of ``edges``), in any written form."""
    return write_duration(draw(number(low, high, edges=edges)), draw(duration_form()))


# --------------------------------------------------------------------------- distributions

TINY = 1e-9


@st.composite
def distribution(draw: Any, low: float, high: float, *, is_duration: bool = False,
                 kinds: tuple[str, ...] = ("constant", "exponential", "uniform", "lognormal",
                                           "choice", "pareto"),
                 unbounded_pareto: bool = True) -> Any:
    """A distribution of values mostly in [low, high] (``low >= 0``) with edge parameters;
    durations are written in any form when ``is_duration``."""

    form = draw(duration_form())

    def value(x: float) -> Any:
        return write_duration(x, form) if is_duration else x

    kind = draw(st.sampled_from(kinds))
    positive = max(low, TINY)
    if kind == "constant":
        x = draw(number(low, high))
        if draw(st.booleans()):
            return value(x)  # a bare number (or duration) is a constant
        return {"dist": "constant", "value": value(x)}
    if kind == "exponential":
        return {"dist": "exponential", "mean": value(draw(number(positive, high)))}
    if kind == "uniform":
        a = draw(number(low, high))
        b = draw(st.one_of(st.just(a), number(a, high)))
        return {"dist": "uniform", "low": value(a), "high": value(b)}
    if kind == "lognormal":
        sigma = draw(number(0.0, 2.0, edges=(0.1, 0.5)))
        return {"dist": "lognormal", "median": value(draw(number(positive, high))),
                "sigma": sigma}
    if kind == "choice":
        values = draw(st.lists(number(low, high), min_size=1, max_size=4))
        out: dict[str, Any] = {"dist": "choice", "values": [value(v) for v in values]}
        if draw(st.booleans()):
            weights = draw(st.lists(number(0.0, 5.0), min_size=len(values),
                                    max_size=len(values)))
            if sum(weights) <= 0:
                weights[-1] = 1.0
            out["weights"] = weights
        return out
    alpha = draw(number(0.3, 5.0, edges=(1.0, 0.5, 1.5)))
    lo = draw(number(positive, high))
    out = {"dist": "pareto", "alpha": alpha, "min": value(lo)}
    if not unbounded_pareto or draw(st.booleans()):
        out["max"] = value(lo * draw(number(1.0, max(1.0, high / lo), edges=(1.0 + 1e-9,))))
    return out


@st.composite
def shares(draw: Any, names: list[str], *, allow_empty: bool = False) -> dict[str, float]:
    """Shares of ``names`` (or of a subset) summing to 1, sometimes off by less than the
    validation tolerance (1e-6)."""
    if allow_empty and draw(st.integers(0, 9)) == 9:  # shrinks towards non-empty
        return {}
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names),
                           unique=True))
    weights = draw(st.lists(st.integers(0, 10), min_size=len(chosen), max_size=len(chosen)))
    if sum(weights) == 0:
        weights[0] = 1
    total = sum(weights)
    out = {name: w / total for name, w in zip(chosen, weights, strict=True)}
    off = {17: 9e-7, 18: -9e-7, 19: 3e-7}.get(draw(st.integers(0, 40)), 0.0)  # 1 in 14
    if off:
        key = max(out, key=out.get)
        out[key] = max(0.0, out[key] + (off if out[key] + off <= 1 else -off))
    return out


# --------------------------------------------------------------------------- scenarios


def _maybe(draw: Any, strategy: st.SearchStrategy, into: dict[str, Any], key: str) -> None:
    """Set ``into[key]`` from ``strategy`` or leave the optional field absent."""
    if draw(st.booleans()):
        into[key] = draw(strategy)


@st.composite
def discovery(draw: Any, polling: bool) -> dict[str, Any]:
    mode = draw(st.sampled_from(["refresh", "script", "notification"]))
    fastest = 5.0 if polling else 0.01
    out: dict[str, Any] = {"mode": mode}
    if mode == "notification":
        out["reaction"] = draw(distribution(0.0, 3600.0, is_duration=True))
    elif mode == "refresh" or draw(st.booleans()):  # a script's interval is optional
        out["interval"] = draw(distribution(fastest, 7200.0, is_duration=True,
                                            kinds=("constant", "exponential")))
    return out


@st.composite
def profile(draw: Any, polling: bool, types: list[str], regions: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _maybe(draw, st.text(max_size=12), out, "description")
    if draw(st.booleans()):
        out["always_online"] = draw(st.booleans())
    sessions = []
    for _ in range(draw(st.integers(0, 3))):
        session: dict[str, Any] = {
            "start": draw(distribution(0.0, 2 * 86400.0, is_duration=True)),
            "duration": draw(distribution(0.0, 86400.0, is_duration=True)),
        }
        _maybe(draw, st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
                              min_size=1, max_size=7), session, "days")
        _maybe(draw, number(0.0, 1.0), session, "probability")
        sessions.append(session)
    if sessions or draw(st.booleans()):
        out["sessions"] = sessions
    _maybe(draw, distribution(0.0, 3.0), out, "engagement")
    n_modes = draw(st.integers(1, 3))
    if n_modes == 1 and draw(st.booleans()):
        out["discovery"] = draw(discovery(polling))  # one mode, not a list (share 1)
    else:
        mode_shares = draw(shares([str(i) for i in range(n_modes)]))
        modes = []
        for i in range(n_modes):
            share = mode_shares.get(str(i), 0.0)
            if share > 0 or draw(st.booleans()):  # a mode with share 0, or none
                modes.append({**draw(discovery(polling)), "share": share})
        out["discovery"] = modes
    _maybe(draw, distribution(0.0, 3.0), out, "speed")
    _maybe(draw, distribution(0.0, 1.0), out, "rejection_probability")
    _maybe(draw, distribution(0.0, 30.0), out, "reservation_pay")
    if draw(st.booleans()):
        out["task_types"] = draw(st.lists(st.sampled_from(types), max_size=len(types)))
    if regions and draw(st.booleans()):
        out["regions"] = draw(shares(regions))
    return out


@st.composite
def task_type(draw: Any, regions: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["reward"] = draw(distribution(0.0, 20.0))
    else:
        out["pay_rate"] = draw(distribution(0.0, 60.0))
    out["effort"] = draw(distribution(0.0, 7200.0, is_duration=True))
    _maybe(draw, distribution(0.0, 3.0), out, "effort_spread")
    _maybe(draw, distribution(0.0, 20.0, unbounded_pareto=False), out, "batch_size")
    _maybe(draw, duration(0.0, 2 * 86400.0), out, "expiry")
    if regions and draw(st.booleans()):
        out["regional"] = True
        _maybe(draw, distribution(0.0, 3600.0, is_duration=True), out, "travel")
    return out


def _weights(n: int) -> st.SearchStrategy:
    return st.lists(number(0.0, 3.0), min_size=n, max_size=n)


@st.composite
def platform(draw: Any) -> dict[str, Any]:
    rule = draw(st.sampled_from(sorted(RULES)))
    allocation: dict[str, Any] = {"rule": rule}
    if rule != "fcfs":
        _maybe(draw, duration(1e-3, 7200.0), allocation, "window")
    if rule == "least_earned":
        _maybe(draw, st.sampled_from(["day", "week", "run"]), allocation, "period")
    out: dict[str, Any] = {}
    if rule != "fcfs" or draw(st.booleans()):
        out["allocation"] = allocation
    _maybe(draw, number(0.0, 0.99), out, "commission")
    _maybe(draw, st.one_of(st.none(), st.integers(1, 5)), out, "daily_cap")
    _maybe(draw, st.integers(1, 3), out, "max_claimed")
    _maybe(draw, number(0.0, 10.0), out, "payout_threshold")
    _maybe(draw, st.one_of(st.none(), number(TINY, 100.0)), out, "monthly_cap")
    if draw(st.booleans()):
        out["minimum_pay_rate"] = draw(st.one_of(st.none(), number(0.0, 50.0)))
        _maybe(draw, number(0.0, 5.0, edges=(1.0,)), out, "demand_elasticity")
    return out


@st.composite
def scenario_dicts(draw: Any) -> dict[str, Any]:
    """A scenario dict exercising every field of the schema (see the module docstring)."""
    engine = draw(st.sampled_from(["race", "polling"]))
    polling = engine == "polling"
    data: dict[str, Any] = {}
    _maybe(draw, st.text(min_size=1, max_size=10), data, "name")
    _maybe(draw, st.text(max_size=20), data, "description")
    _maybe(draw, st.sampled_from(["EUR", "USD", ""]), data, "currency")
    data["horizon"] = draw(duration(3600.0, 6 * 3600.0, edges=(60.0,)) if polling
                           else duration(3600.0, 2 * 86400.0, edges=(1e-3, 1.0, 60.0)))
    if polling or draw(st.booleans()):
        data["engine"] = engine
    data["workers"] = draw(st.integers(1, 4 if polling else 40))
    _maybe(draw, number(0.2, 1.0, edges=(0.05,)), data, "scale")
    regions = draw(st.sampled_from([[], [], ["north"], ["north", "south", "east"]]))
    if regions:
        data["regions"] = draw(shares(regions))
    elif draw(st.booleans()):
        data["regions"] = {}
    region_names = list(data.get("regions", {}))
    types = [f"t{i}" for i in range(draw(st.integers(1, 3)))]
    data["task_types"] = {name: draw(task_type(region_names)) for name in types}
    names = [f"p{i}" for i in range(draw(st.integers(1, 3)))]
    profile_shares = draw(shares(names))
    data["profiles"] = {}
    for name in names:
        data["profiles"][name] = draw(profile(polling, types, region_names))
        data["profiles"][name]["share"] = profile_shares.get(name, 0.0)
    requesters: dict[str, Any] = {"count": draw(st.integers(1, 5)),
                                  "batches_per_day": draw(number(20.0, 200.0, edges=(0.0, 1.0))),
                                  "task_mix": draw(shares(types, allow_empty=True))}
    _maybe(draw, distribution(0.0, 10.0), requesters, "activity")
    _maybe(draw, st.sampled_from(["random", "quantiles"]), requesters, "activity_draw")
    _maybe(draw, _weights(24), requesters, "hour_of_day")
    _maybe(draw, _weights(7), requesters, "day_of_week")
    data["requesters"] = requesters
    _maybe(draw, platform(), data, "platform")
    if draw(st.integers(0, 4)) == 4:  # shrinks towards no calibration section
        targets = {f"m{i}": {"role": draw(st.sampled_from(["fitted", "held_out", "input"])),
                             "measure": m}
                   for i, m in enumerate(draw(st.lists(st.sampled_from(sorted(MEASURES)),
                                                       min_size=1, max_size=3, unique=True)))}
        data["calibration"] = {"market": "test", "targets": targets}
    return data


# --------------------------------------------------------------------------- mutations

SHIPPED = sorted(p.stem for p in SCENARIOS.glob("*.yaml")
                 if "variants" not in yaml.safe_load(p.read_text()))
"""Scenario files shipped in scenarios/ (policies.yaml and labour_supply.yaml are comparison
specs, with a top-level ``variants``, not scenarios)."""
SHORT_HORIZON = "1d"
SHORT_WORKERS = 100


def _plain(node: Any) -> Any:
    """Copy of a YAML tree without shared nodes (``*alias`` nodes become separate copies)."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[parts[-1]] = value


def _policy_variants() -> dict[str, dict[str, Any]]:
    spec = yaml.safe_load((SCENARIOS / "policies.yaml").read_text())
    return {f"baseline+{name}": changes for name, changes in spec["variants"].items() if changes}


POLICY_VARIANTS = _policy_variants()
BASES = [*SHIPPED, *POLICY_VARIANTS]


@functools.cache
def _read_scenario(name: str) -> dict[str, Any]:
    return read_scenario_file(SCENARIOS / f"{name}.yaml")  # what it extends resolved


def shipped(base: str) -> dict[str, Any]:
    """A shipped scenario (or the baseline with a policies.yaml variant) as a plain dict,
    shortened to :data:`SHORT_HORIZON` with ``scale`` reduced to about
    :data:`SHORT_WORKERS` workers."""
    name, _, variant = base.partition("+")
    raw = _read_scenario(name)
    data = _plain({k: v for k, v in raw.items() if not str(k).startswith("x-")})
    for path, value in (POLICY_VARIANTS[base] if variant else {}).items():
        _set(data, path, _plain(value))
    scale = float(data.get("scale", 1.0))
    workers = data["workers"] * scale
    data["horizon"] = SHORT_HORIZON
    data["scale"] = scale * min(1.0, SHORT_WORKERS / workers)
    return data


Path_ = tuple[str | int, ...]
DURATION_TEXT = re.compile(r"^\s*[-+]?\d+(\.\d*)?([eE][-+]?\d+)?\s*[a-z]*\s*$")


def _walk(node: Any, path: Path_ = ()) -> list[tuple[Path_, Any]]:
    """Every (path, node) of a tree, the root included."""
    out = [(path, node)]
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, child in items:
        out += _walk(child, (*path, key))
    return out


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (
        isinstance(value, str) and bool(DURATION_TEXT.match(value)))


def dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path) or "<root>"


NUMBERS: list[Any] = [
    math.nan, math.inf, -math.inf, "nan", "inf", "-inf", "1e400", "1e400d",  # non-finite
    1e9, 1e300, float("1e400"), 10**18, 2**63, 10**30,  # huge (1e400 is inf)
    1e-300, 5e-324, 1e-9, "1e-300s",  # tiny
    0, 0.0, -0.0, "0s",  # zero
    -1, -1e-9, -1e300, "-5min",  # negative
]
WRONG_TYPES: list[Any] = ["abc", "", [], [1, 2], {}, {"a": 1}, True, False, None]


@dataclass(frozen=True)
class Mutation:
    """``op`` is ``replace`` (``value`` at ``path``), ``delete`` (the key at ``path``) or
    ``empty`` (the mapping or list at ``path``)."""

    op: str
    path: Path_
    value: Any = None

    def __repr__(self) -> str:
        if self.op == "replace":
            return f"replace {dotted(self.path)} = {self.value!r}"
        return f"{self.op} {dotted(self.path)}"


def mutate(data: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    """Apply one mutation in place and return the (possibly new) root."""
    if not mutation.path:
        return {} if mutation.op == "empty" else copy.deepcopy(mutation.value)
    parent: Any = data
    for key in mutation.path[:-1]:
        parent = parent[key]
    key = mutation.path[-1]
    if mutation.op == "replace":  # a copy: values such as {} are shared by every example
        parent[key] = copy.deepcopy(mutation.value)
    elif mutation.op == "delete":
        del parent[key]
    else:
        parent[key] = {} if isinstance(parent[key], dict) else []
    return data


def _code(value: Any) -> str:
    """Python source of a mutation value (``float('nan')`` for non-finite floats)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def as_code(mutations: tuple[Mutation, ...]) -> str:
    """Source of the mutations as ``(op, dotted path, value)`` tuples for :func:`mutated`."""
    items = ", ".join(f"({m.op!r}, {dotted(m.path)!r}, {_code(m.value)})" for m in mutations)
    return f"[{items}]"


def mutated(base: str, mutations: Any) -> dict[str, Any]:
    """The shortened shipped scenario ``base`` with ``mutations`` applied, to reproduce a case:
    :class:`Mutation` objects or ``(op, dotted path, value)`` tuples (list indices as digits)."""
    data = shipped(base)
    for m in mutations:
        if not isinstance(m, Mutation):
            op, path, value = m
            keys = tuple(int(k) if k.isdigit() else k for k in path.split(".")) if path else ()
            m = Mutation(op, keys, value)
        data = mutate(data, m)
    return data


@st.composite
def mutation_lists(draw: Any, base: str) -> tuple[Mutation, ...]:
    data = shipped(base)
    out = []
    for _ in range(draw(st.integers(1, 3))):
        nodes = _walk(data)
        op = draw(st.sampled_from(["number", "number", "type", "delete", "empty"]))
        if op == "number":
            paths = [p for p, v in nodes if p and _is_number(v)]
            value = draw(st.sampled_from(NUMBERS))
        elif op == "type":
            paths = [p for p, v in nodes if p and not isinstance(v, dict | list)]
            value = draw(st.sampled_from(WRONG_TYPES))
        elif op == "delete":
            paths = [p for p, _ in nodes if p and not isinstance(p[-1], int)]
            value = None
        else:
            paths = [p for p, v in nodes if isinstance(v, dict | list) and v]
            value = None
        if not paths:
            continue
        m = Mutation("replace" if op in ("number", "type") else op, draw(st.sampled_from(paths)),
                     value)
        data = mutate(data, m)
        out.append(m)
        if not isinstance(data, dict):
            break
    return tuple(out)


# --------------------------------------------------------------------------- cases


class Case:
    """A generated scenario dict, or a shipped scenario with mutations; ``repr`` is what a
    failure prints (not a dataclass: Hypothesis would print every field of one)."""

    def __init__(self, seed: int, data: Any, base: str = "",
                 mutations: tuple[Mutation, ...] = ()) -> None:
        self.seed, self.data, self.base, self.mutations = seed, data, base, mutations

    def __repr__(self) -> str:
        if self.base:
            return (f"Case(base={self.base!r}, seed={self.seed}, "
                    f"mutations={list(self.mutations)!r})"
                    f"\n  reproduce: from tests.test_properties import mutated; "
                    f"sim.run(sim.load_scenario(mutated({self.base!r}, "
                    f"{as_code(self.mutations)})), seed={self.seed})")
        return (f"Case(seed={self.seed}, data=\n{pprint.pformat(self.data, sort_dicts=False)})"
                f"\n  reproduce: sim.run(sim.load_scenario(data), seed={self.seed})")


SEEDS = st.integers(0, 2**32 - 1)


@st.composite
def generated_cases(draw: Any) -> Case:
    return Case(seed=draw(SEEDS), data=draw(scenario_dicts()))


@st.composite
def mutated_cases(draw: Any) -> Case:
    base = draw(st.sampled_from(BASES))
    mutations = draw(mutation_lists(base))
    return Case(seed=draw(SEEDS), data=mutated(base, mutations), base=base, mutations=mutations)


def _label(case: Case) -> None:
    """Statistics shown by ``pytest --hypothesis-show-statistics``."""
    data = case.data if isinstance(case.data, dict) else {}
    plat = data.get("platform")
    alloc = plat.get("allocation") if isinstance(plat, dict) else None
    rule = alloc.get("rule", "?") if isinstance(alloc, dict) else "fcfs"
    event(f"engine={data.get('engine', 'race')}, rule={rule}")


def assert_case(case: Case) -> None:
    """Run the case in a bounded child; fail with the case and the outcome unless it passed."""
    outcome = run_case(case.data, case.seed)
    event(f"outcome={outcome.kind}")
    _label(case)
    note(f"outcome after {outcome.seconds:.2f} s: {outcome.describe()}")
    if not outcome.passed:
        raise AssertionError(
            f"a scenario neither ran cleanly nor was refused with ScenarioError\n"
            f"case: {case!r}\noutcome: {outcome.describe()}"
        )


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("base", BASES)
def test_shortened_shipped_scenarios_run(base: str) -> None:
    """Control: the unmutated bases of the mutation test run cleanly."""
    outcome = run_case(shipped(base), seed=0)
    assert outcome.kind == "ok", outcome.describe()


@settings(max_examples=GENERATED_EXAMPLES, **SETTINGS)
@given(case=generated_cases())
def test_generated_scenarios_run_or_are_refused(case: Case) -> None:
    assert_case(case)


@settings(max_examples=MUTATED_EXAMPLES, **SETTINGS)
@given(case=mutated_cases())
def test_mutated_shipped_scenarios_run_or_are_refused(case: Case) -> None:
    assert_case(case)


def test_bounds_catch_a_hang_and_a_memory_hog(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: a case over its time or memory bound fails, it does not hang or
    take the machine down (the child is forked after the patch, so it sees it)."""
    monkeypatch.setattr(sim, "load_scenario", lambda data: time.sleep(30))
    hang = run_case({}, 0, timeout=1)
    assert hang.kind == "timeout" and not hang.passed and hang.seconds < 10, hang
    monkeypatch.setattr(sim, "load_scenario", lambda data: bytearray(MEMORY_BUDGET + (1 << 30)))
    hog = run_case({}, 0)
    assert hog.kind == "exception" and hog.error == "MemoryError", hog
