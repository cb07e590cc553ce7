"""The commented starter config that ``oncall-console init`` writes.

The data is written by tomli-w; each key's comment is the field's docstring in
the config schema, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import tomli_w
from pydantic import BaseModel

from oncall_console.config import ConsoleConfig, PollerConfig, field_docs

HEADER = """\
# oncall-console configuration.
# Validate it with:  oncall-console check --config THIS_FILE
# Every key can be overridden from the environment: ONCALL_<SECTION>__<KEY>,
# e.g. ONCALL_CONSOLE__READ_ONLY=true. Secrets are never written here: use
# password_env / token_env (an environment variable) or *_file (a file path).
"""


def _section(title: str, model: type[BaseModel], values: dict[str, Any]) -> str:
    lines = [f"[{title}]"]
    docs = field_docs(model)
    for key, value in values.items():
        doc = docs.get(key)
        if doc:
            lines.extend(f"# {d}" for d in doc.splitlines())
        lines.append(tomli_w.dumps({key: value}).strip())
    return "\n".join(lines)


def starter_config() -> str:
    console = {
        "environment": "production",
        "operator": "",
        "read_only": False,
        "theme": "oncall-dark",
        "refresh": 1.0,
        "utc": False,
    }
    poller = {"concurrency": 64, "threads": 8, "history": 120, "interval": 15.0, "timeout": 5.0}
    example = {
        "backends": {"web": {"type": "http", "verify_tls": True}},
        "checks": {
            "api": {
                "backend": "web",
                "url": "http://127.0.0.1:8080/health",
                "interval": 10,
                "timeout": 3,
                "group": "services",
            }
        },
        "keys": {"quit": "q", "refresh": "r"},
    }
    parts = [
        HEADER,
        _section("console", ConsoleConfig, console),
        _section("poller", PollerConfig, poller),
        "# One [backends.NAME] per connection; `type` picks the plugin (oncall-console backends).",
        "# One [checks.NAME] per health check; its keys beyond backend/interval/timeout/title/group",
        "# belong to the backend (for http: url, ready_url, expect_status, warning_ms, critical_ms).",
        "# [keys] remaps bindings by id: quit, theme, help, refresh, actions, detail.",
        tomli_w.dumps(example).strip(),
    ]
    return "\n\n".join(parts) + "\n"
