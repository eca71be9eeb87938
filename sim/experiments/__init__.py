"""Experiments: many runs and what they say together.

Executors, paired comparisons, sweeps, sensitivity analyses, calibration reports and fitting.
Imports the layers below; reaches presentation only through ``sim.presentation.accessors``.
"""
