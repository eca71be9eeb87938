"""Shared pytest fixtures (a tiny, fast, valid scenario that any test can run or mutate) and the
test tiers: which tests are marked ``slow``.

``python3 dev.py test`` runs every test; ``python3 dev.py test --fast`` (``pytest -m "not
slow"``) leaves out the slow tier listed here, so that the rest runs in under a minute. Slow
are: whole modules of statistical or end-to-end tests (:data:`SLOW_MODULES`), tests using a
costly fixture (:data:`SLOW_FIXTURES`: marking only the first test using a module fixture
would move its cost to the next) and single tests over about 1 s (:data:`SLOW_TESTS`), measured
with ``pytest --durations=0`` on the 2-core machine (BENCHMARKS.md, "Test suite"). The marks are
set here rather than in each file so that the tiers are read in one place; a listed test that
no longer exists is an error.
"""

from __future__ import annotations

import copy
from fnmatch import fnmatchcase
from typing import Any

import pytest

SLOW_MODULES: dict[str, str] = {
    "test_notebooks.py": "the notebooks executed in a fresh kernel (up to 2 min each)",
    "test_queueing.py": "M/M/c and race formulas against many replications",
    "test_engines.py": "race engine against the literal polling oracle",
    "test_properties.py": "Hypothesis: about 1,400 scenarios, each run in a child process",
    "test_executors.py": "the same sweep on a process pool and a Dask LocalCluster",
    "test_supply.py": "adaptive labour supply against theory: long runs over many seeds",
}
"""Test modules slow as a whole, with what makes them slow."""

SLOW_FIXTURES: dict[str, str] = {
    "test_calibration.py::report": "the calibration report of each calibrated scenario",
    "test_experiment.py::baseline_cmp": "the policy comparison of the shipped variants",
    "test_experiment.py::tiny_reference": "a comparison on a process pool",
    "test_sensitivity.py::sobol": "a Saltelli sample of 320 runs",
    "test_sensitivity.py::morris": "10 Morris trajectories",
    "test_html_report.py::browser": "headless Chromium (the fast tier needs no browser)",
    "test_html_report.py::folders": "a run and a comparison written by the command line",
    "test_explorer.py::server": "`microwork explore` in a subprocess (the browser tests)",
    "test_explorer.py::page": "headless Chromium on the explorer page (the browser tests)",
}
"""Fixtures (``module::fixture``) costing seconds: every test of the module using one is slow."""

SLOW_TESTS: tuple[str, ...] = (
    # the policy explorer's exports (result folder with its plots, report) and design hooks
    "test_explorer.py::test_exports",
    # the real-size French market's activity measures, with and without its tasks (1 % scale)
    "test_calibration.py::test_french_market_measures_activity_on_sessions_alone",
    "test_compare_hooks.py::test_cancel_stops_after_the_runs_in_flight[2]",
    "test_compare_hooks.py::test_latency_and_winners_figures",
    # the command line in a real subprocess (a Python start and imports each)
    "test_cli.py::test_run_in_a_subprocess_writes_the_result_folder",
    "test_cli.py::test_run_prints_summary_and_no_progress_bar_for_a_quick_run",
    "test_cli.py::test_validate_in_a_subprocess",
    "test_cli.py::test_help",
    "test_cli.py::test_bad_scenario_file_in_a_subprocess",
    "test_cli.py::test_missing_scenario_file",
    "test_cli.py::test_usage_error_in_a_subprocess",
    "test_cli.py::test_invalid_out_in_a_subprocess",
    "test_cli.py::test_a_killed_run_leaves_a_staging_folder_that_the_next_write_removes",
    "test_cli_compare.py::test_spec_file_in_a_subprocess_with_two_processes",
    "test_cli_compare.py::test_error_in_a_subprocess",
    "test_run_limits.py::test_empty_market_from_the_command_line",
    "test_run_limits.py::test_memory_estimate_is_above_the_peak_and_not_far_above",
    # comparisons, sweeps and their resumption: several runs each
    "test_experiment.py::test_ample_supply_latency_equals_the_window",
    "test_experiment.py::test_resume_after_lost_run_files",
    "test_experiment.py::test_more_replications_reuse_the_state",
    "test_experiment.py::test_target_adds_replications_until_the_goal",
    "test_experiment.py::test_target_stops_at_max_replications",
    "test_experiment.py::test_damaged_state_files_are_errors_until_repaired",
    "test_cli_compare.py::test_a_damaged_run_file_is_an_error_until_repaired",
    "test_cli_compare.py::test_interrupted_comparison_resumes",
    "test_cli_compare.py::test_compare_writes_the_folder_and_prints_the_table",
    "test_cli_compare.py::test_spec_target_adds_replications",
    "test_cli_compare.py::test_set_overrides_the_scenario_before_the_variants",
    "test_cli_compare.py::test_options_override_the_spec",
    "test_compare_supply.py::test_both_is_fixed_and_adaptive_each_paired_with_its_own_baseline",
    "test_compare_supply.py::test_common_random_numbers_survive_adaptation",
    "test_compare_supply.py::test_cli_supply_both_writes_the_baselines_and_says_so",
    "test_cli_compare.py::test_labour_supply_spec_runs_both_supplies_each_against_its_own_baseline",
    "test_sweep.py::test_killed_sweep_resumes_with_only_the_missing_runs",
    "test_sweep.py::test_dataset_and_query_helpers",
    "test_sweep.py::test_damaged_run_files_are_errors_until_repaired",
    "test_sensitivity.py::test_cli_sensitivity_writes_the_result_folder",
    "test_output_safety.py::test_a_microwork_folder_of_the_same_kind_is_replaced",
    # the literal polling oracle and other long runs
    "test_rules.py::test_rules_combine_with_platform_levers[*-polling_engine]",
    "test_reproducibility.py::test_same_seed_same_run[polling]",
    "test_reproducibility.py::test_platform_changes_keep_workers_and_arrivals[polling_engine]",
    "test_run_limits.py::test_expiry_zero_with_a_window_rule",
    "test_run_limits.py::test_empty_market_is_a_valid_result",
    "test_calibration.py::test_scale_multiplies_workers_and_tasks_together",
    "test_calibration.py::test_measured_input_matches_exactly",
)
"""Single tests over about 1 s (``module::name``; ``module::name[id]`` for some parameters,
``*`` matching any characters of the id)."""


def _is_slow(item: pytest.Item) -> bool:
    module = item.path.name
    name = f"{module}::{getattr(item, 'originalname', item.name)}"
    with_id = f"{module}::{item.name}"
    return (module in SLOW_MODULES
            or any(f"{module}::{fixture}" in SLOW_FIXTURES
                   for fixture in getattr(item, "fixturenames", ()))
            or any(name == entry or fnmatchcase(with_id, entry.replace("[", "[[]", 1))
                   for entry in SLOW_TESTS))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow tier before ``-m "not slow"`` deselects it; refuse a stale entry of
    :data:`SLOW_TESTS` or :data:`SLOW_FIXTURES` (a test or fixture renamed or removed in a
    module that was collected)."""
    modules = {item.path.name: item.module for item in items if isinstance(item, pytest.Function)}
    stale = [entry for entry in (*SLOW_TESTS, *SLOW_FIXTURES)
             if (module := entry.split("::")[0]) in modules
             and not hasattr(modules[module], entry.split("::")[1].split("[")[0])]
    if stale:
        raise pytest.UsageError(f"tests/conftest.py lists slow tests or fixtures that do not "
                                f"exist: {stale}")
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)


SMALL_SCENARIO: dict[str, Any] = {
    "name": "small",
    "description": "Tiny market for tests: 60 workers, 3 days.",
    "currency": "EUR",
    "horizon": "3d",
    "workers": 60,
    "regions": {"north": 0.5, "south": 0.5},
    "profiles": {
        "employee": {
            "share": 0.5,
            "description": "Full-time employee, weekday evenings",
            "sessions": [
                {
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "start": {"dist": "uniform", "low": "18h", "high": "20h"},
                    "duration": {"dist": "lognormal", "median": "1h", "sigma": 0.3},
                    "probability": 0.8,
                }
            ],
            "discovery": {"mode": "refresh", "interval": {"dist": "exponential", "mean": "10min"}},
            "reservation_pay": 0.1,
            "regions": {"north": 0.5, "south": 0.5},
        },
        "student": {
            "share": 0.3,
            "description": "Student, afternoons, push notifications",
            "sessions": [
                {
                    "start": {"dist": "uniform", "low": "13h", "high": "16h"},
                    "duration": "2h",
                    "probability": 0.6,
                }
            ],
            "discovery": {"mode": "notification", "reaction": {"dist": "exponential", "mean": 60}},
            "task_types": ["survey", "search"],
        },
        "always_on": {
            "share": 0.2,
            "description": "Financially distressed, always online with a script",
            "always_online": True,
            "discovery": {"mode": "script", "interval": "5s"},
            "speed": 1.3,
            "rejection_probability": 0.05,
            "regions": {"north": 1.0},
        },
    },
    "task_types": {
        "survey": {
            "reward": {"dist": "lognormal", "median": 0.8, "sigma": 0.5},
            "effort": "5min",
            "batch_size": {"dist": "pareto", "alpha": 1.5, "min": 1, "max": 20},
            "expiry": "1d",
        },
        "search": {"pay_rate": 4.0, "effort": "90s", "expiry": "6h"},
        "shelf_photo": {
            "reward": 3.0,
            "effort": "10min",
            "regional": True,
            "travel": {"dist": "uniform", "low": "5min", "high": "30min"},
            "expiry": "2d",
        },
    },
    "requesters": {
        "count": 10,
        "activity": {"dist": "pareto", "alpha": 1.2, "min": 1},
        "batches_per_day": 200,
        "task_mix": {"survey": 0.5, "search": 0.4, "shelf_photo": 0.1},
    },
    "platform": {"allocation": {"rule": "fcfs"}, "commission": 0.2},
}
"""A tiny valid scenario (three profiles, three task types incl. a regional one, 3 days) that
runs in a fraction of a second; tests get a deep copy through the ``small_scenario`` fixture."""


@pytest.fixture
def small_scenario() -> dict[str, Any]:
    """A fresh copy of :data:`SMALL_SCENARIO`, safe to mutate in a test."""
    return copy.deepcopy(SMALL_SCENARIO)
