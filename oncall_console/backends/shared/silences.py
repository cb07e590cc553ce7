"""The silence actions as every backend with silences declares them (Alertmanager's and
the demo's): one definition, so the alerts panel's ``z`` / ``X`` fill the same
parameters (``matchers``, ``duration``, ``comment``; ``silence_id``) wherever they act."""

from __future__ import annotations

from oncall_console.model import Confirm, ParamSpec
from oncall_console.model.actions import ActionSpec


def silence_specs(matchers_help: str, silence_id_help: str) -> list[ActionSpec]:
    """``silence`` and ``expire-silence``; the help texts say what this backend accepts."""
    return [
        ActionSpec(
            id="silence",
            title="Silence alerts matching label matchers",
            params=(
                ParamSpec("matchers", "str", help=matchers_help),
                ParamSpec(
                    "duration", "str", help="How long, e.g. 30m, 2h", required=False, default="1h"
                ),
                ParamSpec("comment", "str", help="Why (shown to everyone who sees the silence)"),
            ),
            target_param="matchers",
            confirm=Confirm.YES_NO,
        ),
        ActionSpec(
            id="expire-silence",
            title="Expire a silence now",
            params=(ParamSpec("silence_id", "str", help=silence_id_help),),
            target_param="silence_id",
            confirm=Confirm.YES_NO,
        ),
    ]
