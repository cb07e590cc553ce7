"""Remediation actions: what a backend offers, what was asked, what happened."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

# The shapes of names that parameters of kind name / subdomain / identifier must have.
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


class ActionInvalid(ValueError):
    """Raised by a backend's preview when a request cannot go ahead (one line, says why).

    The runner turns it into a refusal before anything is confirmed or audited.
    """


class Confirm(enum.Enum):
    """How a person confirms an action before it runs."""

    YES_NO = "yes-no"
    TYPE_TARGET = "type-target"
    """Type the target's name: for dangerous actions."""


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One typed parameter of an action."""

    name: str
    kind: str
    """name (DNS-1123 label), subdomain (DNS-1123, dots allowed), identifier (SQL),
    int, str (one line), text (several lines, a message), choice or bool."""
    help: str = ""
    required: bool = True
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action a backend declares it can run."""

    id: str
    title: str
    params: tuple[ParamSpec, ...] = ()
    target_param: str = "target"
    """The parameter that names what is changed (locks and confirmations use it)."""
    dangerous: bool = False
    confirm: Confirm = Confirm.YES_NO
    verify_check: str = ""
    """Parameter whose value names the check to re-probe after the run ('' = none)."""
    read_only: bool = False
    """The action changes nothing: a diagnostic."""


@dataclass(frozen=True, slots=True)
class ActionRequest:
    backend: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)
    operator: str = ""
    dry_run: bool = False

    @property
    def key(self) -> str:
        return f"{self.backend}.{self.action}"


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"
    TIMED_OUT = "timed-out"
    UNKNOWN = "outcome unknown"
    DRY_RUN = "dry-run"


@dataclass(frozen=True, slots=True)
class ActionResult:
    request: ActionRequest
    outcome: Outcome
    message: str
    preview: str = ""
    output: str = ""
    before: str = ""
    after: str = ""
    at: float = 0.0
