"""Allocation rules: who gets a task when several workers want it.

Each rule is a small strategy class registered by name (the names and parameters a scenario
may give are in :mod:`sim.scenario.allocation`). The engine asks a rule two things: how long
after a release it collects candidates (``window``; 0 means the first to arrive takes the
task), and which of the collected candidates win (``choose``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from sim.foundation.units import DAY, WEEK
from sim.scenario.allocation import AllocationConfig, RuleParams


class AllocationRule:
    """Interface of an allocation rule. Subclasses set ``name`` and ``choose``."""

    name: ClassVar[str]

    reads_last_claims: ClassVar[bool] = False
    """Whether :meth:`choose` reads the candidates' last claim times (``state.last_claims``):
    a board records them only for a rule that reads them (a write a claim, otherwise)."""

    reads_approvals: ClassVar[bool] = False
    """Whether :meth:`choose` reads the candidates' approval rates (``state.approval_rate``):
    a board counts approvals and rejections only for a rule that reads them."""

    def __init__(self, params: RuleParams) -> None:
        self.params = params

    @property
    def window(self) -> float:
        """Seconds after a release during which arriving workers are collected (0: none).

        When the window closes the rule picks winners among the candidates; tasks left over
        (fewer candidates than tasks) then go to later arrivals, first come, first served,
        since nobody competes for them. A round closes early if the tasks expire sooner. The
        tasks of a round are claimed exactly when it closes, so mean claim latency rises by
        about the window, not more (later claims shift too, since other workers are busy).
        """
        return getattr(self.params, "window", 0.0)

    @property
    def earnings_period(self) -> float:
        """Length of the period over which the platform tracks earnings for the rule."""
        return math.inf

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        """Return up to ``n`` winners among ``candidates`` (worker ids in arrival order)."""
        raise NotImplementedError


RULES: dict[str, type[AllocationRule]] = {}


def register(cls: type[AllocationRule]) -> type[AllocationRule]:
    """Class decorator adding a rule to the registry under its ``name``."""
    RULES[cls.name] = cls
    return cls


def build_rule(config: AllocationConfig) -> AllocationRule:
    """The rule a scenario's ``platform.allocation`` names, with its parameters."""
    return RULES[config.rule](config.params())


def _random_order(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random keys for breaking ties without favouring the first to arrive."""
    return rng.random(n)


@register
class FirstComeFirstServed(AllocationRule):
    """The first worker to arrive takes the task, as on every micro-work platform studied."""

    name = "fcfs"

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        return candidates[:n]


@register
class Lottery(AllocationRule):
    """Every candidate of the round has the same chance."""

    name = "lottery"

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        return rng.permutation(candidates)[:n]


@register
class RoundRobin(AllocationRule):
    """The candidate who has waited longest since its last claim wins."""

    name = "round_robin"
    reads_last_claims = True

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        order = np.lexsort((_random_order(rng, len(candidates)), state.last_claims(candidates)))
        return candidates[order[:n]]


@register
class LeastEarned(AllocationRule):
    """The candidate with the lowest earnings in the current period wins."""

    name = "least_earned"

    @property
    def earnings_period(self) -> float:
        return {"day": DAY, "week": WEEK, "run": math.inf}[self.params.period]

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        earned = state.earned_this_period(candidates)
        order = np.lexsort((_random_order(rng, len(candidates)), earned))
        return candidates[order[:n]]


@register
class Reputation(AllocationRule):
    """Chance of winning proportional to the candidate's (smoothed) approval rate."""

    name = "reputation"
    reads_approvals = True

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        weight = state.approval_rate(candidates)
        keys = np.log(rng.random(len(candidates))) / weight  # Efraimidis-Spirakis sampling
        return candidates[np.argsort(-keys, kind="stable")[:n]]
