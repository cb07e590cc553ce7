"""Two consoles as the team runs them: two ``oncall-console run`` processes, each on its own
terminal, one PostgreSQL store and one Redis bus between them.

Alex declares an incident; it shows on Sam's dashboard without Sam pressing a key. Sam
opens it and sees that alex is on it too; alex's note shows on Sam's screen. Then alex's
console dies (SIGKILL: no goodbye): Sam's console still answers its keys, and the note is
still there when Sam reads the incident again, in the console and in the store.

What is asserted is what each terminal shows (pyte replays the bytes each console wrote);
tests/test_two_consoles.py checks the same story in one process, closer to the engine.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from tests.support.stack import Stack, wait_until
from tests.support.terminal import Terminal

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

DASHBOARD = "Incidents & alerts"
NOTE = "Rolled back checkout to v41, error rate falling"


@dataclass
class Team:
    """Where a team's consoles meet: a fresh database on the stack's PostgreSQL, the
    stack's Redis, and an environment name of their own (the bus channel is per env)."""

    dsn: str
    redis_url: str
    environment: str

    @property
    def channel(self) -> str:
        return f"oncall-console:{self.environment}:events"


@pytest.fixture
def team(stack: Stack) -> Iterator[Team]:
    # Only PostgreSQL and Redis are needed: not healthy_stack's wait for Prometheus targets.
    stack.ensure_running()
    db = f"procs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.postgres.admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    yield Team(stack.postgres.dsn_for(db), stack.redis.url, "procs-" + uuid.uuid4().hex[:6])
    with psycopg.connect(stack.postgres.admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')


def write_config(team: Team, folder: Path) -> Path:
    """One config for both consoles; who sits at each is ONCALL_CONSOLE__OPERATOR."""
    path = folder / "team.toml"
    path.write_text(
        f"""\
[console]
environment = "{team.environment}"
utc = true

[poller]
# Long, so a console learns of the other's changes from the bus, not from a re-read
# of the store on its next round: a broken bus fails this test.
interval = "120s"

[store]
url = "{team.dsn}"

[bus]
redis_url = "{team.redis_url}"

# The simulated platform: no server to reach, and a disk alert that is always firing.
[backends.demo]
type = "demo"

[checks.postgres]
backend = "demo"
target = "postgres"
""",
        encoding="utf-8",
    )
    return path


def console_of(operator: str, config: Path, home: Path) -> Terminal:
    own = home / operator
    own.mkdir()
    env = {
        "ONCALL_CONSOLE__OPERATOR": operator,
        "XDG_CONFIG_HOME": str(own / "config"),  # no user themes or keymaps of this machine
        "XDG_STATE_HOME": str(own / "state"),
    }
    return Terminal(operator, ["run", "-c", str(config)], env=env)


def live(operator: str) -> Callable[[str], bool]:
    """The console is up: its header names the operator, and the demo's alert is listed."""
    return lambda screen: f"· {operator}" in screen and "DiskUsageHigh" in screen


def subscribers(team: Team) -> int:
    client = redis.Redis.from_url(team.redis_url, socket_timeout=2)
    try:
        return int(dict(client.pubsub_numsub(team.channel))[team.channel.encode()])
    finally:
        client.close()


def incident_id_on(screen: str) -> str | None:
    found = re.search(r"\bINC-\d+\b", screen)
    return found.group(0) if found else None


def stored_notes(team: Team, incident: str) -> list[tuple[str, str]]:
    with psycopg.connect(team.dsn) as conn:
        rows = conn.execute(
            "SELECT operator, text FROM timeline WHERE incident_id = %s AND kind = 'note'",
            (incident,),
        ).fetchall()
    return [(str(who), str(text)) for who, text in rows]


def test_two_console_processes_share_incidents_notes_and_presence_and_survive_a_kill(
    team: Team, tmp_path: Path
) -> None:
    config = write_config(team, tmp_path)
    alex: Terminal | None = None
    sam: Terminal | None = None
    try:
        alex = console_of("alex", config, tmp_path)
        sam = console_of("sam", config, tmp_path)
        for console in (alex, sam):
            console.wait_for(f"{console.name}'s console live", live(console.name))
        # Both have opened the store and subscribed to the team's channel (the bus has no
        # mark on screen); from here neither misses what the other announces.
        wait_until(
            "both consoles subscribed to the team's channel",
            lambda: subscribers(team) == 2,
            15.0,
            0.05,
        )

        # 1. Alex declares an incident from the selected alert; Sam's dashboard lists it.
        alex.press("3", "i")
        alex.wait_for("the declare prompt", "Declare an incident")
        alex.press("y")
        on_alex = alex.wait_for(
            "alex's incident screen",
            lambda s: incident_id_on(s) is not None and "investigating" in s and "Note" in s,
        )
        incident = incident_id_on(on_alex)
        assert incident is not None
        on_sam = sam.wait_for(f"{incident} on sam's dashboard", incident)
        assert DASHBOARD in on_sam  # Sam did nothing: still the dashboard

        # 3. Sam opens it (the incident is the top row) and sees alex there.
        sam.press("3", "enter")
        on_sam = sam.wait_for(
            "alex present on sam's incident screen",
            # the dashboard can show both before enter has opened the incident screen
            lambda s: (
                f" {incident} " in s and "also here: alex (incident)" in s and DASHBOARD not in s
            ),
        )
        assert DASHBOARD not in on_sam
        alex.wait_for("sam present on alex's incident screen", "also here: sam (incident)")

        # 2. A note typed on alex's incident screen shows on sam's.
        alex.press("n")
        alex.wait_for("alex's note prompt", "What happened, what you saw")
        alex.press(NOTE, "enter")
        by_alex = re.compile(rf"\balex\s+note\s+{re.escape(NOTE)}")
        alex.wait_for("the note on alex's timeline", by_alex.search)
        sam.wait_for("alex's note on sam's timeline", by_alex.search)

        # 4. Alex's console is killed outright; Sam's answers a key with a new frame...
        assert alex.kill() == -9
        before = sam.frames()
        sam.press("n")
        sam.wait_for("sam's note prompt after alex died", "What happened, what you saw")
        assert sam.frames() > before
        sam.press("escape")
        sam.wait_for("sam's prompt closed", lambda s: "What happened" not in s and NOTE in s)
        # ...and reads the incident again from the store: back, and open it anew.
        sam.press("escape")
        sam.wait_for("sam's dashboard", lambda s: DASHBOARD in s and incident in s)
        sam.press("enter")
        on_sam = sam.wait_for(
            f"{incident} reopened on sam's console with the note",
            lambda s: f" {incident} " in s and NOTE in s and DASHBOARD not in s,
        )
        assert sam.pty.proc.poll() is None
        assert stored_notes(team, incident) == [("alex", NOTE)]
    finally:
        for started in (alex, sam):
            if started is not None:
                started.close()  # its process group, by pid
