"""Notifications are plain text. A base of :class:`~oncall_console.ui.app.OncallApp`.

Textual parses a notification's message as content markup unless told not to, and
every widget's ``notify`` asks for markup by default: "No runbook is configured
([runbooks] dirs)." lost its ``[runbooks]``, and a message quoting a remote name (an
incident id from a source, an alert's text) could restyle or hide what it says. The
app's ``notify``, where every notification ends, shows message and title as written,
without terminal escapes or controls.
"""

from __future__ import annotations

from textual.app import App
from textual.notifications import SeverityLevel

from oncall_console.text import clean


class PlainNotices(App[None]):
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,  # ignored: never markup
    ) -> None:
        super().notify(
            clean(message, limit=1000, single_line=False),
            title=clean(title, limit=200),
            severity=severity,
            timeout=timeout,
            markup=False,
        )
