"""``microwork validate``: check a scenario, describe it in words and say how large a run is."""

from __future__ import annotations

import argparse

from sim.cli import EXIT_OK
from sim.cli.commands import scenario_of
from sim.presentation.text import describe_scenario
from sim.scenario import size


def main(args: argparse.Namespace) -> int:
    """Check the scenario, describe it in one paragraph and give the size of a run (refused,
    like ``run``, when above the memory limit)."""
    scenario = scenario_of(args)
    run_size = size.check(scenario, args.max_memory)
    print(f"{args.scenario} is valid.\n")
    print(describe_scenario(scenario))
    print(f"\nExpected size of a run: {run_size.describe()}.")
    for note in (size.membership_note(scenario), size.scale_note(scenario)):
        if note:
            print(f"\nNote: {note}.")
    return EXIT_OK
