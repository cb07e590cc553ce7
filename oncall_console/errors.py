"""One clean line for a failure: how an exception becomes text that people read.

:func:`describe` is the one way the console turns an exception into words: the
poller for a probe that raised, the engine for a store it cannot open, the bus,
and every backend for a request that failed. The line is never a traceback and
never longer than 300 characters; escape codes, markup and line breaks are gone
(:func:`oncall_console.text.clean`).

It looks past the wrappers a library raises (httpx, requests, urllib3, redis, the
kubernetes client) for the most telling cause in the exception's chain: a timeout,
a TLS failure, a refused or reset connection, a failed DNS lookup, or the
operating system's own words. Failing those, an exception speaks for itself: its
message, after its class name when a library raised it (``ReadError: ...``), as is
when the console or Python did (their messages are written for people already).

A backend that knows its library better (psycopg's diagnostics, Redis's error
replies, urllib3's connect timeouts) checks for that first and hands the rest to
:func:`describe`; :func:`telling_cause` and :func:`os_error` are the pieces it
can reuse.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterable

from oncall_console.secrets import redact
from oncall_console.text import clean

LIMIT = 300
"""Characters in a described failure."""
_MAX_CHAIN = 20


def describe(
    exc: BaseException, timeout: float | None = None, *, secrets: Iterable[str | None] = ()
) -> str:
    """One clean line for ``exc``.

    ``timeout`` (seconds) is named when it timed out; ``secrets`` (a password, a token)
    are replaced before the line is cleaned and cut, so that no part of one shows.
    """
    if isinstance(exc, TimeoutError):
        return timed_out(timeout)
    found = telling_cause(exc)
    if found is None and (e := _first_os_error(exc)) is not None:
        # A file names itself (a missing ca_file); any other OS error here is a connection's.
        found = f"{e.filename}: {e.strerror}" if e.filename else f"connect failed: {e.strerror}"
    text = found if found is not None else own_words(exc)
    return clean(redact(text, *secrets), limit=LIMIT)


def timed_out(timeout: float | None) -> str:
    return f"timed out after {timeout:g} s" if timeout else "timed out"


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes, nearest first: ``__cause__``, ``__context__`` (unless it
    was raised ``from None``), a ``reason`` attribute (urllib3) and exceptions among
    its arguments (requests)."""
    found: list[BaseException] = []
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo and len(found) < _MAX_CHAIN:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        found.append(e)
        context = None if e.__suppress_context__ else e.__context__
        nearer = [e.__cause__, context, getattr(e, "reason", None), *e.args]
        todo.extend(n for n in nearer if isinstance(n, BaseException))
    return found


def telling_cause(exc: BaseException) -> str | None:
    """The first link of the chain that says what went wrong by its kind alone."""
    for e in chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS: certificate verify failed: {e.verify_message}"
        if isinstance(e, ssl.SSLError):
            return f"TLS: {e.reason or e}"
        if isinstance(e, http.client.RemoteDisconnected):
            return "connection closed without a response"
        # An error the operating system raised has an errno; one raised with a message
        # of its own (and no errno) says more in that message.
        if isinstance(e, OSError) and e.errno is not None:
            if isinstance(e, ConnectionRefusedError):
                return "connection refused"
            if isinstance(e, ConnectionResetError):
                return "connection reset"
            if isinstance(e, socket.gaierror):
                return f"DNS lookup failed: {e.strerror or e}"
    return None


def os_error(exc: BaseException) -> str | None:
    """The operating system's words for the first OS error in the chain, if any."""
    found = _first_os_error(exc)
    return found.strerror if found is not None else None


def _first_os_error(exc: BaseException) -> OSError | None:
    for e in chain(exc):
        if isinstance(e, OSError) and e.strerror:
            return e
    return None


def own_words(exc: BaseException) -> str:
    """The exception's message; after its class name when a library raised it."""
    text = str(exc)
    module = type(exc).__module__
    if module == "builtins" or module.split(".")[0] == "oncall_console":
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
