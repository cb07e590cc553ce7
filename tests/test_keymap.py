"""`[keys]` is validated against the console's own bindings (issue #15, points 5 and 8):
an unknown id, a remap naming no key, and a key that another binding of the same screen
already has are refused, each naming the binding id; the built-in keys are not."""

from __future__ import annotations

from oncall_console.ui.keymap import check, keys_of, places


def test_every_screen_and_the_app_wide_keys_are_known():
    where = places()
    assert where["Dashboard"]["refresh"] == ("r",)
    assert where["Dashboard"]["quit"] == ("q",)  # the app's own keys act on every screen
    assert where["IncidentScreen"]["quit"] == ("q",)
    assert "table.down" in where["KeyedTable (focused)"]


def test_a_remap_onto_another_bindings_key_is_a_clash_named_with_both_ids():
    found = dict(check({"quit": "r"}))
    assert list(found) == ["quit"]
    assert "'r' is already the key of 'refresh' on Dashboard" in found["quit"]
    # the same key for two ids on one screen, both remapped
    found = dict(check({"handoff": "x", "worst": "x"}))
    assert "'x' is already the key of" in found["handoff"] + found.get("worst", "")


def test_a_swap_and_a_key_nobody_has_are_fine():
    found = dict(check({"quit": "r", "refresh": "q"}))
    assert "refresh" not in found  # q was quit's, and quit has moved away
    assert "is already the key of" in found["quit"]  # r is still taken on other screens
    assert (
        "'runbook.diagnose' on RunbookScreen"
        in dict(check({"quit": "r", "refresh": "q", "rules.reload": "f5"}))["quit"]
    )
    assert check({"quit": "r", "refresh": "q", "runbook.diagnose": "R", "rules.reload": "f5"}) == []
    assert check({"refresh": "f5", "quit": "ctrl+c"}) == []


def test_the_example_keys_and_the_defaults_are_no_clash():
    assert check({"quit": "q", "refresh": "r"}) == []  # their own keys: the console's design
    assert check({}) == []


def test_an_unknown_id_suggests_the_close_one_and_an_empty_remap_is_refused():
    found = dict(check({"refres": "f5", "theme": " , "}))
    assert found["refres"].startswith("no binding has this id (did you mean 'refresh'?)")
    assert "names no key" in found["theme"]


def test_keys_are_compared_by_textuals_names():
    assert keys_of("ctrl+q, ?") == ("ctrl+q", "question_mark")
    found = dict(check({"refresh": "?"}))  # ? is help's key on every screen
    assert "'question_mark' is already the key of 'help'" in found["refresh"]


def test_q_is_one_key_under_two_labels_and_moves_as_one():
    """q reads "Quit" on the dashboard and "Back" on a sub-screen (two bindings, one
    key): remapping quit moves back too, and a clash names quit, not its alias."""
    from oncall_console.ui.keymap import expand

    assert expand({"quit": "f10"}) == {"quit": "f10", "back": "f10"}
    assert expand({"quit": "x", "back": "b"})["back"] == "b"
    assert check({"quit": "f10"}) == []
    found = dict(check({"refresh": "q"}))
    assert list(found) == ["refresh"] and "the key of 'quit'" in found["refresh"]


async def test_the_footer_says_back_on_a_sub_screen_and_quit_on_the_dashboard():
    from tests.support.demoapp import demo_app

    app = demo_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()

        def q_label() -> str:
            return app.screen.active_bindings["q"].binding.description

        assert q_label() == "Quit"
        await pilot.press("Z")  # the silences screen
        await pilot.pause()
        assert q_label() == "Back"
        await pilot.press("q")
        await pilot.pause()
        assert app.screen is app.main_screen and q_label() == "Quit"
