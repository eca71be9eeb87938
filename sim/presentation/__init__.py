"""Presentation: what people read and look at.

Text tables, figures, the HTML report and the accessors behind ``.plot`` and ``_repr_html_``.
May import every layer below it; nothing below imports it except through
:mod:`sim.presentation.accessors`.
"""
