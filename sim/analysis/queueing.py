"""Textbook queueing formulas used as test oracles for degenerate scenarios.

Pure functions, no simulation: the tests build scenarios that reduce to these systems and
compare what the simulator measures with what the formulas say.

* **M/M/c** (``erlang_c``, ``mmc_mean_wait``): Poisson arrivals at rate λ, ``c`` identical
  servers with exponential service at rate μ, one first-come-first-served queue. In microwork
  terms: always-online identical workers who react instantly to every release and to the
  end of their own task, exponential effort, single-task batches.
* **Race of exponential clocks** (``race_win_shares``, ``race_latency_mean``): under
  first-come-first-served with memoryless discovery (each idle worker refreshes at the epochs
  of a Poisson process of rate r_i), a task released while every worker is idle goes to the
  worker whose clock rings first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


def erlang_b(c: int, offered_load: float) -> float:
    """Erlang B blocking probability of an M/M/c/c system with offered load ``a = λ/μ``.

    Computed with the stable recursion ``B(0) = 1``, ``B(k) = a·B(k-1) / (k + a·B(k-1))``.
    """
    if c < 0 or offered_load < 0:
        raise ValueError(f"need c >= 0 and offered_load >= 0, got c={c}, a={offered_load}")
    b = 1.0
    for k in range(1, int(c) + 1):
        b = offered_load * b / (k + offered_load * b)
    return b


def erlang_c(c: int, offered_load: float) -> float:
    """Probability that an arrival has to wait in an M/M/c queue (Erlang C formula).

    With offered load ``a = λ/μ`` (in Erlangs) and utilisation ``rho = a/c < 1``::

        C(c, a) = (a^c / c!) · c/(c - a)  /  ( Σ_{k=0}^{c-1} a^k/k!  +  (a^c/c!) · c/(c - a) )

    evaluated through Erlang B for numerical stability: ``C = B / (1 - rho·(1 - B))``.
    Raises ``ValueError`` when the queue is unstable (``a >= c``).
    """
    if c < 1:
        raise ValueError(f"need at least one server, got c={c}")
    if not 0 <= offered_load < c:
        raise ValueError(f"unstable or invalid queue: offered load {offered_load} with c={c}")
    b = erlang_b(c, offered_load)
    rho = offered_load / c
    return b / (1 - rho * (1 - b))


def mmc_mean_wait(arrival_rate: float, service_rate: float, c: int) -> float:
    """Mean time in queue ``W_q`` of an M/M/c queue (before service starts).

    ``W_q = C(c, a) / (c·μ - λ)`` with ``a = λ/μ``; in microwork terms the mean claim latency
    when workers react instantly. Units follow the rates (per second → seconds).
    """
    if arrival_rate < 0 or service_rate <= 0:
        raise ValueError(f"need λ >= 0 and μ > 0, got λ={arrival_rate}, μ={service_rate}")
    load = arrival_rate / service_rate
    return erlang_c(c, load) / (c * service_rate - arrival_rate)


def mmc_wait_survival(t: float, arrival_rate: float, service_rate: float, c: int) -> float:
    """``P(W_q > t)`` of an M/M/c queue: ``C(c, a) · exp(-(c·μ - λ)·t)`` for ``t >= 0``."""
    load = arrival_rate / service_rate
    return erlang_c(c, load) * math.exp(-(c * service_rate - arrival_rate) * t)


def race_win_shares(rates: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    """Probability that each competitor wins a race of independent exponential clocks.

    With clock rates ``r_i`` (e.g. refreshes per second of each idle worker), the first to ring
    is ``i`` with probability ``r_i / Σ_j r_j``. Group shares follow by summing: a profile of
    ``n`` workers refreshing at rate ``r`` wins ``n·r / Σ`` of the tasks.
    """
    r = np.asarray(rates, dtype=float)
    if r.ndim != 1 or len(r) == 0 or np.any(r < 0) or r.sum() <= 0:
        raise ValueError(f"need a non-empty list of non-negative rates with a positive sum: {r}")
    return r / r.sum()


def race_latency_mean(rates: Sequence[float] | NDArray[np.float64]) -> float:
    """Mean time to the first ring of independent exponential clocks: ``1 / Σ r_i``.

    The minimum of independent ``Exponential(r_i)`` variables is ``Exponential(Σ r_i)``, so
    under memoryless discovery the claim latency of a task released while everyone is idle is
    exponential with the summed refresh rate (also its standard deviation).
    """
    r = np.asarray(rates, dtype=float)
    if r.ndim != 1 or len(r) == 0 or np.any(r < 0) or r.sum() <= 0:
        raise ValueError(f"need a non-empty list of non-negative rates with a positive sum: {r}")
    return float(1.0 / r.sum())
