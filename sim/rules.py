"""Allocation rules: who gets a task when several workers want it.

Each rule is a small strategy class registered by name, with its parameters validated as part
of the scenario (``platform.allocation``). The engine asks a rule two things: how long after a
release it collects candidates (``window``; 0 means the first to arrive takes the task), and
which of the collected candidates win (``choose``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from sim.durations import parse_duration
from sim.errors import shown

VALUE_SHOWN = "value_shown"
"""Type of a validation error whose message already quotes the offending value."""


class RuleParams(BaseModel):
    """Parameters of a rule; rules without parameters use this empty model."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AllocationRule:
    """Interface of an allocation rule. Subclasses set ``name``, ``Params`` and ``choose``."""

    name: ClassVar[str]
    Params: ClassVar[type[RuleParams]] = RuleParams
    description: ClassVar[str] = ""

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


@register
class FirstComeFirstServed(AllocationRule):
    """The first worker to arrive takes the task, as on every micro-work platform studied."""

    name = "fcfs"
    description = (
        "First come, first served: the first eligible worker to look at the task list after a "
        "release takes the task. This is how Amazon Mechanical Turk, Clickworker, Foule Factory "
        "and in-store photo apps work, and what the seed article describes."
    )

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        return candidates[:n]


class WindowParams(RuleParams):
    """A window rule collects the workers arriving within ``window`` of the round's start."""

    window: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 60.0


def _random_order(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random keys for breaking ties without favouring the first to arrive."""
    return rng.random(n)


@register
class Lottery(AllocationRule):
    """Every candidate of the round has the same chance."""

    name = "lottery"
    Params = WindowParams
    description = (
        "Lottery: every eligible worker who arrives within `window` after the release enters; "
        "winners are drawn at random when the window closes. "
        "It models proposals to neutralise the speed race (a 'fair queue' on the platform)."
    )

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        return rng.permutation(candidates)[:n]


@register
class RoundRobin(AllocationRule):
    """The candidate who has waited longest since its last claim wins."""

    name = "round_robin"
    Params = WindowParams
    description = (
        "Round robin: among the workers who arrive within `window`, the one who has waited "
        "longest since its last task wins (never served first, ties at random). It models a "
        "platform dispatching work in turn, as some in-store apps and agencies do."
    )

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        order = np.lexsort((_random_order(rng, len(candidates)), state.last_claims(candidates)))
        return candidates[order[:n]]


class LeastEarnedParams(WindowParams):
    """``period``: earnings counted over the current day, week or the whole run."""

    period: Literal["day", "week", "run"] = "run"


@register
class LeastEarned(AllocationRule):
    """The candidate with the lowest earnings so far wins."""

    name = "least_earned"
    Params = LeastEarnedParams
    description = (
        "Least earned: among the workers who arrive within `window`, the one with the lowest "
        "earnings in the current `period` (day, week or run) wins, ties at random. It models "
        "a redistributive rule a regulator or a cooperative platform could impose."
    )

    @property
    def earnings_period(self) -> float:
        return {"day": 86400.0, "week": 7 * 86400.0, "run": math.inf}[self.params.period]

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
    Params = WindowParams
    description = (
        "Reputation: among the workers who arrive within `window`, winners are drawn with "
        "probability proportional to their approval rate, smoothed as (approved + 1) / "
        "(decided + 2) so that newcomers are not shut out. It models qualification-based "
        "access (MTurk's approval-rate qualifications, Clickworker's assessments)."
    )

    def choose(
        self, candidates: np.ndarray, n: int, state: Any, rng: np.random.Generator
    ) -> np.ndarray:
        weight = state.approval_rate(candidates)
        keys = np.log(rng.random(len(candidates))) / weight  # Efraimidis-Spirakis sampling
        return candidates[np.argsort(-keys, kind="stable")[:n]]


class AllocationConfig(BaseModel):
    """``platform.allocation``: the rule's name plus that rule's own parameters."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    rule: str

    @model_validator(mode="after")
    def _known(self) -> AllocationConfig:
        if self.rule not in RULES:
            raise ValueError(
                f"unknown allocation rule {self.rule!r}; allowed: {', '.join(sorted(RULES))}"
            )
        try:
            RULES[self.rule].Params.model_validate(self.model_extra or {})
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            msg = first["msg"].removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                msg = f"unknown parameter for rule {self.rule!r}"
            raise PydanticCustomError(VALUE_SHOWN, "{field}: {msg} (got {value})", {
                "field": field, "msg": msg, "value": shown(first.get("input"))}) from None
        return self

    def build(self) -> AllocationRule:
        """Instantiate the configured rule."""
        cls = RULES[self.rule]
        return cls(cls.Params.model_validate(self.model_extra or {}))
