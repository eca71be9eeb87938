"""Data shipped with the package: ``targets.csv``, the published figures calibrated scenarios
are compared with (the repository's ``calibration/targets.csv`` is the same file, documented
there; a test checks they are equal)."""
