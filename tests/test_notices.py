"""Notifications show their text as written: never markup, never terminal escapes,
whoever raises them (a widget's notify asks Textual for markup by default)."""

from __future__ import annotations

from textual.widgets._toast import Toast

from tests.support.console import until
from tests.support.demoapp import demo_app, settle


async def toast_text(app, pilot) -> str:
    """The toasts' text once they are on the screen (they mount a moment later)."""
    await until(pilot, "a toast shown", lambda: bool(app.screen.query(Toast)))
    return "\n".join(str(t.render()) for t in app.screen.query(Toast))


async def test_the_no_runbook_message_names_its_key_whole():
    """Found walking the devstack at 80x24: b said "No runbook is configured ( paths)."
    (the markup parser ate "[runbooks]", and the key is dirs)."""
    app = demo_app(at=90, extra=lambda data: data["runbooks"].update(dirs=[]))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("1", "b")
        await pilot.pause()
        assert app._notifications, "b said nothing"
        message = list(app._notifications)[-1].message
        assert message == "No runbook is configured ([runbooks] dirs)."
        assert "[runbooks] dirs" in await toast_text(app, pilot)


async def test_remote_text_in_a_notification_is_shown_as_written():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        hostile = "INC-[b]9[/b] [link=http://x]y[/link] \x1b[31mred\x1b]0;title\x07"
        app.screen.notify(hostile, title="[i]src[/i]")  # a widget's notify: markup=True
        await pilot.pause()
        note = list(app._notifications)[-1]
        assert note.message == "INC-[b]9[/b] [link=http://x]y[/link] red"
        assert note.title == "[i]src[/i]"
        assert not note.markup
        assert "INC-[b]9[/b] [link=http://x]y[/link] red" in await toast_text(app, pilot)
