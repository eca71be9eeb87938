"""Progress bars for long runs, fed by ``sim.run``'s progress callback.

Kept out of the model core: ``sim.run`` only calls a callback with the fraction of the
horizon simulated; this bar turns that into a tqdm bar (a widget in Jupyter, text elsewhere).
"""

from __future__ import annotations

import sys

from tqdm import tqdm as text_tqdm
from tqdm.auto import tqdm as auto_tqdm


class HorizonProgress:
    """A bar over the simulated horizon that appears only when a run lasts over ``delay`` s."""

    def __init__(self, label: str, disable: bool = False, delay: float = 1.0,
                 notebook: bool = True) -> None:
        bar = auto_tqdm if notebook else text_tqdm
        self.bar = bar(
            total=100,
            desc=label,
            unit="%",
            delay=delay,
            disable=disable,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
            file=sys.stderr,
        )

    def __call__(self, fraction: float) -> None:
        done = min(100, round(100 * fraction))
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        """Finish the bar."""
        self.bar.close()
