"""Former home of the sweep and sensitivity figures, now in :mod:`sim.presentation.figures`.

Only the command line still imports the two savers from here (issue 10 splits it at the same
time); delete this module once it imports them from :mod:`sim.presentation.figures`.
"""

from sim.presentation.figures import save_sensitivity_plots, save_sweep_plots

__all__ = ["save_sensitivity_plots", "save_sweep_plots"]
