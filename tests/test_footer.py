"""The key line under a dialog (ui/widgets/footer.py): quiet while its screen is
underneath, current again when the screen is back on top. Under a modal screen
Textual repaints every cell for any change of the screen beneath: the dashboard's
footer, composed again for each binding update, made opening the actions dialog send
four whole screens down the link where two carry it (~110 -> ~58 KB at 120x40)."""

from __future__ import annotations

from oncall_console.ui.screens.actions import ActionPicker
from oncall_console.ui.widgets.footer import Footer
from tests.support.demoapp import demo_app, settle


async def test_the_footer_underneath_a_dialog_waits_and_catches_up_when_back_on_top():
    app = demo_app(at=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        footer = app.screen.query_one(Footer)
        composed: list[str] = []
        recompose = footer.recompose

        async def counting() -> None:
            composed.append(type(app.screen).__name__)
            await recompose()

        footer.recompose = counting  # type: ignore[method-assign]
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ActionPicker)
        app.dashboard.refresh_bindings()  # a change beneath: the engine, a focus
        for _ in range(3):
            await pilot.pause()
        assert composed == []  # nothing beneath the dialog was composed again
        await pilot.press("escape")
        for _ in range(3):
            await pilot.pause()
        assert app.screen is app.dashboard
        assert composed and set(composed) == {"Dashboard"}  # once back on top
        keys = {k.key_display for k in footer.query("FooterKey")}
        assert "q" in keys and "a" in keys
