"""Allocation rules as a scenario states them: each rule's name, description and parameters.

``platform.allocation`` is ``{rule: NAME, ...parameters}``. This module validates it: the name
must be registered in :data:`RULE_PARAMS` and the parameters must fit that rule's model. The
rules' behaviour (who wins a round) lives in the simulation core, :mod:`sim.core.rules`,
registered under the same names; a test checks that both registries list the same rules.
A new rule is added in both places: its parameters and description here, its ``choose`` there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from sim.foundation.errors import shown
from sim.foundation.units import parse_duration

VALUE_SHOWN = "value_shown"
"""Type of a validation error whose message already quotes the offending value."""


class RuleParams(BaseModel):
    """Parameters of a rule; rules without parameters use this empty model."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class WindowParams(RuleParams):
    """A window rule collects the workers arriving within ``window`` of the round's start."""

    window: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 60.0


class LeastEarnedParams(WindowParams):
    """``period``: earnings counted over the current day, week or the whole run."""

    period: Literal["day", "week", "run"] = "run"


@dataclass(frozen=True)
class RuleSpec:
    """What a scenario may say of a rule: its parameters and, for the reference, what it is."""

    params: type[RuleParams]
    description: str


RULE_PARAMS: dict[str, RuleSpec] = {
    "fcfs": RuleSpec(RuleParams, (
        "First come, first served: the first eligible worker to look at the task list after a "
        "release takes the task. This is how Amazon Mechanical Turk, Clickworker, Foule Factory "
        "and in-store photo apps work, and what the seed article describes.")),
    "lottery": RuleSpec(WindowParams, (
        "Lottery: every eligible worker who arrives within `window` after the release enters; "
        "winners are drawn at random when the window closes. "
        "It models proposals to neutralise the speed race (a 'fair queue' on the platform).")),
    "round_robin": RuleSpec(WindowParams, (
        "Round robin: among the workers who arrive within `window`, the one who has waited "
        "longest since its last task wins (never served first, ties at random). It models a "
        "platform dispatching work in turn, as some in-store apps and agencies do.")),
    "least_earned": RuleSpec(LeastEarnedParams, (
        "Least earned: among the workers who arrive within `window`, the one with the lowest "
        "earnings in the current `period` (day, week or run) wins, ties at random. It models "
        "a redistributive rule a regulator or a cooperative platform could impose.")),
    "reputation": RuleSpec(WindowParams, (
        "Reputation: among the workers who arrive within `window`, winners are drawn with "
        "probability proportional to their approval rate, smoothed as (approved + 1) / "
        "(decided + 2) so that newcomers are not shut out. It models qualification-based "
        "access (MTurk's approval-rate qualifications, Clickworker's assessments).")),
}
"""Every allocation rule a scenario may name, with its parameters and description."""


class AllocationConfig(BaseModel):
    """``platform.allocation``: the rule's name plus that rule's own parameters."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    rule: str

    @model_validator(mode="after")
    def _known(self) -> AllocationConfig:
        if self.rule not in RULE_PARAMS:
            raise ValueError(
                f"unknown allocation rule {self.rule!r}; allowed: {', '.join(sorted(RULE_PARAMS))}"
            )
        try:
            self.params()
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            msg = first["msg"].removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                msg = f"unknown parameter for rule {self.rule!r}"
            raise PydanticCustomError(VALUE_SHOWN, "{field}: {msg} (got {value})", {
                "field": field, "msg": msg, "value": shown(first.get("input"))}) from None
        return self

    def params(self) -> RuleParams:
        """The rule's parameters, validated by its model."""
        return RULE_PARAMS[self.rule].params.model_validate(self.model_extra or {})

    @property
    def window(self) -> float:
        """Seconds a round collects candidates after a release (0 for first come, first
        served)."""
        return getattr(self.params(), "window", 0.0)
