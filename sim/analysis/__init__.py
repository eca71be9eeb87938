"""Analysis: pure table math with numpy, pandas and scipy only.

Headline metrics, calibration measures and queueing formulas: functions of result tables and
numbers, no simulation, no files, no plots. Imports only :mod:`sim.foundation`.
"""
