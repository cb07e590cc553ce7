"""The first poll's plain ``http`` checks, read and probed without pydantic or httpx
(backends/http/sketch.py, issue #14): the lean reader must give exactly what the
backend's models give, or nothing."""

from __future__ import annotations

import pytest

from oncall_console.backends.http.options import HttpCheckParams, HttpOptions
from oncall_console.backends.http.probe import origin_of
from oncall_console.backends.http.sketch import lean_options, lean_params, plain_origin
from tests.support.httpserver import serve
from tests.support.sketchrun import sketch_in_fresh_process


@pytest.mark.parametrize(
    "raw",
    [{}, {"verify_tls": False}, {"max_connections": 7}, {"user_agent": "ops-bastion/2"}],
)
def test_lean_options_are_the_models_dump_key_for_key(raw):
    # the fingerprint the parent checks is the repr of these: same keys, same order
    assert repr(lean_options(raw)) == repr(HttpOptions.model_validate(raw).model_dump())


@pytest.mark.parametrize(
    "raw",
    [
        {"url": "http://127.0.0.1:8080/healthz"},
        {"url": "https://api.example.com/health?deep=1&x=y", "method": "HEAD"},
        {"url": "http://svc-1.internal"},
        {"url": "https://10.0.0.7:8443/ready"},
    ],
)
def test_lean_params_are_the_models_dump_key_for_key(raw):
    assert repr(lean_params(raw)) == repr(HttpCheckParams.model_validate(raw).model_dump())


@pytest.mark.parametrize(
    "raw",
    [
        {"token_env": "TOKEN"},
        {"token_file": "token"},
        {"headers": {"X-Team": "ops"}},
        {"ca_file": "ca.pem"},
        {"verify_tls": "no"},
        {"max_connections": 0},
        {"max_connections": True},
        {"user_agent": "two\nlines"},
        {"webhooks": {}},
        {"max_body_bytes": 4096},
    ],
)
def test_options_the_lean_reader_does_not_know_go_the_full_way(raw):
    assert lean_options(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"url": 42},
        {"url": "http://user:pw@127.0.0.1/health"},
        {"url": "http://API.example.com/health"},
        {"url": "ftp://127.0.0.1/health"},
        {"url": "http://127.0.0.1/health/{region}"},
        {"url": "http://127.0.0.1/h%C3%A9alth"},
        {"url": "http://127.0.0.1:99999/"},
        {"url": "http://[::1]:8080/health"},
        {"url": "http://127.0.0.1/ health"},
        {"url": "http://127.0.0.1/health", "ready_url": "http://127.0.0.1/ready"},
        {"url": "http://127.0.0.1/health", "expect_status": [200]},
        {"url": "http://127.0.0.1/health", "method": "POST"},
        {"url": "http://127.0.0.1/health", "warning_ms": 200},
    ],
)
def test_params_the_lean_reader_does_not_know_go_the_full_way(raw):
    assert lean_params(raw) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/healthz",
        "http://127.0.0.1/",
        "http://127.0.0.1",
        "https://api.example.com/health?deep=1&x=y",
        "https://api.example.com:443/health",
        "http://svc.internal:80/a/b/c.json",
        "https://10.0.0.7:8443/ready?",
    ],
)
def test_a_plain_url_has_the_origin_httpx_gives(url):
    assert plain_origin(url) == origin_of(url)


def test_the_first_poll_probes_plain_http_checks_without_pydantic_or_httpx(tmp_path):
    """The child's whole path for a config of plain HTTP checks (the sketch, the probe,
    the result) imports neither: ~200 ms of imports before a 5 ms probe."""
    with serve() as server:
        data = {
            "backends": {"web": {"type": "http", "verify_tls": True}},
            "checks": {
                "api": {"backend": "web", "url": server.url("/healthy"), "interval": 60},
                "down": {"backend": "web", "url": server.url("/500"), "timeout": 2},
            },
        }
        heavy, found = sketch_in_fresh_process(data, str(tmp_path))
    assert heavy == []
    assert sorted(e.spec.name for e in found) == ["api", "down"]
    summaries = {e.spec.name: e.result.summary for e in found}
    assert summaries["api"].startswith("200") and "500" in summaries["down"]
