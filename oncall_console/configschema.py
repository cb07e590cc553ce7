"""The config's schema: one typed model per section (loading them is :mod:`oncall_console.config`).

Secrets are never written inline: a backend option ``password_env = "PGPASSWORD"``
or ``token_file = "/run/secrets/token"`` references them, and only the backend
resolves them, at connect time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# The file-level half (no pydantic) lives in configfile; callers find it here too.
from oncall_console.configfile import CONFIG_ENV as CONFIG_ENV
from oncall_console.configfile import ENV_PREFIX as ENV_PREFIX
from oncall_console.configfile import default_path as default_path
from oncall_console.configfile import discover as discover
from oncall_console.configfile import field_docs as field_docs
from oncall_console.configfile import (
    login_name,
)
from oncall_console.configfile import toml_loads as toml_loads
from oncall_console.durations import parse_duration
from oncall_console.model import CheckSpec, SliSpec
from oncall_console.secrets import one_source_each
from oncall_console.urls import check_redis_url

Duration = Annotated[float, BeforeValidator(parse_duration)]
Interval = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
"""A period or a timeout: 0 (or less) is refused, never read as "the default"."""
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


# Field docstrings stay in the source (field_docs reads them for `init`): pydantic's
# use_attribute_docstrings would read them at every start, ~11 ms (issue #6).
class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsoleConfig(Section):
    environment: str = "production"
    """Name of the environment, shown in the header (e.g. production, staging)."""
    operator: str = ""
    """Who is at the keyboard; empty means the login name."""
    read_only: bool = False
    """Refuse every action (the runner enforces it, not only the UI)."""
    theme: str = "oncall-dark"
    """Theme name: oncall-dark, oncall-light, oncall-high-contrast, or one of yours."""
    themes_dir: Path | None = None
    """Extra folder of theme files (*.toml); default: $XDG_CONFIG_HOME/oncall-console/themes."""
    refresh: Interval = 1.0
    """How often the screen redraws what changed, seconds."""
    utc: bool = False
    """Show times in UTC instead of the local zone."""


class PollerConfig(Section):
    concurrency: int = Field(default=64, ge=1, le=10_000)
    """At most this many probes in flight at once."""
    workers: Literal["auto"] | Annotated[int, Field(ge=0, le=8)] = "auto"
    """Probe worker processes for a backend with many checks (``http``): "auto" starts one
    for a backend of 1,000 checks or more and one more per 5,000 (at most one per CPU), a
    number that many whatever the count, 0 none.
    A worker probes up to 512 checks at once (each origin: at most the backend's
    ``max_connections``), on the machine's other core."""
    threads: int = Field(default=8, ge=1, le=256)
    """Size of the thread pool for libraries that block (kubernetes, prometheus)."""
    history: int = Field(default=120, ge=2, le=100_000)
    """Results kept per check and SLI, for sparklines and detail views."""
    interval: Interval = 15.0
    """Default interval between probes of one check, seconds."""
    timeout: Interval = 5.0
    """Default timeout of one probe, seconds."""


class StoreConfig(Section):
    url: str = ""
    """Where the audit trail and runbook progress live: empty for the embedded SQLite file
    ($XDG_STATE_HOME/oncall-console/oncall.sqlite3), a path, or postgresql://user@host/db."""
    password_env: str | None = None
    """Environment variable with the PostgreSQL password."""
    password_file: str | None = None
    """File with the PostgreSQL password."""

    _one_source = model_validator(mode="after")(one_source_each)


class BusConfig(Section):
    """``[bus]``: how the consoles of a team see each other live and share locks."""

    # hide_input: a URL refused for holding a password must not print it back.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    redis_url: str = ""
    """Redis shared by the team's consoles, for live events and per-target action locks:
    redis://host:port/db, or rediss:// for TLS; no password in it (see password_env).
    Empty: this console alone, in-process; action locks then come from the store."""
    username: str | None = None
    """ACL user name (Redis 6+); unset means the default user."""
    password_env: str | None = None
    """Environment variable holding the Redis password."""
    password_file: str | None = None
    """File holding the Redis password."""
    timeout: Duration = Field(default=2.0, gt=0, le=60)
    """Bound on every call to Redis (publish, lock, the reader's PING), seconds."""
    share_probes: bool = True
    """With a redis_url: one console of the team probes the checks (a lease in Redis,
    taken over when it dies or hangs) and the others show its results; false: every
    console probes on its own."""

    @field_validator("redis_url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url:
            return url
        check_redis_url(url)
        return url

    _one_source = model_validator(mode="after")(one_source_each)


class BackendConfig(BaseModel):
    """``[backends.NAME]``: ``type`` picks the plugin; the other keys are its options."""

    model_config = ConfigDict(extra="allow")
    type: str
    """The backend type, e.g. http, postgres, redis, prometheus, alertmanager, kubernetes."""


class CheckConfig(BaseModel):
    """``[checks.NAME]``: the keys below, plus the backend's own check parameters."""

    model_config = ConfigDict(extra="allow")
    backend: str
    """Name of the ``[backends.NAME]`` that probes this check."""
    interval: Interval | None = None
    """Seconds between probes; default from [poller]."""
    timeout: Interval | None = None
    """Seconds before a probe counts as failed; default from [poller]."""
    title: str = ""
    """Shown instead of the name."""
    group: str = ""
    """Groups rows in the health panel (e.g. services, data)."""
    runbook: str = ""
    """Runbook id to open from this check."""


class BurnWindow(Section):
    long: Duration
    """The long window, e.g. "1h"."""
    short: Duration
    """The short window that must agree, e.g. "5m"."""
    factor: float = Field(gt=0)
    """Burn rate that fires, e.g. 14.4 (2 % of a 30-day budget in one hour)."""
    page: bool = True
    """True: firing means DOWN (page); false: DEGRADED (ticket)."""


def _fraction(value: Any) -> Any:
    """99.9 (a percent, as Sloth and people write it) -> 0.999; 0.999 stays."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 < value < 100:
        return value / 100
    return value


def _budgeting(value: Any) -> Any:
    """OpenSLO's spelling (Occurrences, Timeslices, RatioTimeslices) or ours."""
    if isinstance(value, str):
        return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", value.strip()).lower().replace("-", "_")
    return value


Fraction = Annotated[float, BeforeValidator(_fraction), Field(gt=0, lt=1)]


class SloConfig(Section):
    objective: Fraction
    """Fraction of good events, e.g. 0.999 (or 99.9, read as a percent)."""
    window: Duration = 30 * 86400.0
    """The SLO window, e.g. "30d"."""
    budgeting_method: Annotated[
        Literal["occurrences", "timeslices", "ratio_timeslices"], BeforeValidator(_budgeting)
    ] = "occurrences"
    """How the budget is counted: "occurrences" (bad / total events over the window),
    "timeslices" (the share of bad slices: a slice is bad when its good ratio is below
    time_slice_target) or "ratio_timeslices" (the mean of the slices' error ratios)."""
    time_slice_window: Duration = 60.0
    """One time slice, e.g. "1m" (the time-slice methods)."""
    time_slice_target: Fraction | None = None
    """Good ratio that makes a slice good, e.g. 0.95 ("timeslices" needs it)."""
    burn_windows: list[BurnWindow] = [
        BurnWindow(long=3600, short=300, factor=14.4, page=True),
        BurnWindow(long=21600, short=1800, factor=6.0, page=True),
        BurnWindow(long=259200, short=21600, factor=1.0, page=False),
    ]
    """Multi-window burn-rate alerts (the SRE workbook's defaults for a 30-day SLO)."""

    @model_validator(mode="after")
    def _slices(self) -> SloConfig:
        if self.budgeting_method == "timeslices" and self.time_slice_target is None:
            raise ValueError('budgeting_method "timeslices" needs time_slice_target')
        return self


class SliConfig(BaseModel):
    """``[slis.NAME]``: thresholds plus the backend's own query parameters."""

    model_config = ConfigDict(extra="allow")
    backend: str
    """Name of the ``[backends.NAME]`` that measures this SLI."""
    unit: str = ""
    """Unit shown after the value: ms, %, req/s."""
    good: Literal["lower", "higher"] = "lower"
    """Which way is good: "lower" for latency and errors, "higher" for availability."""
    target: float | None = None
    warning: float | None = None
    critical: float | None = None
    interval: Interval | None = None
    timeout: Interval | None = None
    title: str = ""
    slo: SloConfig | None = None


class RunbooksConfig(Section):
    dirs: list[Path] = []
    """Folders (or single files) of Markdown runbooks, read in this order; a folder gives
    its *.md, *.markdown and *.txt files and its sub-folders' (hidden ones skipped).
    Relative paths are relative to this config file."""


_SEVERITY_KEY = re.compile(r"^(?:SEV|P)([1-4])$", re.IGNORECASE)


def _minutes_by_severity(value: Any) -> Any:
    """``{ SEV1 = 15, P2 = 30 }`` → ``{"SEV1": 15.0, "SEV2": 30.0}``; keys SEV1-4 or P1-4."""
    if not isinstance(value, dict):
        return value  # pydantic reports the type
    out: dict[str, Any] = {}
    for key, minutes in value.items():
        m = _SEVERITY_KEY.match(str(key).strip())
        if not m:
            raise ValueError(f"{key!r} is not a severity (use SEV1-SEV4 or P1-P4)")
        out[f"SEV{m.group(1)}"] = minutes
    return out


MinutesBySeverity = Annotated[
    dict[str, Annotated[float, Field(gt=0)]], BeforeValidator(_minutes_by_severity)
]


class EscalationLevel(Section):
    after_minutes: float = Field(ge=0)
    """Minutes after the incident opened when this level is engaged."""
    who: str = Field(min_length=1)
    """Who is engaged, e.g. "secondary on-call"."""
    how: str = ""
    """How they are reached, e.g. "PagerDuty" or "Slack + phone" (shown, not acted on)."""


class IncidentsConfig(Section):
    response_minutes: MinutesBySeverity = {"SEV1": 15, "SEV2": 30, "SEV3": 240, "SEV4": 1440}
    """Minutes to acknowledge an incident, per severity (keys SEV1-SEV4 or P1-P4; a
    severity left out keeps its default: 15, 30, 240, 1440)."""
    update_minutes: MinutesBySeverity = {"SEV1": 30, "SEV2": 60, "SEV3": 240, "SEV4": 1440}
    """Minutes between status updates, per severity; the messages promise the next one."""
    escalation: list[EscalationLevel] = [
        EscalationLevel(after_minutes=0, who="primary on-call", how="PagerDuty"),
        EscalationLevel(after_minutes=15, who="secondary on-call", how="PagerDuty"),
        EscalationLevel(after_minutes=30, who="engineering lead", how="Slack + phone"),
        EscalationLevel(after_minutes=60, who="VP / head of engineering", how="phone"),
    ]
    """The escalation matrix: who is engaged how long after an incident opened
    (``[[incidents.escalation]] after_minutes = 15, who = "secondary on-call"``)."""
    escalate: list[Annotated[str, Field(pattern=r"(?i)^(SEV|P)[1-4]$")]] = ["SEV1", "SEV2"]
    """Severities the matrix applies to; the others stay with the first level."""
    post_to: list[
        Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_.-]*$")]
    ] = []
    """Where the incident screen can send a status message: "backend.webhook" of http
    webhooks (a status page, a chat channel), e.g. ``["chat.post-message"]``. The message
    fills the webhook's ``message`` / ``text`` parameter (and ``status``, ``severity``,
    ``title``, ``incident_id`` when it has them); it runs through the confirm dialog."""

    @field_validator("escalation")
    @classmethod
    def _increasing(cls, levels: list[EscalationLevel]) -> list[EscalationLevel]:
        afters = [level.after_minutes for level in levels]
        if not levels:
            raise ValueError("the escalation matrix needs at least one level")
        if afters != sorted(set(afters)):
            raise ValueError("levels must be in increasing after_minutes order")
        return levels


class WarRoomConfig(Section):
    """``[warroom]``: the read-only wall screen (``oncall-console war-room``)."""

    dwell: Duration = Field(default=15.0, gt=0, le=3600)
    """Seconds each panel stays on screen before the next one."""
    theme: str = "oncall-high-contrast"
    """Theme of the wall screen (readable from across a room)."""


class Config(Section):
    console: ConsoleConfig = ConsoleConfig()
    poller: PollerConfig = PollerConfig()
    store: StoreConfig = StoreConfig()
    bus: BusConfig = BusConfig()
    runbooks: RunbooksConfig = RunbooksConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    warroom: WarRoomConfig = WarRoomConfig()
    backends: dict[Name, BackendConfig] = {}
    checks: dict[Name, CheckConfig] = {}
    slis: dict[Name, SliConfig] = {}
    keys: dict[str, str] = {}
    """Key remaps: binding id = "keys", e.g. ``quit = "ctrl+q"``."""


# --- the loaded result ------------------------------------------------------------------


@dataclass
class LoadedConfig:
    """Config plus what the engine needs, already resolved and validated."""

    config: Config
    path: Path | None
    backend_options: dict[str, tuple[str, BaseModel]] = field(default_factory=dict)
    """Backend name -> (type, its validated options)."""
    checks: list[CheckSpec] = field(default_factory=list)
    """The checks, validated. ``config.checks`` and ``config.slis`` are emptied once these
    are built (their models are not kept: ~950 bytes a check)."""
    slis: list[SliSpec] = field(default_factory=list)

    @property
    def runbook_paths(self) -> list[Path]:
        """``[runbooks] dirs``, relative ones resolved against the config file's folder."""
        base = self.path.parent if self.path else Path.cwd()
        return [base / d.expanduser() for d in self.config.runbooks.dirs]

    @property
    def operator(self) -> str:
        return self.config.console.operator or login_name()
