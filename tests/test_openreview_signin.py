"""Signing in to OpenReview for venue feeds: since 2026 the API answers an anonymous
``/notes?content.venueid=`` with HTTP 403 "Challenge verification required" (a real answer in
tests/data/openreview/). With ``[fetch] openreview_username`` and DIGEST_OPENREVIEW_PASSWORD digest
signs in (``POST /login``, as the openreview-py client does) and sends the token to the API's origin
only. A real HTTP server on loopback plays the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.config import FeedSettings, Settings, load_settings
from digest.configure import apply_config
from digest.errors import ConfigError, FetchError
from digest.ingest import ingest_feed
from digest.sources import fetch_feed, openreview
from digest.store import Store
from fetch_helpers import FakeClock, fake_limiter, local

DATA = Path(__file__).parent / "data" / "openreview"
NOTES = json.loads((DATA / "fastpaper-cli_notes_search_v2.json").read_bytes())
CHALLENGE = json.loads((DATA / "paper-search-pro_challenge_403_v2.json").read_bytes())["body"]
FEED = FeedSettings(name="iclr", kind="openreview", venue="ICLR.cc/2024/Conference")
PASSWORD = SecretStr("s3cret-Pw")


@pytest.fixture(autouse=True)
def clock() -> Iterator[FakeClock]:
    openreview.forget_tokens()
    yield from fake_limiter()
    openreview.forget_tokens()


class FakeOpenReview:
    """/login hands out tokens tok-1, tok-2...; /notes answers the venue's notes to a live token,
    401 to a token it was told to expire, and the real challenge (403) to anyone else."""

    def __init__(self, server: HTTPServer) -> None:
        self.logins: list[dict[str, Any]] = []
        self.live: set[str] = set()
        self.notes_auth: list[str | None] = []
        server.expect_request("/login", method="POST").respond_with_handler(self.login)
        server.expect_request("/notes").respond_with_handler(self.notes)

    def login(self, request: Request) -> Response:
        body = request.get_json()
        self.logins.append(body)
        if body.get("password") != PASSWORD.get_secret_value():
            return Response(json.dumps({"name": "LoginError", "message": "Invalid username or password",
                                        "status": 403}), status=403, content_type="application/json")
        token = f"tok-{len(self.logins)}"
        self.live.add(token)
        return Response(json.dumps({"token": token, "user": {"id": "~Me1"}}), content_type="application/json")

    def notes(self, request: Request) -> Response:
        auth = request.headers.get("Authorization")
        self.notes_auth.append(auth)
        token = auth.removeprefix("Bearer ") if auth else None
        if token is None:
            return Response(json.dumps(CHALLENGE), status=403, content_type="application/json")
        if token not in self.live:
            return Response(json.dumps({"name": "TokenExpiredError", "message": "Token expired"}), status=401,
                            content_type="application/json")
        assert request.args["content.venueid"] == "ICLR.cc/2024/Conference"
        return Response(json.dumps({**NOTES, "count": len(NOTES["notes"])}), content_type="application/json")


def _settings(server: HTTPServer, **kw: object) -> Any:
    return local(openreview_api_url=server.url_for("/").rstrip("/"), openreview_username="me@example.org", **kw)


def test_signs_in_once_and_lists_the_venue(httpserver: HTTPServer) -> None:
    api = FakeOpenReview(httpserver)
    settings = _settings(httpserver)
    for _ in range(2):  # one token serves every poll until it is about to expire
        _, parsed = fetch_feed(FEED, settings, openreview_password=PASSWORD)
        assert parsed is not None and len(parsed.records) == 6
    assert api.logins == [{"id": "me@example.org", "password": "s3cret-Pw", "expiresIn": openreview.TOKEN_LIFETIME}]
    assert api.notes_auth == ["Bearer tok-1", "Bearer tok-1"]


def test_without_an_account_the_refusal_says_what_to_set(httpserver: HTTPServer) -> None:
    api = FakeOpenReview(httpserver)
    with pytest.raises(FetchError) as info:
        fetch_feed(FEED, local(openreview_api_url=httpserver.url_for("/").rstrip("/")))
    message = str(info.value)
    assert "HTTP 403 (ChallengeRequiredError: Challenge verification required" in message
    assert message.endswith(openreview.SIGN_IN_HINT) and info.value.status == 403
    assert api.logins == [] and api.notes_auth == [None]
    # A username without the password in the environment is no account either.
    with pytest.raises(FetchError, match="DIGEST_OPENREVIEW_PASSWORD"):
        fetch_feed(FEED, _settings(httpserver))
    assert api.logins == []


def test_a_token_the_api_no_longer_takes_is_renewed_once(httpserver: HTTPServer) -> None:
    api = FakeOpenReview(httpserver)
    settings = _settings(httpserver)
    fetch_feed(FEED, settings, openreview_password=PASSWORD)
    api.live.clear()  # revoked, or expired before our margin
    _, parsed = fetch_feed(FEED, settings, openreview_password=PASSWORD)
    assert parsed is not None and len(parsed.records) == 6
    assert len(api.logins) == 2 and api.notes_auth == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


def test_a_failed_sign_in_is_the_feeds_error_without_the_password(httpserver: HTTPServer) -> None:
    FakeOpenReview(httpserver)
    with pytest.raises(FetchError) as info:
        fetch_feed(FEED, _settings(httpserver), openreview_password=SecretStr("wrong"))
    message = str(info.value)
    assert "OpenReview sign-in as 'me@example.org' failed: HTTP 403 (LoginError: Invalid username or password)" in message
    assert "wrong" not in message and "s3cret" not in message


def test_the_token_goes_to_the_apis_origin_only(httpserver: HTTPServer) -> None:
    api = FakeOpenReview(httpserver)
    assert httpserver.url_for("/").startswith("http://localhost:")  # the API's origin; 127.0.0.1 is another
    elsewhere = f"http://127.0.0.1:{httpserver.port}/elsewhere"
    httpserver.clear_all_handlers()
    httpserver.expect_request("/login", method="POST").respond_with_handler(api.login)
    httpserver.expect_request("/notes").respond_with_data("", status=302, headers={"Location": elsewhere})
    httpserver.expect_request("/elsewhere").respond_with_json({**NOTES, "count": 6})
    _, parsed = fetch_feed(FEED, _settings(httpserver, allow_hosts=["127.0.0.1", "localhost"]),
                           openreview_password=PASSWORD)
    assert parsed is not None and len(parsed.records) == 6
    sent = {req.path: req.headers.get("Authorization") for req, _ in httpserver.log}
    assert sent["/notes"] == "Bearer tok-1" and sent["/elsewhere"] is None


def test_a_redirected_sign_in_is_not_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/login", method="POST").respond_with_data(
        "", status=307, headers={"Location": "http://127.0.0.1:1/steal"})
    with pytest.raises(FetchError, match="a redirect is not followed for a POST"):
        fetch_feed(FEED, _settings(httpserver), openreview_password=PASSWORD)


def test_the_password_comes_from_the_environment_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       sqlite_store: Store, httpserver: HTTPServer) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[fetch]\nopenreview_username = "me@example.org"\nopenreview_password = "s3cret-Pw"\n')
    with pytest.raises(ConfigError, match="DIGEST_OPENREVIEW_PASSWORD"):
        load_settings(bad)
    good = tmp_path / "digest.toml"
    api_url = httpserver.url_for("/").rstrip("/")
    good.write_text(f'[fetch]\nopenreview_username = "me@example.org"\nopenreview_api_url = "{api_url}"\n'
                    'host_spacing = 0\n[[feeds]]\nname = "iclr"\nkind = "openreview"\nvenue = "ICLR.cc/2024/Conference"\n')
    monkeypatch.setenv("DIGEST_OPENREVIEW_PASSWORD", PASSWORD.get_secret_value())
    settings: Settings = load_settings(good)
    assert settings.openreview_password is not None and "s3cret" not in repr(settings)
    api = FakeOpenReview(httpserver)
    apply_config(settings, sqlite_store)
    run = ingest_feed(settings, sqlite_store, settings.feed("iclr"), now=datetime(2026, 11, 24, tzinfo=timezone.utc))
    assert run.error is None and run.stats.new == 6 and len(api.logins) == 1
