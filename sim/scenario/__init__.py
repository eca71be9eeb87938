"""Scenario: what a market is, as a user writes it.

The validated schema and its distributions, the allocation rules' names and parameters,
dotted paths, loading and overriding, safe YAML reading, run-size estimates and the generated
reference. Imports :mod:`sim.analysis` (measure names) and :mod:`sim.foundation`.
"""
