"""Presentation: what people read and look at.

- :mod:`~sim.presentation.content`: the tables and sections of every kind of result, as
  formatted strings (labels, units and values from :mod:`sim.analysis.catalogue`);
- :mod:`~sim.presentation.text`: those tables laid out for the terminal, and a scenario in
  words;
- :mod:`~sim.presentation.html`: the same as HTML, from the Jinja2 templates of
  ``templates/`` (notebook displays and the self-contained report page);
- :mod:`~sim.presentation.folders`: result folders read back for the report page;
- :mod:`~sim.presentation.figures`: the figures, one module per subject, and the registry of
  the standard figures of each kind of result;
- :mod:`~sim.presentation.accessors`: the ``.plot`` and ``_repr_html_`` accessors.

May import every layer below it; nothing below imports it except through
:mod:`sim.presentation.accessors`.
"""
