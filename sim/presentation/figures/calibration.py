"""The figure of a calibration report: simulated against published, one row per target."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.presentation.figures.style import figure_and_axes

if TYPE_CHECKING:
    from sim.experiments.calibration import CalibrationReport


def calibration(report: CalibrationReport, ax: Axes | None = None) -> Figure:
    """Simulated against published, one row per target: the simulated mean with its interval
    and the published value's tolerance band, both relative to the published value."""
    rows = report.table.iloc[::-1].reset_index(drop=True)
    fig, ax = figure_and_axes(ax, (7.5, 0.38 * len(rows) + 1.4))
    scale = rows["published"].where(rows["published"] != 0, 1.0)
    y = np.arange(len(rows))
    ax.barh(y, 2 * rows["tolerance"] / scale, left=(rows["published"] - rows["tolerance"]) / scale,
            height=0.6, color="0.85", label="published value ± tolerance")
    colors = rows["role"].map({"fitted": "C0", "held_out": "C1", "input": "C2"})
    low = ((rows["simulated"] - rows["ci_low"]) / scale).fillna(0)
    high = ((rows["ci_high"] - rows["simulated"]) / scale).fillna(0)
    for role, label in (("fitted", "fitted"), ("held_out", "held out"), ("input", "input")):
        sel = rows["role"] == role
        if sel.any():
            ax.errorbar(rows.loc[sel, "simulated"] / scale[sel], y[sel],
                        xerr=[low[sel], high[sel]], fmt="o", color=colors[sel].iloc[0],
                        capsize=3, label=f"simulated ({label}), 95% interval")
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{i}{'' if w else '  ✗'}" for i, w in zip(rows["id"], rows["within"],
                                                                  strict=True)])
    ax.set_xlabel("value relative to the published figure (1 = published)")
    ax.set_title(f"Calibration of {report.scenario}: simulated vs published")
    ax.legend(loc="lower right", fontsize="small")
    return fig
