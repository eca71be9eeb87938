"""``python -m sim.cli``: the ``microwork`` command."""

from sim.cli import main

raise SystemExit(main())
