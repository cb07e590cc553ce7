"""URL rules shared by config, backends and the bus (no imports of any layer)."""

from __future__ import annotations

from urllib.parse import urlsplit


def check_redis_url(url: str) -> str:
    """A ``redis://`` / ``rediss://`` URL with a host and no password in it (use
    password_env / password_file); ValueError otherwise. The message never quotes the URL:
    it may hold the very password we refuse."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("not a URL (expected redis://host:port/db)") from None
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("must be a redis:// or rediss:// URL")
    if parts.password is not None:
        raise ValueError(
            "no password in the url: put it in an environment variable (password_env) "
            "or a file (password_file)"
        )
    if not parts.hostname:
        raise ValueError("the url has no host")
    return url
