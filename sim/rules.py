"""Allocation rules: who gets a task when several workers want it.

Each rule is a small strategy class registered by name, with its parameters validated as part
of the scenario (``platform.allocation``). The engine asks a rule two things: how long after a
release it collects candidates (``window``; 0 means the first to arrive takes the task), and
which of the collected candidates win (``choose``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator


class RuleParams(BaseModel):
    """Parameters of a rule; rules without parameters use this empty model."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AllocationRule:
    """Interface of an allocation rule. Subclasses set ``name``, ``Params`` and ``choose``."""

    name: ClassVar[str]
    Params: ClassVar[type[RuleParams]] = RuleParams
    description: ClassVar[str] = ""

    def __init__(self, params: RuleParams) -> None:
        self.params = params

    @property
    def window(self) -> float:
        """Seconds after a release during which arriving workers are collected (0: none)."""
        return 0.0

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


class AllocationConfig(BaseModel):
    """``platform.allocation``: the rule's name plus that rule's own parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)
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
            msg = first["msg"]
            if first["type"] == "extra_forbidden":
                msg = f"unknown parameter for rule {self.rule!r}"
            raise ValueError(f"{field}: {msg} (got {first.get('input')!r})") from None
        return self

    def build(self) -> AllocationRule:
        """Instantiate the configured rule."""
        cls = RULES[self.rule]
        return cls(cls.Params.model_validate(self.model_extra or {}))
