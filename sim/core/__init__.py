"""Core: the SimPy engine, and nothing else.

Population, demand, the platform, allocation rules' behaviour, discovery engines and the run
loop. No I/O and no tables: :func:`sim.core.engine.simulate` returns plain records. Imports
:mod:`sim.scenario` and :mod:`sim.foundation`.
"""
