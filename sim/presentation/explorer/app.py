"""The policy explorer's page, built with Panel: the same object serves ``microwork explore``
(a local web server) and ``sim.explore(scn)`` in a notebook.

Everything the page computes comes from :mod:`sim.presentation.explorer.model`; this module
only lays out widgets, reads them into a :class:`~sim.presentation.explorer.model.Request`,
runs the comparison in a background thread (whose runs go to the process pool of
:func:`sim.compare`) and shows the result. The Run callback is a coroutine that awaits the
thread, so the page stays responsive: Cancel sets the comparison's cancel hook, the progress
bar follows the runs, and the last result stays on the page until a new one replaces it.
Every widget carries a CSS class ``mw-<name>`` (the browser test finds them by it).
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import traceback
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import panel as pn

from sim.experiments.compare import Comparison
from sim.experiments.design import default_workers
from sim.foundation.errors import Cancelled, MicroworkError
from sim.presentation.explorer import model
from sim.presentation.figures.comparison import (
    latency_overlay,
    lorenz_overlay,
    profile_earnings,
    winners_losers,
)
from sim.presentation.figures.style import save_figure
from sim.scenario.allocation import RULE_PARAMS
from sim.scenario.schema import Scenario

LOG = logging.getLogger("sim.explorer")

FIGURES = (
    ("profile_earnings", "Earnings by profile", profile_earnings),
    ("lorenz", "Lorenz curves", lorenz_overlay),
    ("latency", "Claim latency", latency_overlay),
    ("winners", "Winners and losers", winners_losers),
)
"""The figures of a result: name, title and drawing function (of the figure registry's
modules)."""

CSS = """
.mw-error { color: #b00020; font-size: 0.9em; }
.mw-table table { border-collapse: collapse; font-size: 0.92em; }
.mw-table th, .mw-table td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }
.mw-table td:first-child, .mw-table th:first-child { text-align: left; }
.mw-table tr.significant td { font-weight: 600; }
"""


@dataclass
class View:
    """What a finished comparison shows, computed off the page's event loop."""

    comparison: Comparison
    table: str
    sentences: list[str]
    pictures: dict[str, bytes] = field(default_factory=dict)


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    save_figure(fig, buffer)
    return buffer.getvalue()


def build_view(comparison: Comparison, scenario: Scenario) -> View:
    """The table, the sentences and the figures of a comparison."""
    currency, profiles = scenario.currency, list(scenario.profiles)
    table = model.side_by_side(comparison, currency, profiles)
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    marked = ' class="significant"'
    rows = "".join(
        f'<tr{marked if row["Significant"] else ""}>'
        + "".join(f"<td>{escape(str(v))}</td>" for v in row.to_numpy()) + "</tr>"
        for _, row in table.iterrows())
    html = f'<table class="mw-result"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    pictures = {}
    for name, _, draw in FIGURES:
        fig = draw(comparison) if name in ("lorenz", "latency") else draw(comparison,
                                                                          currency=currency)
        pictures[name] = _png(fig)
    return View(comparison, html, model.largest_changes(comparison, currency, 3, profiles),
                pictures)


def _classes(name: str) -> list[str]:
    return [f"mw-{name}"]


class Explorer:
    """The page: scenario and settings, baseline and alternative, Run / Cancel, results and
    exports. ``layout`` is the Panel object to serve or display."""

    def __init__(self, scenario: str | Path | Scenario | None = None,
                 processes: int | None = None) -> None:
        pn.extension(raw_css=[CSS], notifications=False)
        self.processes = processes or default_workers()
        self.scenarios: dict[str, Scenario | Path] = dict(model.shipped_scenarios())
        first = model.load(scenario)
        if scenario is not None and first.name not in self.scenarios:
            self.scenarios = {first.name: first, **self.scenarios}
        elif scenario is not None:
            self.scenarios[first.name] = first
        self.scenario = first
        self._cancel: threading.Event | None = None
        self._done = (0, 1)
        self.view: View | None = None
        self.request: model.Request | None = None
        self._build()
        self._load_scenario(first)

    # ----------------------------------------------------------------------- widgets

    def _error_pane(self, key: str) -> pn.pane.HTML:
        pane = pn.pane.HTML("", visible=False, css_classes=["mw-error",
                                                             f"mw-error-{key.replace('.', '-')}"],
                            margin=(0, 10))
        self.errors[key] = pane
        return pane

    def _build(self) -> None:
        self.errors: dict[str, pn.pane.HTML] = {}
        self.pick = pn.widgets.Select(label="Scenario", options=list(self.scenarios),
                                      value=self.scenario.name, css_classes=_classes("scenario"))
        self.description = pn.pane.Markdown("", css_classes=_classes("description"))
        self.horizon = pn.widgets.TextInput(label="Horizon", value=model.DEFAULT_HORIZON,
                                            value_input=model.DEFAULT_HORIZON,
                                            css_classes=_classes("horizon"))
        self.workers = pn.widgets.TextInput(label="Workers", css_classes=_classes("workers"))
        self.replications = pn.widgets.IntInput(label="Paired replications",
                                                value=model.DEFAULT_REPLICATIONS, start=2,
                                                end=500, css_classes=_classes("replications"))
        self.seed = pn.widgets.IntInput(label="Seed", value=model.DEFAULT_SEED, start=0,
                                        css_classes=_classes("seed"))
        self.note = pn.pane.Markdown("", css_classes=_classes("note"))
        self.controls: dict[str, dict[str, Any]] = {}
        sides = []
        for side in model.SIDES:
            widgets: dict[str, Any] = {}
            column: list[Any] = [pn.pane.Markdown(f"### {side.capitalize()}")]
            target = pn.widgets.Select(label="Rules and levers of", options=[model.EVERY],
                                       css_classes=_classes(f"{side}-target"), visible=False)
            target.param.watch(lambda _e, s=side: self._target_changed(s), "value")
            widgets["target"] = target
            column += [target]
            for lever in model.LEVERS:
                cls = _classes(f"{side}-{lever.name}")
                if lever.kind == "rule":
                    widget = pn.widgets.Select(label=lever.label, options=list(RULE_PARAMS),
                                               css_classes=cls)
                elif lever.kind == "period":
                    widget = pn.widgets.Select(label=lever.label, options=list(model.PERIODS),
                                               css_classes=cls)
                else:
                    widget = pn.widgets.TextInput(label=lever.label, placeholder=lever.help,
                                                  css_classes=cls)
                widgets[lever.name] = widget
                column += [widget, self._error_pane(f"{side}.{lever.name}")]
            for name, switch in model.SWITCHES.items():
                widget = pn.widgets.Checkbox(label=switch.label,
                                             css_classes=_classes(f"{side}-{name}"))
                widgets[name] = widget
                column += [widget, self._error_pane(f"{side}.{name}")]
            widgets["rule"].param.watch(lambda _e, s=side: self._rule_changed(s), "value")
            for widget in widgets.values():
                widget.param.watch(lambda _e: self._validate(), "value")
            self.controls[side] = widgets
            sides.append(pn.Column(*column, width=320))
        self.pick.param.watch(self._scenario_picked, "value")
        for widget in (self.horizon, self.workers, self.replications):
            widget.param.watch(lambda _e: self._validate(), "value")
        self.run_button = pn.widgets.Button(label="Run", color="primary",
                                            css_classes=_classes("run"), width=120)
        self.cancel_button = pn.widgets.Button(label="Cancel", disabled=True,
                                               css_classes=_classes("cancel"), width=120)
        self.run_button.on_click(self._run)
        self.cancel_button.on_click(self._cancel_clicked)
        self.progress = pn.indicators.Progress(value=0, max=1, visible=False, width=300,
                                               css_classes=_classes("progress"))
        self.status = pn.pane.Markdown("Press Run to compare the baseline with the "
                                       "alternative.", css_classes=_classes("status"))
        self.general_error = self._error_pane("general")
        self.table = pn.pane.HTML("", css_classes=_classes("table"))
        self.sentences = pn.pane.Markdown("", css_classes=_classes("sentences"))
        self.pictures = {name: pn.pane.PNG(None, width=560, css_classes=_classes(f"fig-{name}"))
                         for name, _, _ in FIGURES}
        self.download_zip = pn.widgets.FileDownload(
            callback=self._zip, filename="explore-compare.zip", label="Result folder (zip)",
            disabled=True, css_classes=_classes("download-zip"), embed=False, width=220)
        self.download_html = pn.widgets.FileDownload(
            callback=self._html, filename="explore-report.html", label="HTML report",
            disabled=True, css_classes=_classes("download-html"), embed=False, width=220)
        settings = pn.Column(
            pn.pane.Markdown("## microwork policy explorer"), self.pick, self.description,
            pn.Row(pn.Column(self.horizon, self._error_pane("horizon")),
                   pn.Column(self.workers, self._error_pane("workers"))),
            pn.Row(self.replications, self.seed), self.note, width=680)
        figures = pn.GridBox(*[pn.Column(pn.pane.Markdown(f"#### {title}"), self.pictures[name])
                               for name, title, _ in FIGURES], ncols=2)
        self.layout = pn.Column(
            settings, pn.Row(*sides),
            pn.Row(self.run_button, self.cancel_button, self.progress),
            self.status, self.general_error, self.sentences, self.table, figures,
            pn.Row(self.download_zip, self.download_html), css_classes=_classes("page"))

    # ----------------------------------------------------------------------- reading

    def read(self) -> model.Request:
        """The settings on the page as a Request (text fields as typed, even before Enter)."""

        def value(widget: Any) -> Any:
            if isinstance(widget, pn.widgets.TextInput):  # typed, even before Enter
                return widget.value_input if widget.value_input is not None else widget.value
            return widget.value

        sides = {side: {name: value(w) for name, w in widgets.items() if w.visible}
                 for side, widgets in self.controls.items()}
        return model.Request(self.scenario, horizon=value(self.horizon),
                             workers=value(self.workers), replications=self.replications.value,
                             seed=self.seed.value, processes=self.processes, sides=sides)

    def _scenario_picked(self, event: Any) -> None:
        chosen = self.scenarios[event.new]
        self._load_scenario(chosen if isinstance(chosen, Scenario) else model.load(chosen))

    def _load_scenario(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.scenarios[scenario.name] = scenario
        self.description.object = model.describe(scenario)
        self._set(self.workers, str(scenario.workers))
        used = set(model.switches_of(scenario))
        defaults = model.side_defaults(scenario)
        targets = model.targets_of(scenario)
        for widgets in self.controls.values():
            widgets["target"].options = targets
            widgets["target"].visible = len(targets) > 1
            for name, widget in widgets.items():
                self._set(widget, defaults[name])
                if name in model.SWITCHES:
                    widget.visible = name in used
        self._validate()

    def _target_changed(self, side: str) -> None:
        """A side's levers now apply to another platform: show that platform's settings."""
        widgets = self.controls[side]
        defaults = model.side_defaults(self.scenario, widgets["target"].value)
        for lever in model.LEVERS:
            self._set(widgets[lever.name], defaults[lever.name])

    @staticmethod
    def _set(widget: Any, value: Any) -> None:
        """Set a widget's value from the program (a text field's typed value too)."""
        widget.value = value
        if isinstance(widget, pn.widgets.TextInput):
            widget.value_input = value

    def _rule_changed(self, side: str) -> None:
        rule = self.controls[side]["rule"].value
        self.controls[side]["window"].disabled = rule not in model.WINDOW_RULES
        self.controls[side]["period"].disabled = rule != "least_earned"

    def _validate(self) -> dict[str, str]:
        """Check the settings, show each error next to its field, update the time note."""
        request = self.read()
        base, _, errors = model.check(request)
        for key, pane in self.errors.items():
            pane.object = errors.get(key, "")
            pane.visible = key in errors
        if not errors:
            seconds = model.estimate_seconds(base, request.replications, self.processes)
            self.note.object = (
                f"{base.workers:,} workers over {base.horizon / 86400:g} days, "
                f"{request.replications} paired replications of 2 variants on "
                f"{self.processes} processes: {model.seconds_text(seconds)} per comparison.")
        self.run_button.disabled = bool(errors) or self._cancel is not None
        return errors

    # ----------------------------------------------------------------------- running

    def _on_progress(self, done: int, total: int) -> None:
        self._done = (done, total)

    def _cancel_clicked(self, _event: Any = None) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.status.object = "Cancelling: the runs in flight finish first ..."
            self.cancel_button.disabled = True

    async def _run(self, _event: Any = None) -> None:
        if self._validate() or self._cancel is not None:
            return
        request = self.read()
        cancel = self._cancel = threading.Event()
        total = 2 * request.replications
        self._done = (0, total)
        self.progress.max, self.progress.value, self.progress.visible = total, 0, True
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self.status.object = f"Running {total} runs ..."
        scenario = self.scenario

        def work() -> View:
            comparison = model.run(request, self._on_progress, cancel.is_set)
            return build_view(comparison, scenario)

        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, work)
        try:
            while not future.done():
                await asyncio.wait({future}, timeout=0.25)
                self.progress.value = min(self._done[0], total)
                if not cancel.is_set():
                    self.status.object = f"Running: {self._done[0]} of {total} runs done ..."
            view = future.result()
        except Cancelled:
            self.status.object = ("Cancelled. " + ("The last result is still shown."
                                                   if self.view else ""))
        except MicroworkError as exc:
            self.status.object = f"**Error:** {exc}"
        except Exception as exc:  # a crash shows a message, never a traceback page
            LOG.error("explorer run failed:\n%s", traceback.format_exc())
            self.status.object = (f"**The run failed** ({type(exc).__name__}: {exc}). "
                                  "Nothing was changed; the details are in the server log.")
        else:
            self._show(view, request)
        finally:
            self._cancel = None
            self.progress.visible = False
            self.cancel_button.disabled = True
            self.run_button.disabled = bool(self._validate())

    def _show(self, view: View, request: model.Request) -> None:
        self.view, self.request = view, request
        cmp = view.comparison
        seconds = cmp.stats.get("wall_time", 0.0)
        self.status.object = (f"Done: {len(cmp.runs)} runs in {seconds:.1f} s "
                              f"(seed {request.seed}).")
        self.sentences.object = ("\n".join(f"- {s}" for s in view.sentences)
                                 or "No significant change of the headline metrics.")
        self.table.object = view.table
        for name, png in view.pictures.items():
            self.pictures[name].object = png
        self.download_zip.disabled = self.download_html.disabled = False

    # ----------------------------------------------------------------------- exports

    def _extra(self) -> dict[str, Any]:
        assert self.view is not None and self.request is not None
        _, sides, _ = model.check(self.request)
        return model.manifest_extra(self.request, sides)

    def _zip(self) -> io.BytesIO:
        if self.view is None:
            return io.BytesIO()
        return io.BytesIO(model.result_zip(self.view.comparison, currency=self.scenario.currency,
                                           extra=self._extra()))

    def _html(self) -> io.BytesIO:
        if self.view is None:
            return io.BytesIO()
        return io.BytesIO(model.report_html(self.view.comparison, self.scenario.currency,
                                            self._extra()).encode())


def explore(scenario: str | Path | Scenario | None = None, processes: int | None = None
            ) -> pn.viewable.Viewable:
    """The policy explorer for a notebook: ``sim.explore(scn)`` displays the page in the cell
    (Panel renders in Jupyter). ``scenario``: a Scenario, a file, a shipped scenario's name or
    None for the baseline."""
    return Explorer(scenario, processes).layout


def serve(scenario: str | Path | Scenario | None = None, port: int = 5006,
          host: str = "127.0.0.1", processes: int | None = None, show: bool = False,
          started: Any = None) -> None:
    """Serve the page at ``http://host:port/`` until interrupted (each browser session gets
    its own page); ``started(url)`` is called once the server listens."""
    model.load(scenario)  # a bad scenario fails here, before the server starts
    origins = [f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    server = pn.serve({"/": lambda: Explorer(scenario, processes).layout}, port=port,
                      address=host, show=show, start=False, title="microwork policy explorer",
                      websocket_origin=origins, verbose=False)
    server.start()
    url = f"http://{host}:{server.port}/"
    if started is not None:
        started(url)
    try:
        server.io_loop.start()
    finally:
        server.stop()
