"""The one action flow of the UI: pick → params → preview → confirm → run → result.

Every screen starts it the same way, by posting :class:`~oncall_console.ui.messages.RunAction`;
the app runs :func:`run_action_flow` in one exclusive worker, so two flows never
overlap. What the dialogs show comes from the engine's plan (``OnCall.prepare``): the
preview, whether the target's name must be typed, who holds the lock. The flow decides
no policy of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oncall_console.engine.api import ActionPlan, ActionRefused
from oncall_console.model import ActionResult, Outcome
from oncall_console.ui.messages import ActionFinished, RunAction, oncall_of
from oncall_console.ui.render import notify_error
from oncall_console.ui.screens.actions import ActionPicker, ConfirmAction, ParamsForm, result_text

if TYPE_CHECKING:
    from textual.app import App


async def run_action_flow(app: App[Any], ask: RunAction) -> ActionResult | None:
    """Carry ``ask`` through to a result (None when cancelled or refused), tell the
    operator, tick the runbook step it came from, and answer ``ask.reply_to``."""
    result = await _flow(app, ask)
    if result is not None:
        ok = result.outcome is Outcome.SUCCEEDED
        app.notify(
            result_text(result).plain,
            title=f"{result.request.action} · {ask.subject}",
            severity="information" if ok else "error",
            timeout=10,
        )
        if ok and ask.step is not None:
            step = ask.step
            progress = await oncall_of(app).runbooks.progress(step.runbook, step.scope)
            if not (progress.get(step.step) and progress[step.step].done):
                await oncall_of(app).runbooks.mark(step.runbook, step.scope, step.step, True)
    if ask.reply_to is not None and ask.reply_to.is_attached:
        ask.reply_to.post_message(ActionFinished(result, ask.scope))
    sync = getattr(app, "sync_now", None)
    if sync is not None:
        sync()
    return result


async def _flow(app: App[Any], ask: RunAction) -> ActionResult | None:
    oncall = oncall_of(app)
    backend, spec, values = ask.backend, ask.spec, dict(ask.values)
    if spec is None:
        if not ask.choices:
            app.notify(f"No actions for {ask.subject}.", severity="warning")
            return None
        picked = await app.push_screen_wait(ActionPicker(ask.subject, ask.choices))
        if picked is None:
            return None
        backend, spec = picked
        # The subject's own name fills the target only when the target is a name (a
        # service, a deployment); every other parameter is asked for.
        target = next((p for p in spec.params if p.name == spec.target_param), None)
        if target is not None and target.kind == "name" and ask.values.get("target_name"):
            values = {spec.target_param: ask.values["target_name"]}
        else:
            values = {}

    async def check(filled: dict[str, Any]) -> ActionPlan:
        """The form's values through the engine's policy: a plan, or ActionRefused
        naming the field at fault (the form stays open and shows it there)."""
        return await oncall.prepare(oncall.request(backend, spec.id, filled), about=ask.about)

    plan: ActionPlan | None
    if ask.ask or any(p.name not in values for p in spec.params):
        plan = await app.push_screen_wait(
            ParamsForm(
                spec,
                values,
                subject=ask.subject,
                check=check,
                focus_first=next((n for n in ask.ask if n not in values), ""),
            )
        )
        if plan is None:
            return None
    else:
        try:
            plan = await check(values)
        except ActionRefused as exc:
            notify_error(app, "Refused", exc)
            return None
    answer = await app.push_screen_wait(
        ConfirmAction(
            plan,
            subject=ask.subject,
            live=lambda: oncall.live_state(plan),
            repreview=lambda: oncall.repreview(plan),
        )
    )
    if answer is None:
        app.notify("Cancelled: nothing was done.", timeout=3)
        return None
    # Run inside the incident's scope (when there is one): the timeline records it.
    result = await oncall.execute(plan, answer, scope=ask.scope, subject=ask.subject)
    if result.outcome is Outcome.SUCCEEDED and plan.watch:
        minutes = max(1, round((plan.watch_for or 300) / 60))
        app.notify(
            f"Verifying: following {', '.join(plan.watch)} for up to {minutes} min; the bar "
            "at the bottom says how it goes, on every screen.",
            title="Verification",
            timeout=8,
        )
    return result
