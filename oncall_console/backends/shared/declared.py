"""Actions declared in config: the ``http`` backend's webhooks, the ``shell`` backend's commands.

Both plugins let a team declare actions in TOML, each with an id, a title, typed
parameters (:class:`~oncall_console.backends.shared.params.ParamDecl`), the
parameter that names its target and whether it is dangerous. This module is the
one way such a declaration becomes what the engine sees:

- :func:`check_ids` and :func:`check_declarations` refuse a bad declaration when
  config is loaded (call them from the options model's validators);
- :func:`declared_action` is the ``ActionSpec`` a backend's ``actions()`` lists;
- :func:`declared_values` finds the declaration a request names and gives the typed
  value of each parameter, or raises ``ActionInvalid`` (which ``preview`` lets out,
  so the runner refuses the request before any confirmation).

An action with no declared parameters acts on one fixed thing: it gets a one-choice
``target`` parameter named after the action, so locks and type-to-confirm name it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from oncall_console.backends.shared.params import PARAM_NAME, ParamDecl, Value, check_value
from oncall_console.model import ActionInvalid, ActionSpec, Confirm, ParamSpec

ACTION_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


class Declared(Protocol):
    """What a declared action has (a ``WebhookSpec``, a ``CommandSpec``)."""

    title: str
    params: dict[str, ParamDecl]
    target: str | None
    dangerous: bool


D = TypeVar("D", bound=Declared)
M = TypeVar("M", bound=Mapping[str, Any])


def check_ids(what: str, declared: M) -> M:
    """The ids of the declared actions (``what``: "webhook", "command"): ValueError if one
    is not lowercase letters, digits and '-'."""
    for key in declared:
        if not ACTION_ID.match(key):
            raise ValueError(
                f"{what} id {key!r}: lowercase letters, digits and '-', starting with a letter"
            )
    return declared


def check_declarations(params: Mapping[str, ParamDecl], target: str | None) -> None:
    """Parameter names and the target: ValueError naming what is wrong."""
    for pname in params:
        if not PARAM_NAME.match(pname):
            raise ValueError(
                f"parameter name {pname!r}: lowercase letters, digits and '_', "
                "starting with a letter"
            )
    if params and not target:
        raise ValueError(
            f"target is required when there are parameters: which of {', '.join(params)} "
            "names what is changed?"
        )
    if target and target not in params:
        known = ", ".join(params) or "none declared"
        raise ValueError(f"target {target!r} is not a declared parameter ({known})")


def action_params(
    params: Mapping[str, ParamDecl], target: str | None, fallback: str
) -> tuple[tuple[ParamSpec, ...], str]:
    """The ActionSpec's params and target parameter.

    With no declared parameters, the action acts on one fixed thing: a ``target``
    choice of that one value (``fallback``), so locks and type-to-confirm name it.
    """
    if params:
        return tuple(d.spec(n) for n, d in params.items()), str(target)
    only = ParamSpec(
        "target",
        "choice",
        help="What this action acts on",
        required=False,
        default=fallback,
        choices=(fallback,),
    )
    return (only,), "target"


def declared_action(
    key: str, decl: Declared, *, default_title: str, read_only: bool = False
) -> ActionSpec:
    """The ActionSpec of the action declared as ``key``; ``read_only``: a diagnostic."""
    specs, target_param = action_params(decl.params, decl.target, key)
    return ActionSpec(
        id=key,
        title=decl.title or default_title,
        params=specs,
        target_param=target_param,
        dangerous=decl.dangerous,
        confirm=Confirm.TYPE_TARGET if decl.dangerous else Confirm.YES_NO,
        read_only=read_only,
    )


def declared_values(
    declared: Mapping[str, D], key: str, given: Mapping[str, Any], *, what: str, backend: str
) -> tuple[D, dict[str, Value]]:
    """The declaration a request names and its typed values: ActionInvalid when unusable."""
    decl = declared.get(key)
    if decl is None:
        known = ", ".join(declared) or "none"
        raise ActionInvalid(f"no {what} {key!r} in backend {backend!r} ({known})")
    try:
        return decl, values(decl.params, given, key)
    except ValueError as exc:
        raise ActionInvalid(str(exc)) from None


def values(
    params: Mapping[str, ParamDecl], given: Mapping[str, Any], fallback: str
) -> dict[str, Value]:
    """The typed value of every parameter, defaults filled in: ValueError if not usable."""
    allowed = set(params) or {"target"}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}")
    if not params:
        if given.get("target") not in (None, fallback):
            raise ValueError(f"target: must be {fallback}")
        return {}
    out: dict[str, Value] = {}
    for pname, decl in params.items():
        value = given.get(pname)
        if value is None or value == "":
            value = decl.default
        if value is None:
            if decl.required:
                raise ValueError(f"{pname}: required")
            continue
        out[pname] = check_value(pname, decl, value)
    return out
