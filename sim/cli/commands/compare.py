"""``microwork compare``: variants of a scenario over paired replications, resumable from
``<out>.partial``; writes the comparison folder and prints the comparison table."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.cli.commands import files_only, spec_of
from sim.cli.output import Output, default_experiment_out
from sim.cli.parser import (
    DEFAULT_COMPARE_SEED,
    DEFAULT_REPLICATIONS,
    VARIANT_SYNTAX,
    parse_variant,
)
from sim.experiments.compare import (
    Comparison,
    ComparisonSpec,
    compare,
    load_comparison_spec,
    write_comparison,
)
from sim.experiments.design import default_workers
from sim.foundation.errors import ScenarioError, UsageError
from sim.presentation import figures
from sim.presentation.text import format_comparison
from sim.scenario.loading import in_context, override


@dataclass
class Plan:
    """What ``microwork compare`` runs: the spec read from the source (its scenario changed by
    ``--set``) and its settings with the command-line options applied."""

    spec: ComparisonSpec
    variants: dict[str, dict[str, Any]]
    baseline: str
    replications: int
    seed: int
    processes: int
    supply: str | None

    def manifest(self, source: str) -> dict[str, Any]:
        """What the result folder's manifest says about the comparison run."""
        spec = self.spec
        target = spec.target.model_dump(exclude_unset=True) if spec.target else None
        as_run = {"scenario": str(spec.scenario_file) if spec.scenario_file else None,
                  "baseline": self.baseline, "replications": self.replications,
                  "seed": self.seed, "variants": self.variants,
                  **({"target": target} if target else {}),
                  **({"supply": self.supply} if self.supply else {})}
        return {"command": "compare", "source": str(Path(source).resolve()), "spec": as_run,
                "scenario": spec.scenario.to_dict(), "seed": self.seed,
                "processes": self.processes}


def _variants(args: argparse.Namespace, spec: ComparisonSpec,
              added: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The spec's variants with those of ``--variant`` (``added``) added or replacing the
    spec's, each checked against the scenario (errors name the variant and where it was
    given)."""
    variants = dict(spec.variants)
    given: set[str] = set()
    for name, changes in added:
        if name in given:
            raise UsageError(f"--variant: the name {name!r} is given twice")
        given.add(name)
        variants[name] = changes
    if not variants:
        raise UsageError(f"{args.source} is a scenario file: give at least one --variant "
                         f"{VARIANT_SYNTAX}, or a comparison spec with 'variants' (like "
                         "scenarios/policies.yaml)")
    for name, changes in variants.items():
        try:
            override(spec.scenario, changes)
        except ScenarioError as exc:
            source = "--variant" if name in given else str(args.source)
            raise in_context(exc, f"variant {name!r} ({source})") from None
    return variants


def plan(args: argparse.Namespace) -> Plan:
    """Read the source (``--variant`` syntax first) and apply the command-line options."""
    added = [parse_variant(item) for item in args.variants or []]  # before reading the file
    spec = spec_of(args, args.source, load_comparison_spec)
    variants = _variants(args, spec, added)
    baseline = args.baseline or spec.baseline or next(iter(variants))
    if baseline not in variants:
        where = "--baseline" if args.baseline else f"{args.source}: baseline"
        raise UsageError(f"{where} {baseline!r} is not one of the variants ({', '.join(variants)})")
    seed = args.seed if args.seed is not None else spec.seed
    return Plan(spec=spec, variants=variants, baseline=baseline,
                replications=args.replications or spec.replications or DEFAULT_REPLICATIONS,
                seed=DEFAULT_COMPARE_SEED if seed is None else seed,
                processes=args.processes or spec.processes or default_workers(),
                supply=args.supply or spec.supply)


def main(args: argparse.Namespace) -> int:
    """Run the variants (resuming from ``<out>.partial``), write the result folder
    atomically, print the comparison table."""
    files_only()
    p = plan(args)
    scn = p.spec.scenario
    out = Output.choose(args.out, default_experiment_out(p.spec.name, "compare"), "comparison")
    title = p.spec.name if p.spec.name == scn.name else f"{p.spec.name} (scenario {scn.name!r})"

    def launch(state: Path) -> Comparison:
        return compare(scn, p.variants, p.replications, p.seed, p.processes,
                       baseline=p.baseline, state_dir=state, progress=not args.quiet,
                       target=p.spec.target, repair=args.repair, max_memory=args.max_memory,
                       supply=p.supply)

    def write(comparison: Comparison, folder: Path, wall: float) -> None:
        manifest = {**p.manifest(args.source), **comparison.stats, "wall_time": wall}
        write_comparison(comparison, folder, manifest)
        if not args.no_plots:
            figures.save_comparison_plots(comparison, folder, scn.currency)

    return out.experiment(launch, write, lambda comparison: format_comparison(
        comparison, scn.currency, list(scn.profiles), title=title), args.quiet)
