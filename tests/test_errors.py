"""describe(): one clean line for any failure (oncall_console/errors.py)."""

from __future__ import annotations

import http.client
import socket
import ssl

import httpx

from oncall_console.errors import chain, describe


class LibraryError(Exception):
    """Stands for an exception a library raised (its module is not ours)."""


LibraryError.__module__ = "somelib.errors"


def raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        try:
            if cause is not None:
                raise cause
        except BaseException as inner:
            raise exc from inner
        raise exc
    except BaseException as caught:
        return caught


def test_a_timeout_names_the_time_it_waited():
    assert describe(TimeoutError(), 2.5) == "timed out after 2.5 s"
    assert describe(TimeoutError()) == "timed out"


def test_the_most_telling_cause_is_found_behind_a_wrapper():
    refused = ConnectionRefusedError(111, "Connection refused")
    assert describe(raised(httpx.ConnectError("All connection attempts failed"), refused)) == (
        "connection refused"
    )
    dns = socket.gaierror(-2, "Name or service not known")
    assert describe(raised(LibraryError("wrapped"), dns)) == (
        "DNS lookup failed: Name or service not known"
    )
    assert describe(http.client.RemoteDisconnected("gone")) == (
        "connection closed without a response"
    )
    tls = ssl.SSLCertVerificationError(1, "verify failed")
    tls.verify_message = "self-signed certificate"
    assert describe(raised(LibraryError("x"), tls)) == (
        "TLS: certificate verify failed: self-signed certificate"
    )


def test_a_cause_behind_reason_or_args_is_found_too():
    class Wrapper(Exception):
        def __init__(self, reason: BaseException) -> None:
            super().__init__("max retries")
            self.reason = reason

    reset = ConnectionResetError(104, "Connection reset by peer")
    assert describe(Wrapper(reset)) == "connection reset"
    assert describe(LibraryError(Wrapper(reset))) == "connection reset"


def test_other_os_errors_are_told_in_the_systems_words():
    unreachable = OSError(101, "Network is unreachable")
    assert describe(raised(LibraryError("x"), unreachable)) == (
        "connect failed: Network is unreachable"
    )
    missing = FileNotFoundError(2, "No such file or directory", "/etc/ca.pem")
    assert describe(missing) == "/etc/ca.pem: No such file or directory"


def test_a_message_raised_with_from_none_stands_alone():
    inner = ConnectionRefusedError(111, "Connection refused")
    try:
        try:
            raise inner
        except OSError:
            raise RuntimeError("prometheus at p:9090: bad query") from None
    except RuntimeError as exc:
        assert chain(exc) == [exc]
        assert describe(exc) == "prometheus at p:9090: bad query"


def test_an_exception_speaks_for_itself_otherwise():
    # An errno-less OSError carries its own message.
    assert describe(ConnectionRefusedError("[Errno 111] refused \x1b[31mx")) == (
        "[Errno 111] refused x"
    )
    assert describe(RuntimeError("prometheus unreachable")) == "prometheus unreachable"
    assert describe(LibraryError("bad answer")) == "LibraryError: bad answer"
    assert describe(LibraryError()) == "LibraryError"
    assert describe(ValueError()) == "ValueError"


def test_one_line_bounded_and_secrets_gone_before_the_cut():
    secret = "s3cr3t-" * 10
    text = describe(RuntimeError("x" * 280 + secret + "\nsecond line"), secrets=[secret, None])
    assert "\n" not in text and len(text) <= 300
    assert "s3cr3t" not in text
    assert describe(RuntimeError(f"token {secret} refused"), secrets=[secret]) == (
        "token [redacted] refused"
    )
