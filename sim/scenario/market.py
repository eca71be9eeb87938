"""Markets of several platforms, as a scenario states them.

A scenario without ``platforms`` is one platform (its ``platform`` and ``requesters``
sections), exactly as before. With ``platforms``, each entry is a platform of the market: its
registered workers, and what it changes of the scenario's ``platform`` rules and
``requesters`` (both are the defaults every platform starts from, so a lever set at the top
applies to every platform and one set under ``platforms.<name>`` to that one only). Workers
register on one or more platforms: how many is a distribution per profile
(``profiles.<p>.platforms.count``); which ones is drawn in proportion to the platforms'
``registered`` (or the profile's own ``weights``).

Sources for the French market: 23 platforms in 2019 (targets row ``fr_platform_count``), the
largest with about 50,000 contributors (``ff_registered_contributors``), workers on several
apps (the French survey's case studies use five or more).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from sim.scenario.fields import MAX_COUNT, Dist, FrozenDict, StrictModel, coerce_one

MAX_PLATFORMS = 1000
"""Most platforms in one scenario (every worker's apps are drawn among them)."""


class PlatformEntry(StrictModel):
    """One platform of a market of several: its size and what differs from the scenario's
    ``platform`` rules and ``requesters``."""

    description: str = Field(default="", description="Free text, shown in reports.")
    registered: int = Field(ge=1, le=MAX_COUNT, description=(
        "Workers registered on it at full size (times ``scale``); which workers register "
        "where is drawn in proportion to these numbers, so the realised sizes are close to "
        "them when the profiles' platform counts add up to their sum (`microwork validate` "
        "says when they do not)."))
    platform: dict[str, Any] = Field(
        default_factory=FrozenDict, description=(
            "Its rules where they differ from the scenario's ``platform`` (same fields, e.g. "
            "``allocation: {rule: lottery}``); the rest is the scenario's."))
    requesters: dict[str, Any] = Field(
        default_factory=FrozenDict, description=(
            "Its requesters where they differ from the scenario's ``requesters`` (same "
            "fields, e.g. ``batches_per_day``); the rest is the scenario's."))


class Membership(StrictModel):
    """On how many platforms a profile's workers are registered, and which they favour."""

    count: Dist = Field(default_factory=lambda: coerce_one(1.0), description=(
        "Platforms a worker is registered on, drawn per worker (rounded; at least 1, at most "
        "the number of platforms)."))
    weights: dict[str, Annotated[float, Field(ge=0)]] | None = Field(default=None, description=(
        "Relative chance of each platform to be one of a worker's (default: the platforms' "
        "``registered``); a platform left out is never chosen by this profile."))


def merged(defaults: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` with ``changes`` applied key by key (nested mappings merged, the rest
    replaced): a platform's section from the scenario's and its own overrides. A mapping
    naming a ``rule`` replaces the old one whole (another rule's parameters do not apply)."""
    out = dict(defaults)
    for key, value in changes.items():
        old = out.get(key)
        out[key] = merged(old, value) if isinstance(old, dict) and isinstance(value, dict) \
            and "rule" not in value else value
    return out
