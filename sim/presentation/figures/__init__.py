"""Figures of results, on ``matplotlib.figure.Figure`` (no pyplot global state, nothing shown):
one module per subject and one registry of the standard figures.

- :mod:`~sim.presentation.figures.style`: sizes, colours, time axes, the "no data" note;
- :mod:`~sim.presentation.figures.run`: a run's figures (Lorenz curve, monthly earnings,
  claim latency, hourly pay);
- :mod:`~sim.presentation.figures.comparison`: a comparison's figures;
- :mod:`~sim.presentation.figures.calibration`: a calibration report's figure;
- :mod:`~sim.presentation.figures.sweep`: sweeps and sensitivity analyses;
- :mod:`~sim.presentation.figures.registry`: the standard figures of each kind of result (file
  name, caption, drawing function) and the ``save_*_plots`` functions that write them.

The names below are the package's public interface (``from sim.presentation import figures``;
``figures.lorenz(...)``, ``figures.save_run_plots(...)``).
"""

from sim.presentation.figures.calibration import calibration
from sim.presentation.figures.comparison import (
    lorenz_overlay,
    metric_intervals,
    profile_earnings,
    tradeoff,
)
from sim.presentation.figures.registry import (
    FIGURES,
    caption,
    save_calibration_plots,
    save_comparison_plots,
    save_run_plots,
    save_sensitivity_plots,
    save_sweep_plots,
)
from sim.presentation.figures.run import (
    hourly_pay,
    latency_cdf,
    lorenz,
    monthly_earnings_by_profile,
)
from sim.presentation.figures.style import ALL_LABEL, DPI, profile_colors
from sim.presentation.figures.sweep import sensitivity_indices, sweep_heatmap, sweep_lines

__all__ = [
    "ALL_LABEL", "DPI", "FIGURES", "calibration", "caption", "hourly_pay", "latency_cdf",
    "lorenz", "lorenz_overlay", "metric_intervals", "monthly_earnings_by_profile",
    "profile_colors", "profile_earnings", "save_calibration_plots", "save_comparison_plots",
    "save_run_plots", "save_sensitivity_plots", "save_sweep_plots", "sensitivity_indices",
    "sweep_heatmap", "sweep_lines", "tradeoff",
]
