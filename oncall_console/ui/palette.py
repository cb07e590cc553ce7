"""The command palette's dashboard commands: every command with its key, every action
findable by the words of its title ("roll" finds the rollback), each runbook, each
theme. ``OncallApp.get_system_commands`` yields them on the dashboard (``app`` is the
OncallApp, ``dash`` its Dashboard: not imported here, the app imports this module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual.app import SystemCommand

from oncall_console.ui.messages import RunAction


def dashboard_commands(app: Any, dash: Any) -> Iterator[SystemCommand]:
    """The palette: every command with its key, actions findable by the words of
    their titles ("roll" finds the rollback)."""
    yield SystemCommand(
        "Refresh now  (r)", "Poll every check, SLI and alert source", dash.action_refresh
    )
    yield SystemCommand(
        "Detail  (d / enter)", "Everything known about the selected row", dash.action_detail
    )
    yield SystemCommand(
        "Runbook  (b)", "The runbook of the selected row, or a picker", dash.action_runbook
    )
    yield SystemCommand("Handoff  (h)", "The shift handoff report", dash.action_handoff)
    yield SystemCommand("Keys  (?)", "Every key, this screen's first", app.action_help)
    yield from (SystemCommand(*command) for command in dash.palette_commands())
    for moment, key in (("start", "S"), ("end", "E")):
        yield SystemCommand(
            f"{moment.title()}-of-shift checklist  ({key})",
            f"Walk today's {moment}-of-shift runbook",
            lambda m=moment: dash.action_shift(m),
        )
    if not app.oncall.settings.read_only:
        yield SystemCommand(
            "Run an action  (a)", "The actions of the selected row", dash.action_actions
        )
    for backend, spec in app.oncall.actions_for():
        yield SystemCommand(
            f"Action: {spec.title}  ({backend}.{spec.id})",
            f"{spec.title}: on the selected check when it is this backend's, else asked for",
            lambda b=backend, sp=spec: palette_action(app, dash, b, sp),
        )
    for rb in app.oncall.runbooks.library.all():
        yield SystemCommand(
            f"Runbook: {rb.title}",
            f"Walk {rb.id} (progress saved for this shift)",
            lambda rb=rb: app._open_runbook(rb),
        )
    for name in app.theme_order:
        yield SystemCommand(
            f"Theme: {name}  (ctrl+t: next)",
            "Switch the colour theme",
            lambda n=name: setattr(app, "theme", n),
        )


def palette_action(app: Any, dash: Any, backend: str, spec: Any) -> None:
    """An action picked in the palette: on the selected check when that check is this
    backend's (its name fills a name target), else the form asks for the target."""
    kind, row = dash.selection()
    values: dict[str, Any] = {}
    subject, about = f"{backend}.{spec.id}", ""
    if kind == "check" and row.spec.backend == backend:
        target = next((p for p in spec.params if p.name == spec.target_param), None)
        if target is not None and target.kind == "name":
            values[spec.target_param] = str(
                getattr(row.spec.params, "target", None) or row.spec.name
            )
        subject, about = row.spec.label, row.spec.name
    app.post_message(RunAction(subject, backend=backend, spec=spec, values=values, about=about))
