"""Short run and long run side by side: ``compare(..., supply=...)`` and ``--supply``.

* ``with_supply`` names the variants "<name> (fixed)" / "<name> (adaptive)" and gives each
  the baseline of its own supply; a bad value is refused naming the field and what is allowed;
* with ``supply="both"`` the fixed half is exactly the comparison run with ``supply="fixed"``,
  and each variant's paired difference is taken against the baseline of its own supply;
* common random numbers survive adaptation: over paired replications the variance of the
  difference between two rules is far below the sum of their variances (an F test at 1 %,
  the null being independent replications);
* the CLI writes the per-variant baselines into the manifest, the folder reads back with
  them, and the printed table and the HTML report say which baseline each variant has.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import sim
from sim import cli
from sim.experiments.compare import SUPPLY_MODES, with_supply
from sim.foundation.errors import SpecError
from sim.presentation.folders import load_comparison
from tests.conftest import SMALL_SCENARIO

BEHAVIOUR = {"patience": {"dist": "exponential", "mean": "30min"},
             "continuation": {"probability": 0.5, "duration": "30min"},
             "leaving": {"expectation": 1.0, "base_rate": 0.3, "max_rate": 3.0}}
VARIANTS = {"fcfs": {}, "lottery": {"platform.allocation": {"rule": "lottery",
                                                             "window": "5min"}}}


def adaptive_market(horizon: str = "6d") -> dict[str, Any]:
    """The small test market with behaviours in every profile, supply fixed by default."""
    data = copy.deepcopy(SMALL_SCENARIO)
    data["horizon"] = horizon
    for profile in data["profiles"].values():
        profile["supply"] = BEHAVIOUR
    data["supply"] = {"adaptive": False, "joining": {"rate": 2.0}}
    return data


def test_with_supply_names_variants_and_their_baselines() -> None:
    both, baselines = with_supply(VARIANTS, "both", "fcfs")
    assert list(both) == ["fcfs (fixed)", "lottery (fixed)", "fcfs (adaptive)",
                          "lottery (adaptive)"]
    assert both["lottery (adaptive)"] == {**VARIANTS["lottery"], "supply.adaptive": True}
    assert both["fcfs (fixed)"] == {"supply.adaptive": False}
    assert baselines == {"fcfs (fixed)": "fcfs (fixed)", "lottery (fixed)": "fcfs (fixed)",
                         "fcfs (adaptive)": "fcfs (adaptive)",
                         "lottery (adaptive)": "fcfs (adaptive)"}
    one, none = with_supply(VARIANTS, "adaptive", "fcfs")
    assert list(one) == list(VARIANTS) and none == {}
    assert all(v["supply.adaptive"] for v in one.values())
    assert with_supply(VARIANTS, None, "fcfs") == (VARIANTS, {})
    with pytest.raises(SpecError, match=r"supply: got 'long'; allowed: "
                       + ", ".join(SUPPLY_MODES)):
        with_supply(VARIANTS, "long", "fcfs")


def test_both_is_fixed_and_adaptive_each_paired_with_its_own_baseline() -> None:
    both = sim.compare(adaptive_market(), VARIANTS, replications=3, seed=2, processes=1,
                       progress=False, supply="both")
    fixed = sim.compare(adaptive_market(), VARIANTS, replications=3, seed=2, processes=1,
                        progress=False, supply="fixed")
    assert both.baseline_names == ["fcfs (fixed)", "fcfs (adaptive)"]
    assert both.is_baseline("fcfs (adaptive)") and not both.is_baseline("lottery (adaptive)")
    paired = both.paired()
    assert dict(zip(paired["variant"], paired["baseline"], strict=True)) == {
        "lottery (fixed)": "fcfs (fixed)", "lottery (adaptive)": "fcfs (adaptive)"}
    # the fixed half is the comparison with supply fixed, run for run
    cols = ["replication", "seed", "earnings_gini", "monthly_earnings_mean"]
    for name in VARIANTS:
        got = both.runs[both.runs["variant"] == f"{name} (fixed)"][cols].reset_index(drop=True)
        want = fixed.runs[fixed.runs["variant"] == name][cols].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want)
    # adaptation changes what happens (workers leave and join only in the long run)
    runs = both.runs.set_index("variant")
    assert (runs.loc["fcfs (adaptive)", "workers_left"] > 0).all()
    assert runs.loc["fcfs (fixed)", "workers_left"].isna().all()
    # a difference against the other supply's baseline is not what the table shows
    key = ("lottery (adaptive)", "monthly_earnings_mean")
    mine = paired.set_index(["variant", "metric"]).loc[key]
    a = runs.loc["lottery (adaptive)", "monthly_earnings_mean"].to_numpy()
    b = runs.loc["fcfs (adaptive)", "monthly_earnings_mean"].to_numpy()
    assert mine["mean_diff"] == pytest.approx(float(np.mean(a - b)), rel=1e-12)


def test_common_random_numbers_survive_adaptation() -> None:
    """With supply adapting, paired replications of two rules still share most of their
    variation: the variance of the paired difference of mean earnings is below the sum of the
    two variances (what independent replications would give) by an F test at 1 %."""
    reps = 12
    cmp = sim.compare(adaptive_market("20d"), VARIANTS, replications=reps, seed=3,
                      processes=1, progress=False, supply="adaptive")
    runs = cmp.runs.set_index(["variant", "replication"])["monthly_earnings_mean"]
    a, b = runs.loc["lottery"].to_numpy(), runs.loc["fcfs"].to_numpy()
    ratio = np.var(a - b, ddof=1) / (np.var(a, ddof=1) + np.var(b, ddof=1))
    assert ratio < stats.f.ppf(0.01, reps - 1, reps - 1)


def test_cli_supply_both_writes_the_baselines_and_says_so(tmp_path: Path,
                                                          capsys: Any) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump(adaptive_market("3d"), sort_keys=False))
    out = tmp_path / "out"
    code = cli.main(["compare", str(scenario), "--variant", "fcfs:", "--variant",
                     "lottery:platform.allocation={rule: lottery, window: 5min}",
                     "--supply", "both", "--replications", "2", "--processes", "1",
                     "--no-plots", "--out", str(out)])
    assert code == 0
    printed = " ".join(capsys.readouterr().out.split())  # the notes are wrapped
    assert "baseline of the same labour supply" in printed
    assert "Diff. to baseline" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["spec"]["supply"] == "both"
    assert manifest["baselines"]["lottery (adaptive)"] == "fcfs (adaptive)"
    again = load_comparison(out)
    assert again.baselines == manifest["baselines"]
    assert cli.main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "fcfs (adaptive) (baseline)" in html


def test_spec_supply_is_checked(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(adaptive_market("1d")))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"scenario": "small.yaml", "variants": {"fcfs": {}},
                                    "supply": "sometimes"}))
    assert cli.main(["compare", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "supply" in err and "sometimes" in err and "'fixed'" in err
    assert not (tmp_path / "out").exists()
