"""digest.tokens: signed, purpose-bound, expiring and revocable link tokens, and the URLs around them."""

from __future__ import annotations

import errno
import os
import stat
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from digest import tokens
from digest.config import Settings
from digest.errors import DigestError
from digest.tokens import TokenExpired, TokenInvalid, TokenRevoked, make_token, verify_token

from render_samples import settings as sample_settings

T0 = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)


@pytest.fixture
def settings() -> Settings:
    return sample_settings()


@pytest.mark.parametrize("purpose", tokens.PURPOSES)
def test_round_trip_each_purpose(settings: Settings, purpose: str) -> None:
    token = make_token(purpose, 42, 3, settings=settings, d="2026-11-24")
    data = verify_token(purpose, token, settings=settings, generation=3)
    assert (data.purpose, data.user_id, data.generation, data.data) == (purpose, 42, 3, {"d": "2026-11-24"})
    assert token.replace("-", "").replace("_", "").replace(".", "").isalnum()  # URL-safe as is


def test_a_token_for_one_purpose_is_refused_for_another(settings: Settings) -> None:
    token = make_token("feedback", 42, 0, settings=settings)
    with pytest.raises(TokenInvalid):
        verify_token("unsubscribe", token, settings=settings)


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
                                    lambda t: "x" + t, lambda t: t.split(".")[0], lambda t: ""])
def test_tampered_tokens_are_invalid(settings: Settings, mangle: object) -> None:
    token = make_token("unsubscribe", 42, 0, settings=settings)
    with pytest.raises(TokenInvalid):
        verify_token("unsubscribe", mangle(token), settings=settings)  # type: ignore[operator]


def test_a_token_signed_with_another_key_is_invalid(settings: Settings) -> None:
    other = Settings(web=settings.web, secret_key="another-key-" + "1" * 32)
    token = make_token("unsubscribe", 42, 0, settings=other)
    with pytest.raises(TokenInvalid):
        verify_token("unsubscribe", token, settings=settings)


def test_bumping_the_generation_revokes(settings: Settings) -> None:
    token = make_token("unsubscribe", 42, 0, settings=settings)
    assert verify_token("unsubscribe", token, settings=settings, generation=0).user_id == 42
    with pytest.raises(TokenRevoked):
        verify_token("unsubscribe", token, settings=settings, generation=1)


@pytest.mark.parametrize(("purpose", "alive", "dead"), [
    ("signin", timedelta(minutes=14), timedelta(minutes=16)),
    ("feedback", timedelta(days=89), timedelta(days=91)),
    ("unsubscribe", timedelta(days=399), timedelta(days=401)),
])
def test_expiry_per_purpose(settings: Settings, purpose: str, alive: timedelta, dead: timedelta) -> None:
    with time_machine.travel(T0, tick=False):
        token = make_token(purpose, 1, 0, settings=settings)
    with time_machine.travel(T0 + alive, tick=False):
        assert verify_token(purpose, token, settings=settings).issued == T0
    with time_machine.travel(T0 + dead, tick=False):
        with pytest.raises(TokenExpired):
            verify_token(purpose, token, settings=settings)
        assert verify_token(purpose, token, settings=settings, max_age=int(dead.total_seconds()) + 60)


def test_generated_key_is_persisted_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    token = make_token("unsubscribe", 5, 0, settings=settings)
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    tokens._persisted_key.cache_clear()  # a new process reads the file instead of minting a new key
    assert verify_token("unsubscribe", token, settings=Settings(data_dir=tmp_path / "data")).user_id == 5
    assert len(key_file.read_text().strip()) >= 43


def _race_for_the_key(tmp_path: Path, *, installs: int) -> tuple[list[str], int]:
    """Two processes (threads) starting at once on each of ``installs`` fresh data folders: the
    errors they met, and in how many folders they signed with different keys."""
    failures: list[str] = []
    keys_differ = 0
    for i in range(installs):
        settings = Settings(data_dir=tmp_path / f"install{i}")
        barrier = threading.Barrier(2)
        got: list[Any] = []

        def run(settings: Settings = settings, barrier: threading.Barrier = barrier, got: list[Any] = got) -> None:
            barrier.wait()
            try:
                got.append(tokens.secret_key(settings))
            except Exception as exc:  # the failure under test
                got.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        failures += [str(g) for g in got if isinstance(g, Exception)]
        if not failures and got[0] != got[1]:
            keys_differ += 1
    return failures, keys_differ


def test_two_processes_starting_at_once_on_a_new_install_get_the_same_key(tmp_path: Path) -> None:
    """Cron's `digest send` and an operator's start at the same moment on a fresh install; both need
    the signing key the first one generates. The key file appears whole or not at all (written to a
    temporary file, synced, then linked to its name), so neither fails on a partly written key nor
    signs with a key of its own."""
    failures, keys_differ = _race_for_the_key(tmp_path, installs=150)
    assert failures == [] and keys_differ == 0, failures[:1]
    assert not [p for p in tmp_path.rglob("*") if p.name != "secret_key" and p.is_file()]  # no temporary file left


def _without_hard_links(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """link(2) fails as it does on a filesystem without hard links (no such filesystem here)."""
    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(code, os.strerror(code), str(src), None, str(dst))

    monkeypatch.setattr(tokens.os, "link", link)


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.ENOSYS],
                         ids=["EPERM", "EOPNOTSUPP", "ENOTSUP", "EXDEV", "ENOSYS"])
def test_a_data_folder_without_hard_links_gets_its_key_all_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    code: int) -> None:
    """The data folder is on a mount without hard links (SMB, some FUSE filesystems and container
    volumes): the service still starts, the key file is private (0600), whole, and the one every
    later process reads; no temporary file is left."""
    _without_hard_links(monkeypatch, code)
    settings = Settings(data_dir=tmp_path / "data")
    token = make_token("unsubscribe", 5, 0, settings=settings)
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(key_file.read_text(encoding="ascii").strip()) >= 43 and key_file.read_text().endswith("\n")
    assert os.listdir(tmp_path / "data") == ["secret_key"]
    tokens._persisted_key.cache_clear()  # a new process reads the file instead of minting a new key
    assert verify_token("unsubscribe", token, settings=Settings(data_dir=tmp_path / "data")).user_id == 5


def test_without_hard_links_two_processes_starting_at_once_get_the_same_key(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of the test above, on a filesystem without hard links: the exclusive create lets
    one process write the key; the other finds the name taken, waits for the key to be complete
    and signs with it."""
    _without_hard_links(monkeypatch, errno.EPERM)
    failures, keys_differ = _race_for_the_key(tmp_path, installs=60)
    assert failures == [] and keys_differ == 0, failures[:1]
    assert not [p for p in tmp_path.rglob("*") if p.name != "secret_key" and p.is_file()]


def test_another_failure_to_link_the_key_is_not_papered_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk or an I/O error is reported, not answered with the fallback."""
    _without_hard_links(monkeypatch, errno.ENOSPC)
    with pytest.raises(OSError, match="No space left"):
        tokens.secret_key(Settings(data_dir=tmp_path / "data"))
    assert os.listdir(tmp_path / "data") == []


def test_a_key_file_found_short_is_read_again_before_it_is_refused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A key file still empty when read (a process of an older version creates it, then writes it)
    is read again for a moment; one that stays empty (a crash while it was first written) is
    refused with what to do, never while it may still be being written."""
    monkeypatch.setattr(tokens, "_KEY_SETTLE_SECONDS", 0.5)
    late = tmp_path / "late"
    late.mkdir()
    (late / "secret_key").write_text("")
    threading.Timer(0.1, lambda: (late / "secret_key").write_text("k" * 43 + "\n")).start()
    assert tokens.secret_key(Settings(data_dir=late)) == "k" * 43

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    (crashed / "secret_key").write_text("")
    with pytest.raises(DigestError, match="is empty.*delete it and a new key is generated"):
        tokens.secret_key(Settings(data_dir=crashed))


def test_env_key_wins_and_no_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET_KEY", "env-key-" + "9" * 32)
    settings = Settings(data_dir=tmp_path)
    assert tokens.secret_key(settings) == "env-key-" + "9" * 32
    make_token("feed", 1, 0, settings=settings)
    assert not (tmp_path / "secret_key").exists()


def test_urls_follow_base_url_and_documented_routes(settings: Settings) -> None:
    token = make_token("unsubscribe", 42, 0, settings=settings)
    assert tokens.unsubscribe_url(settings, token) == f"https://digest.example.org/unsubscribe/{token}"
    assert tokens.one_click_unsubscribe_url(settings, token) == \
        f"https://digest.example.org/unsubscribe/one-click/{token}"
    assert tokens.settings_url(settings) == "https://digest.example.org/alerts"
    assert tokens.feed_url(settings, "tok", "tag-graph nets", format="rss") == \
        "https://digest.example.org/feeds/tok/tag-graph%20nets.rss"
    mailto = tokens.unsubscribe_mailto(settings, token)
    assert mailto == f"mailto:digest@example.org?subject=unsubscribe%20{token}"


def test_feedback_urls_carry_kind_paper_and_author(settings: Settings) -> None:
    token = tokens.feedback_token(settings, 42, 2, "2026-11-24")
    url = tokens.feedback_url(settings, token, "mute-author", "doi:10.1101/a&b", author="José Ñ & Co")
    parts = urlsplit(url)
    assert parts.path == f"/feedback/{token}"
    assert parse_qs(parts.query) == {"k": ["a"], "p": ["doi:10.1101/a&b"], "a": ["José Ñ & Co"]}
    assert tokens.feedback_kind("a") == tokens.feedback_kind("mute-author") == "mute-author"
    assert verify_token("feedback", token, settings=settings, generation=2).data == {"d": "2026-11-24"}
    with pytest.raises(ValueError):
        tokens.feedback_url(settings, token, "mute-author", "arxiv:1")
    with pytest.raises(ValueError):
        tokens.feedback_url(settings, token, "delete-everything", "arxiv:1")


def test_feedback_tokens_are_compact_and_verify_like_the_others(settings: Settings) -> None:
    with time_machine.travel(T0, tick=False):
        token = tokens.feedback_token(settings, 123_456, 2, "2026-11-24")
        weekly = tokens.feedback_token(settings, 1, 0, "2026-W48")
    # Repeated in ~120 URLs of a digest: user, generation and period in clear, then time and HMAC.
    assert token.startswith("123456.2.2026-11-24.") and len(token) <= 60
    with time_machine.travel(T0 + timedelta(days=89), tick=False):
        data = verify_token("feedback", token, settings=settings, generation=2)
        assert (data.user_id, data.generation, data.issued, data.data) == (123_456, 2, T0, {"d": "2026-11-24"})
        assert verify_token("feedback", weekly, settings=settings).data == {"d": "2026-W48"}
        with pytest.raises(TokenRevoked):
            verify_token("feedback", token, settings=settings, generation=3)
    with time_machine.travel(T0 + timedelta(days=91), tick=False):
        with pytest.raises(TokenExpired):
            verify_token("feedback", token, settings=settings)


@pytest.mark.parametrize("mangle", [
    lambda t: t.replace("123456.", "123457.", 1),  # another user: the signature no longer fits
    lambda t: t.replace(".2.", ".3.", 1),  # another generation
    lambda t: t.replace("2026-11-24", "2026-11-25"),
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
    lambda t: t.rsplit(".", 1)[0],
])
def test_tampered_compact_feedback_tokens_are_invalid(settings: Settings, mangle: object) -> None:
    token = tokens.feedback_token(settings, 123_456, 2, "2026-11-24")
    with pytest.raises(TokenInvalid):
        verify_token("feedback", mangle(token), settings=settings)  # type: ignore[operator]


def test_compact_feedback_tokens_are_bound_to_their_purpose_and_key(settings: Settings) -> None:
    token = tokens.feedback_token(settings, 42, 0, "2026-11-24")
    for purpose in ("unsubscribe", "signin", "feed"):
        with pytest.raises(TokenInvalid):
            verify_token(purpose, token, settings=settings)
    other = Settings(web=settings.web, secret_key="another-key-" + "1" * 32)
    with pytest.raises(TokenInvalid):
        verify_token("feedback", token, settings=other)
    with pytest.raises(ValueError):
        tokens.feedback_token(settings, 42, 0, "2026-11-24.evil")  # a dot would make the value ambiguous


def test_feedback_links_already_in_mailboxes_keep_working(settings: Settings) -> None:
    # Before the compact form, feedback tokens were serializer tokens with {"d": period_key}.
    old = make_token("feedback", 42, 1, settings=settings, d="2026-11-24")
    assert verify_token("feedback", old, settings=settings, generation=1).data == {"d": "2026-11-24"}
    assert tokens.feedback_kind("not-relevant") == "not-relevant" and tokens.feedback_kind("x") is None
