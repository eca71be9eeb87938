"""Results: from the core's records to tables, and from tables to folders.

``sim.run``, the tidy tables, :class:`~sim.results.run_result.RunResult`, atomic storage and
provenance, invariants, and the run dataset (the one resumable store). Imports the layers
below; reaches presentation only through ``sim.presentation.accessors``.
"""
