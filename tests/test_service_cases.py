"""The service area from the operator's side: `digest import` (a file with errors changes nothing) and
`digest export`, configuration validation, `digest init` on a changed config (which the systemd unit of
docs/running.md runs before every start, so it must never undo what users did on the web), feed
intervals, the work queue in scale-out mode, and the signing key on a shared PostgreSQL database."""

from __future__ import annotations

import glob
import json
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result
from pydantic import SecretStr

from digest.cli import cli
from digest.config import FeedSettings, Settings, load_settings
from digest.errors import ConfigError
from digest.models import PaperRecord
from digest.schedule import enqueue_polls
from digest.store import Store

UTC = timezone.utc
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 23, 12, tzinfo=UTC)
NIGHT = datetime(2026, 11, 24, 3, tzinfo=UTC)
MORNING = datetime(2026, 11, 24, 7, 5, tzinfo=UTC)


def _invoke(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def _config(tmp_path: Path, url: str, body: str = "") -> Path:
    cfg = tmp_path / "digest.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{url}"\n'
                   f'[delivery]\nmethod = "maildir"\nmaildir = "{tmp_path / "mail"}"\n' + body, encoding="utf-8")
    return cfg


ADA = """
[[users]]
email = "ada@example.org"
name = "Ada Lovelace"
timezone = "Europe/London"
hour = 7

[[users.subscriptions]]
name = "diffusion"
query = "diffusion"
"""


#: A config user who leaves her delivery time to the defaults (or to what she sets on the web).
ADA_UNTIMED = """
[[users]]
email = "ada@example.org"
name = "Ada Lovelace"

[[users.subscriptions]]
name = "diffusion"
query = "diffusion"
"""

DDPM = PaperRecord(source_kind="arxiv-rss", external_id="2006.11239", arxiv_id="2006.11239",
                   title="Denoising Diffusion Probabilistic Models", authors=("Jonathan Ho", "Ajay Jain", "Pieter Abbeel"),
                   abstract="We present high quality image synthesis results using diffusion probabilistic models.",
                   categories=("cs.LG", "stat.ML"))
GCN = PaperRecord(source_kind="arxiv-rss", external_id="1609.02907", arxiv_id="1609.02907",
                  title="Semi-Supervised Classification with Graph Convolutional Networks",
                  authors=("Thomas N. Kipf", "Max Welling"),
                  abstract="Graph neural networks for semi-supervised node classification.", categories=("cs.LG",))


def _mail(tmp_path: Path) -> list[str]:
    return [Path(p).read_text(encoding="utf-8", errors="replace") for p in glob.glob(str(tmp_path / "mail" / "new" / "*"))]


def _users(url: str) -> list[tuple[str, str, int]]:
    store = Store.open(url, migrate=False)
    try:
        return [(u.email, u.timezone, u.hour) for u in store.list_users()]
    finally:
        store.close()


def _subs(url: str) -> list[tuple[str, str, str]]:
    store = Store.open(url, migrate=False)
    try:
        return [(s.user_email, s.name, s.query) for s in store.list_subscriptions()]
    finally:
        store.close()


# --- digest import: a file with errors must change nothing -----------------------------------------


def test_import_refuses_an_unknown_time_zone_instead_of_breaking_every_digest(tmp_path: Path, sqlite_url: str) -> None:
    """`digest import` refuses a time zone that does not exist ("Mars/Olympus", or a typo like
    "Europe/Berln"), naming the key, and stores nothing, as `digest users add --timezone` and the config
    do. One bad zone would stop `digest send` for every user; Ada's digest still goes out."""
    cfg = _config(tmp_path, sqlite_url, ADA)
    assert _invoke(cfg, "init").exit_code == 0
    bad = tmp_path / "users.toml"
    bad.write_text('[[users]]\nemail = "bob@example.org"\ntimezone = "Mars/Olympus"\n'
                   '[[users.subscriptions]]\nname = "gnn"\nquery = "graph neural networks"\n', encoding="utf-8")
    r = _invoke(cfg, "import", str(bad))
    assert r.exit_code != 0, r.output
    assert "Mars/Olympus" in r.output and "timezone" in r.output
    assert [u[0] for u in _users(sqlite_url)] == ["ada@example.org"]
    # And Ada's digest still goes out.
    with time_machine.travel(datetime(2026, 11, 25, 7, 30, tzinfo=UTC), tick=False):
        sent = _invoke(cfg, "send")
    assert sent.exit_code == 0, sent.output


def test_import_refuses_an_hour_outside_0_23(tmp_path: Path, sqlite_url: str) -> None:
    """`digest import` refuses `hour = 24` (meant as midnight) like the config does, naming the key, and
    stores nothing: an hour outside 0..23 would make every later send run fail for all users."""
    cfg = _config(tmp_path, sqlite_url, ADA)
    assert _invoke(cfg, "init").exit_code == 0
    bad = tmp_path / "users.toml"
    bad.write_text('[[users]]\nemail = "carol@example.org"\ntimezone = "America/New_York"\nhour = 24\n',
                   encoding="utf-8")
    r = _invoke(cfg, "import", str(bad))
    assert r.exit_code != 0, r.output
    assert "hour" in r.output
    assert [u[0] for u in _users(sqlite_url)] == ["ada@example.org"]


def test_import_with_an_error_late_in_the_file_changes_nothing(tmp_path: Path, sqlite_url: str) -> None:
    """A file with an error late in it (the second user's subscription has no `name`) changes nothing,
    not even the tag and the first user before it, and `digest import` prints a message naming the key,
    not a traceback."""
    cfg = _config(tmp_path, sqlite_url)
    assert _invoke(cfg, "init").exit_code == 0
    bad = tmp_path / "users.toml"
    bad.write_text("""
tags = [{ name = "rl", query = "reinforcement learning" }]

[[users]]
email = "ada@example.org"
timezone = "Europe/London"

[[users.subscriptions]]
name = "distillation"
query = "knowledge distillation"

[[users]]
email = "bob@example.org"

[[users.subscriptions]]
query = "graph neural networks"
""", encoding="utf-8")
    r = _invoke(cfg, "import", str(bad))
    assert r.exit_code != 0
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)  # a message, no traceback
    assert "name" in r.output
    assert _users(sqlite_url) == []
    store = Store.open(sqlite_url, migrate=False)
    try:
        assert store.list_tags() == []
    finally:
        store.close()


def test_import_with_a_bad_every_value_is_a_clear_error_and_stores_no_user(tmp_path: Path, sqlite_url: str) -> None:
    """`every = "monthly"` in an imported subscription is a clear error naming the value, not a
    traceback, and the user is not stored."""
    cfg = _config(tmp_path, sqlite_url)
    assert _invoke(cfg, "init").exit_code == 0
    bad = tmp_path / "users.toml"
    bad.write_text('[[users]]\nemail = "carol@example.org"\n'
                   '[[users.subscriptions]]\nname = "x"\nquery = "diffusion models"\nevery = "monthly"\n',
                   encoding="utf-8")
    r = _invoke(cfg, "import", str(bad))
    assert r.exit_code != 0
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "monthly" in r.output
    assert _users(sqlite_url) == []


def test_import_validates_subscription_queries(tmp_path: Path, sqlite_url: str) -> None:
    """`digest import` checks subscription queries like every other way of saving an alert (config, CLI,
    web): `query = "((diffusion"` is refused and no alert is stored, rather than one that never
    matches."""
    cfg = _config(tmp_path, sqlite_url)
    assert _invoke(cfg, "init").exit_code == 0
    bad = tmp_path / "users.toml"
    bad.write_text('[[users]]\nemail = "ada@example.org"\n'
                   '[[users.subscriptions]]\nname = "broken"\nquery = "((diffusion"\n', encoding="utf-8")
    r = _invoke(cfg, "import", str(bad))
    assert r.exit_code != 0, r.output
    assert _subs(sqlite_url) == []


def test_import_refuses_unknown_keys(tmp_path: Path, sqlite_url: str) -> None:
    """`digest import` refuses a misspelt key (`time_zone` for `timezone`) naming it, and stores
    nothing: the file has the config's layout, where unknown keys are errors, and a user with default
    settings would get mail at the wrong time."""
    cfg = _config(tmp_path, sqlite_url)
    assert _invoke(cfg, "init").exit_code == 0
    bad = tmp_path / "users.toml"
    bad.write_text('[[users]]\nemail = "eve@example.org"\ntime_zone = "Asia/Tokyo"\n', encoding="utf-8")
    r = _invoke(cfg, "import", str(bad))
    assert r.exit_code != 0, r.output
    assert "time_zone" in r.output
    assert _users(sqlite_url) == []


def test_import_of_a_wrongly_shaped_file_is_a_clear_error(tmp_path: Path, sqlite_url: str) -> None:
    """A wrongly shaped file (`users = ["ada@example.org", ...]`, addresses rather than tables) makes
    `digest import` print an error naming `users`, not crash."""
    cfg = _config(tmp_path, sqlite_url)
    assert _invoke(cfg, "init").exit_code == 0
    bad = tmp_path / "users.toml"
    bad.write_text('users = ["ada@example.org", "bob@example.org"]\n', encoding="utf-8")
    r = _invoke(cfg, "import", str(bad))
    assert r.exit_code != 0
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "users" in r.output


# --- digest export -----------------------------------------------------------------------------------


def test_export_keeps_not_relevant_feedback(tmp_path: Path, sqlite_url: str, _sqlite_template: Path) -> None:
    """`digest export` keeps "not relevant" feedback (-1 labels under "more-like-this", stored by the
    web's feedback links), also for a user who never gave a positive label, so moving her to a new
    installation keeps every "not relevant" she gave."""
    store = Store.open(sqlite_url, migrate=False)
    store.ingest_records("arxiv", [
        PaperRecord(source_kind="arxiv-rss", external_id="2006.11239", arxiv_id="2006.11239",
                    title="Denoising Diffusion Probabilistic Models"),
        PaperRecord(source_kind="arxiv-rss", external_id="1706.03762", arxiv_id="1706.03762",
                    title="Attention Is All You Need")])
    store.upsert_user("ada@example.org", name="Ada Lovelace")
    store.add_label("ada@example.org", "more-like-this", "arxiv:2006.11239", -1)
    store.add_label("ada@example.org", "more-like-this", "arxiv:1706.03762", -1)
    store.close()
    out = tmp_path / "export.toml"
    r = _invoke(_config(tmp_path, sqlite_url), "export", "--out", str(out))
    assert r.exit_code == 0, r.output
    [ada] = tomllib.loads(out.read_text(encoding="utf-8"))["users"]
    assert sorted((lab["paper"], lab["polarity"]) for lab in ada.get("labels", [])) == [
        ("arxiv:1706.03762", -1), ("arxiv:2006.11239", -1)]


def _other_installation(tmp_path: Path, template: Path, body: str = "") -> tuple[Path, str]:
    """A second, freshly initialised installation (config and database URL) to import into."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "digest.db").write_bytes(template.read_bytes())
    url = f"sqlite:///{other / 'digest.db'}"
    cfg = _config(other, url, body)
    assert _invoke(cfg, "init").exit_code == 0
    return cfg, url


def test_import_keeps_a_subscription_to_a_category_tag(tmp_path: Path, sqlite_url: str, _sqlite_template: Path) -> None:
    """Ada follows the arXiv category tag "cs.LG" (a tag the sources gave, which `digest export` leaves
    out). `digest import` into a fresh installation, which has no cs.LG paper yet, keeps her alert: an
    arXiv category is a tag the sources will give there too."""
    source = Store.open(sqlite_url, migrate=False)
    source.ingest_records("arxiv", [DDPM, GCN], now=NIGHT)
    cfg = _config(tmp_path, sqlite_url)
    assert _invoke(cfg, "match").exit_code == 0
    source.upsert_user("ada@example.org", name="Ada Lovelace")
    r = _invoke(cfg, "subscribe", "ada@example.org", "--tag", "cs.LG", "--name", "Machine learning")
    assert r.exit_code == 0, r.output
    source.close()
    out = tmp_path / "users.toml"
    assert _invoke(cfg, "export", "--out", str(out)).exit_code == 0

    cfg2, target_url = _other_installation(tmp_path, _sqlite_template)
    r = _invoke(cfg2, "import", str(out))
    assert r.exit_code == 0, r.output
    target = Store.open(target_url, migrate=False)
    try:
        assert [(s.name, s.kind, s.query) for s in target.list_subscriptions("ada@example.org")] == [
            ("Machine learning", "tag", "cs.LG")]
    finally:
        target.close()


def test_import_accepts_a_src_query_naming_a_configured_feed(tmp_path: Path, sqlite_url: str,
                                                             _sqlite_template: Path) -> None:
    """Ada's alert `src:iacr-eprint AND lattice` follows the IACR ePrint feed. `digest import` into an
    installation that configures the same feed but has not polled it yet accepts it, as `digest init`
    accepts the same query in the config."""
    feed = '[[feeds]]\nname = "iacr-eprint"\nkind = "rss"\nurl = "https://eprint.iacr.org/rss/rss.xml"\n'
    cfg = _config(tmp_path, sqlite_url, feed)
    assert _invoke(cfg, "init").exit_code == 0
    source = Store.open(sqlite_url, migrate=False)
    source.upsert_user("ada@example.org")
    source.add_subscription("ada@example.org", "lattices", query="src:iacr-eprint AND lattice")
    source.close()
    out = tmp_path / "users.toml"
    assert _invoke(cfg, "export", "--out", str(out)).exit_code == 0

    cfg2, _ = _other_installation(tmp_path, _sqlite_template, feed)
    r = _invoke(cfg2, "import", str(out), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["subscriptions"] == 1


# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize("category", ["cs.ML", "math.ZZ", "physics.foo"])
def test_config_refuses_arxiv_categories_that_do_not_exist(tmp_path: Path, category: str) -> None:
    """A feed category arXiv does not have is refused at load time, naming it and `feeds.0.categories`,
    even under a known archive: `cs.ML` is a classic slip (machine learning is cs.LG or stat.ML) and
    would poll no papers, ever."""
    cfg = tmp_path / "digest.toml"
    cfg.write_text(f'[[feeds]]\nname = "arxiv-ml"\nkind = "arxiv-rss"\ncategories = ["{category}"]\n',
                   encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert category in str(err.value) and "feeds.0.categories" in str(err.value)


def test_config_refuses_a_boolean_hour(tmp_path: Path) -> None:
    """`hour = true` in the config is refused naming `users.0.hour`, as `interval = true` is: a wrong
    type does not silently become a delivery time."""
    cfg = tmp_path / "digest.toml"
    cfg.write_text('[[users]]\nemail = "ada@example.org"\nhour = true\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "users.0.hour" in str(err.value)


def test_config_infinite_interval_is_a_clear_error(tmp_path: Path) -> None:
    """`interval = inf` (valid TOML) is the same one-line config error naming `feeds.0.interval` as
    every other bad interval, not a traceback."""
    cfg = tmp_path / "digest.toml"
    cfg.write_text('[[feeds]]\nname = "iacr"\nkind = "rss"\nurl = "https://eprint.iacr.org/rss/rss.xml"\n'
                   "interval = inf\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "feeds.0.interval" in str(err.value)


# --- digest init on a changed config -----------------------------------------------------------------


def test_removed_user_gets_no_digest_that_was_still_queued(tmp_path: Path, sqlite_url: str) -> None:
    """A user removed from the config and deactivated by `digest init` gets no digest that was already
    built into the outbox but not yet delivered (the relay was down, or the worker had not reached
    it)."""
    from digest.digests.send import send_due

    cfg = _config(tmp_path, sqlite_url, ADA.replace("Europe/London", "UTC"))
    with time_machine.travel(datetime(2026, 11, 23, 12, tzinfo=UTC), tick=False):
        assert _invoke(cfg, "init").exit_code == 0
    store = Store.open(sqlite_url, migrate=False)
    try:
        morning = datetime(2026, 11, 24, 3, tzinfo=UTC)
        store.ingest_records("arxiv", [PaperRecord(source_kind="arxiv-rss", external_id="2006.11239",
                                                   arxiv_id="2006.11239", title="Denoising Diffusion Probabilistic Models",
                                                   abstract="We present diffusion probabilistic models.")], now=morning)
        at = datetime(2026, 11, 24, 7, 5, tzinfo=UTC)
        with time_machine.travel(at, tick=False):
            report = send_due(store, load_settings(cfg), now=at, deliver=False)
            assert [p.outcome for p in report.planned] == ["enqueued"]
            cfg.write_text(cfg.read_text(encoding="utf-8").split("[[users]]")[0], encoding="utf-8")
            assert _invoke(cfg, "init").exit_code == 0
            assert [u.active for u in store.list_users()] == [False]
            assert _invoke(cfg, "send").exit_code == 0
    finally:
        store.close()
    assert glob.glob(str(tmp_path / "mail" / "new" / "*")) == []


def test_changed_subscription_query_no_longer_delivers_papers_of_the_old_query(tmp_path: Path, sqlite_url: str) -> None:
    """When Ada changes her alert's query in the config (`diffusion` -> `graph neural networks`) and the
    operator runs `digest init`, her next digest does not list the diffusion paper the old query matched
    overnight."""
    body = ADA.replace("Europe/London", "UTC").replace('name = "diffusion"', 'name = "alerts"')
    cfg = _config(tmp_path, sqlite_url, body)
    with time_machine.travel(datetime(2026, 11, 23, 12, tzinfo=UTC), tick=False):
        assert _invoke(cfg, "init").exit_code == 0
    night = datetime(2026, 11, 24, 3, tzinfo=UTC)
    store = Store.open(sqlite_url, migrate=False)
    store.ingest_records("arxiv", [
        PaperRecord(source_kind="arxiv-rss", external_id="2006.11239", arxiv_id="2006.11239",
                    title="Denoising Diffusion Probabilistic Models", abstract="We present diffusion models."),
        PaperRecord(source_kind="arxiv-rss", external_id="1609.02907", arxiv_id="1609.02907",
                    title="Semi-Supervised Classification with Graph Convolutional Networks",
                    abstract="Graph neural networks for semi-supervised node classification.")], now=night)
    store.close()
    with time_machine.travel(night, tick=False):
        assert _invoke(cfg, "match").exit_code == 0
        cfg.write_text(cfg.read_text(encoding="utf-8").replace('query = "diffusion"',
                                                               'query = "graph neural networks"'), encoding="utf-8")
        assert _invoke(cfg, "init").exit_code == 0
    with time_machine.travel(datetime(2026, 11, 24, 7, 5, tzinfo=UTC), tick=False):
        r = _invoke(cfg, "send")
        assert r.exit_code == 0, r.output
    messages = [Path(p).read_text(encoding="utf-8", errors="replace")
                for p in glob.glob(str(tmp_path / "mail" / "new" / "*"))]
    assert not any("Denoising Diffusion" in m for m in messages)


def test_init_does_not_resubscribe_a_user_who_unsubscribed(tmp_path: Path, sqlite_url: str) -> None:
    """A config user who unsubscribed from all digests with the link in a digest stays unsubscribed
    after `digest init` (every service start): only she resumes them, on the web."""
    cfg = _config(tmp_path, sqlite_url, ADA_UNTIMED)
    assert _invoke(cfg, "init").exit_code == 0
    store = Store.open(sqlite_url, migrate=False)
    try:
        store.unsubscribe_user("ada@example.org")  # what the one-click unsubscribe link does
        r = _invoke(cfg, "init")
        assert r.exit_code == 0, r.output
        assert store.get_user("ada@example.org").active is False
        store.set_user_active("ada@example.org", True)  # the web's "resume my digests"
        store.sync_config_users([])
        store.sync_config_users(load_settings(cfg).users)  # removed from the config and put back
        assert store.get_user("ada@example.org").active is True
    finally:
        store.close()


def test_init_does_not_resume_an_alert_paused_by_its_unsubscribe_link(tmp_path: Path, sqlite_url: str) -> None:
    """A config alert the user paused (the per-alert unsubscribe link in her digest) stays paused
    after `digest init`."""
    cfg = _config(tmp_path, sqlite_url, ADA_UNTIMED)
    assert _invoke(cfg, "init").exit_code == 0
    store = Store.open(sqlite_url, migrate=False)
    try:
        sub = store.get_subscription("ada@example.org/diffusion")
        store.update_subscription(sub.id, paused=True)  # what the per-alert unsubscribe link does
        r = _invoke(cfg, "init")
        assert r.exit_code == 0, r.output
        assert store.get_subscription("ada@example.org/diffusion").paused is True
    finally:
        store.close()


def test_init_keeps_the_delivery_time_a_user_chose_on_the_web(tmp_path: Path, sqlite_url: str) -> None:
    """The config names Ada but not her time zone or hour; she sets "Asia/Tokyo, 08:00" on the web.
    `digest init` keeps it: only the settings the config file gives are applied to a stored user."""
    cfg = _config(tmp_path, sqlite_url, ADA_UNTIMED)
    assert _invoke(cfg, "init").exit_code == 0
    store = Store.open(sqlite_url, migrate=False)
    try:
        store.set_delivery_time("ada@example.org", timezone="Asia/Tokyo", hour=8, weekday=0)
        assert _invoke(cfg, "init").exit_code == 0
        ada = store.get_user("ada@example.org")
        assert (ada.timezone, ada.hour, ada.name) == ("Asia/Tokyo", 8, "Ada Lovelace")
        cfg = _config(tmp_path, sqlite_url, ADA_UNTIMED.replace('name = "Ada Lovelace"', 'name = "Ada"\nhour = 6'))
        assert _invoke(cfg, "init").exit_code == 0
        ada = store.get_user("ada@example.org")
        assert (ada.timezone, ada.hour, ada.name) == ("Asia/Tokyo", 6, "Ada")
    finally:
        store.close()


def test_init_with_a_bad_query_applies_no_feed_change(tmp_path: Path, sqlite_url: str) -> None:
    """A config edit that adds a feed, drops another and mistypes a query (an unclosed parenthesis) is
    refused whole: `digest init` names the query's key and no feed changes."""
    old = '[[feeds]]\nname = "biorxiv-neuro"\nkind = "biorxiv"\nserver = "biorxiv"\n'
    cfg = _config(tmp_path, sqlite_url, old + ADA_UNTIMED)
    assert _invoke(cfg, "init").exit_code == 0
    new = '[[feeds]]\nname = "iacr-eprint"\nkind = "rss"\nurl = "https://eprint.iacr.org/rss/rss.xml"\n'
    cfg = _config(tmp_path, sqlite_url, new + ADA_UNTIMED.replace('query = "diffusion"', 'query = "(diffusion OR score-based"'))
    r = _invoke(cfg, "init")
    assert r.exit_code != 0 and "users.0.subscriptions.0.query" in r.output
    store = Store.open(sqlite_url, migrate=False)
    try:
        assert [f.name for f in store.feed_states()] == ["biorxiv-neuro"]
    finally:
        store.close()


def test_renaming_a_config_alert_keeps_the_papers_it_matched_overnight(tmp_path: Path, sqlite_url: str) -> None:
    """A config alert renamed with its query unchanged ("diffusion" -> "Diffusion models") is renamed
    in place: the paper it matched overnight is still in the next morning's digest."""
    cfg = _config(tmp_path, sqlite_url, ADA_UNTIMED)
    with time_machine.travel(EVENING, tick=False):
        assert _invoke(cfg, "init").exit_code == 0
    store = Store.open(sqlite_url, migrate=False)
    store.ingest_records("arxiv", [DDPM], now=NIGHT)
    store.close()
    with time_machine.travel(NIGHT, tick=False):
        assert _invoke(cfg, "match").exit_code == 0
        cfg.write_text(cfg.read_text(encoding="utf-8").replace('name = "diffusion"', 'name = "Diffusion models"'),
                       encoding="utf-8")
        assert _invoke(cfg, "init").exit_code == 0
    assert [s.name for s in Store.open(sqlite_url, migrate=False).list_subscriptions()] == ["Diffusion models"]
    with time_machine.travel(MORNING, tick=False):
        r = _invoke(cfg, "send")
    assert any("Denoising Diffusion" in m for m in _mail(tmp_path)), r.output


def test_removing_a_tag_that_users_follow_is_refused(tmp_path: Path, sqlite_url: str) -> None:
    """Renaming (or removing) a config tag that an alert follows would leave the alert silently
    matching nothing: `digest init` refuses, naming the alert, and the tag stays."""
    tag = '[[tags]]\nname = "diffusion"\nquery = "diffusion OR score-based"\n'
    cfg = _config(tmp_path, sqlite_url, tag + '[[users]]\nemail = "ada@example.org"\n')
    assert _invoke(cfg, "init").exit_code == 0
    assert _invoke(cfg, "subscribe", "ada@example.org", "--tag", "diffusion", "--name", "Diffusion papers").exit_code == 0
    cfg = _config(tmp_path, sqlite_url, tag.replace('"diffusion"', '"generative"') + '[[users]]\nemail = "ada@example.org"\n')
    r = _invoke(cfg, "init")
    assert r.exit_code != 0 and "ada@example.org/Diffusion papers" in r.output, r.output
    store = Store.open(sqlite_url, migrate=False)
    try:
        assert [t.name for t in store.list_tags()] == ["diffusion"]
    finally:
        store.close()


def test_changed_tag_query_no_longer_delivers_papers_of_the_old_query(tmp_path: Path, sqlite_url: str) -> None:
    """When a config tag's query changes ("diffusion" -> "graph neural networks"), `digest init` drops
    what the old query tagged and what the alerts following the tag matched through it, and tags the
    stored papers with the new query: the next digest does not list the old query's paper under it."""
    user = '[[users]]\nemail = "ada@example.org"\ntimezone = "UTC"\n'
    cfg = _config(tmp_path, sqlite_url, '[[tags]]\nname = "gnn"\nquery = "diffusion"\n' + user)
    with time_machine.travel(EVENING, tick=False):
        assert _invoke(cfg, "init").exit_code == 0
        assert _invoke(cfg, "subscribe", "ada@example.org", "--tag", "gnn", "--name", "GNN").exit_code == 0
    store = Store.open(sqlite_url, migrate=False)
    store.ingest_records("arxiv", [DDPM, GCN], now=NIGHT)
    with time_machine.travel(NIGHT, tick=False):
        assert _invoke(cfg, "match").exit_code == 0
        assert store.papers_with_tag("gnn") == ["arxiv:2006.11239"]
        cfg = _config(tmp_path, sqlite_url, '[[tags]]\nname = "gnn"\nquery = "graph neural networks"\n' + user)
        assert _invoke(cfg, "init").exit_code == 0
        assert store.papers_with_tag("gnn") == ["arxiv:1609.02907"]
    store.close()
    with time_machine.travel(MORNING, tick=False):
        r = _invoke(cfg, "send")
        assert r.exit_code == 0, r.output
    assert not any("Denoising Diffusion" in m for m in _mail(tmp_path))


def test_config_tag_may_not_take_the_name_of_a_category_tag(tmp_path: Path, sqlite_url: str) -> None:
    """Stored papers carry the source tag "cs.LG" (their arXiv category). A config tag named "cs.LG" is
    refused (removing it later would delete the category tag from every paper): `digest init` names
    the key, and the papers' cs.LG tag stays the sources'."""
    cfg = _config(tmp_path, sqlite_url)
    assert _invoke(cfg, "init").exit_code == 0
    store = Store.open(sqlite_url, migrate=False)
    store.ingest_records("arxiv", [DDPM, GCN], now=NIGHT)
    assert _invoke(cfg, "match").exit_code == 0
    assert sorted(store.papers_with_tag("cs.LG")) == ["arxiv:1609.02907", "arxiv:2006.11239"]
    cfg = _config(tmp_path, sqlite_url, '[[tags]]\nname = "cs.LG"\nquery = "cat:cs.LG OR cat:stat.ML"\n')
    r = _invoke(cfg, "init")
    assert r.exit_code != 0 and "tags.0.name" in r.output and "'cs.LG'" in r.output, r.output
    assert _invoke(_config(tmp_path, sqlite_url), "init").exit_code == 0
    try:
        assert store.get_tag("cs.LG").origin == "source"
        assert sorted(store.papers_with_tag("cs.LG")) == ["arxiv:1609.02907", "arxiv:2006.11239"]
    finally:
        store.close()


def test_unchanged_config_still_inits_after_the_corpus_grew(tmp_path: Path, sqlite_url: str) -> None:
    """A config alert "quantum" accepted on an empty store is not refused weeks later, when nearly
    every stored quant-ph paper says "quantum": a query stored unchanged is not estimated again, so
    `digest init` (ExecStartPre of the systemd unit) keeps starting the service. The same query in
    a new alert is still refused as too broad."""
    body = ADA_UNTIMED.replace('query = "diffusion"', 'query = "quantum"')
    cfg = _config(tmp_path, sqlite_url, body)
    assert _invoke(cfg, "init").exit_code == 0
    store = Store.open(sqlite_url, migrate=False)
    topics = ["error correction with surface codes", "key distribution over metropolitan fibre",
              "advantage in random circuit sampling", "walks on graphs", "metrology with squeezed light",
              "annealing for portfolio optimisation", "entanglement in many-body systems",
              "machine learning kernels", "simulation of lattice gauge theories", "memories in rare-earth crystals"]
    store.ingest_records("arxiv", [
        PaperRecord(source_kind="arxiv-rss", external_id=f"2411.{i:05d}", arxiv_id=f"2411.{i:05d}",
                    title=f"Quantum {topics[i % 10]} ({i})",
                    abstract="We study quantum systems and report experimental and numerical results.",
                    categories=("quant-ph",)) for i in range(1, 61)], now=NIGHT)
    store.close()
    assert _invoke(cfg, "match").exit_code == 0
    r = _invoke(cfg, "init")
    assert r.exit_code == 0, r.output
    cfg = _config(tmp_path, sqlite_url, body + '[[users.subscriptions]]\nname = "more quantum"\nquery = "quantum"\n')
    r = _invoke(cfg, "init")
    assert r.exit_code != 0 and "users.0.subscriptions.1.query" in r.output and "would match about" in r.output


def test_config_alert_may_not_take_the_name_of_the_users_own_alert(tmp_path: Path, sqlite_url: str) -> None:
    """Ada made her own alert "diffusion" on the web. A config alert of the same name for her is refused,
    naming her and the alert, so the config never takes her alert over (nor deletes it when the
    config alert goes)."""
    user = '[[users]]\nemail = "ada@example.org"\n'
    cfg = _config(tmp_path, sqlite_url, user)
    assert _invoke(cfg, "init").exit_code == 0
    store = Store.open(sqlite_url, migrate=False)
    try:
        store.add_subscription("ada@example.org", "diffusion", query='"diffusion model" OR "score-based"', origin="web")
        cfg = _config(tmp_path, sqlite_url, user + '[[users.subscriptions]]\nname = "diffusion"\nquery = "diffusion"\n')
        r = _invoke(cfg, "init")
        assert r.exit_code != 0 and "users.0.subscriptions.0.name" in r.output and "ada@example.org" in r.output
        assert store.get_subscription("ada@example.org/diffusion").origin == "web"
        assert _invoke(_config(tmp_path, sqlite_url, user), "init").exit_code == 0
        assert [s.name for s in store.list_subscriptions("ada@example.org")] == ["diffusion"]
    finally:
        store.close()


def test_shortened_feed_interval_takes_effect_at_once(sqlite_store: Store) -> None:
    """A feed interval shortened in the config (`"1d"` -> `"1h"`) takes effect at once: the feed is due
    two hours after its last poll, not when the old interval would have ended."""
    feed = FeedSettings(name="iacr-eprint", kind="rss", url="https://eprint.iacr.org/rss/rss.xml", interval="1d")
    sqlite_store.sync_feeds([feed])
    sqlite_store.record_fetch("iacr-eprint", now=T0, outcome="ok", entry_count=12, batch_hash="b1")
    sqlite_store.sync_feeds([feed.model_copy(update={"interval": 3600})])
    assert sqlite_store.get_feed_state("iacr-eprint").interval_seconds == 3600
    assert [s.name for s in sqlite_store.due_feeds(T0 + timedelta(hours=2))] == ["iacr-eprint"]


# --- the work queue (scale-out) ----------------------------------------------------------------------


def test_feed_whose_fetch_unit_failed_for_good_is_polled_again(tmp_path: Path, sqlite_store: Store) -> None:
    """In scale-out mode a feed whose fetch unit failed for good (five failures while the database
    failed over, so the worker could not even record the fetch) is enqueued and polled again when next
    due, so its papers are not lost."""
    settings = Settings(data_dir=tmp_path, feeds=[FeedSettings(name="iacr-eprint", kind="rss",
                                                               url="https://eprint.iacr.org/rss/rss.xml",
                                                               interval="6h")])
    assert enqueue_polls(settings, sqlite_store, T0) == 1
    now = T0
    for _ in range(5):
        [item] = sqlite_store.claim_work("host-a-1", ["fetch"], 300, now=now)
        sqlite_store.fail_work(item.id, "host-a-1", "OperationalError: server closed the connection unexpectedly",
                               now=now)
        now += timedelta(minutes=10)
    assert [i.status for i in sqlite_store.list_work(kind="fetch")] == ["failed"]
    later = T0 + timedelta(hours=7)
    assert enqueue_polls(settings, sqlite_store, later) == 1
    assert sqlite_store.claim_work("host-a-1", ["fetch"], 300, now=later)


def test_unit_that_kills_its_worker_is_not_reclaimed_forever(sqlite_store: Store) -> None:
    """A unit whose worker dies while running it (OOM-killed on a huge feed, a parser segfault) is
    reclaimed after lease expiry at most MAX_ATTEMPTS times, then marked failed, so it cannot take down
    one worker after another."""
    from digest.store.work import MAX_ATTEMPTS

    sqlite_store.enqueue_work("fetch", "feed:huge:never", {"feed": "huge"}, now=T0)
    now = T0
    claims = 0
    for n in range(MAX_ATTEMPTS + 3):
        if sqlite_store.claim_work(f"worker-{n}", ["fetch"], 300, now=now):
            claims += 1  # ... and the worker dies without renewing or finishing
        now += timedelta(minutes=6)
    assert claims <= MAX_ATTEMPTS
    item = sqlite_store.get_work("fetch", "feed:huge:never")
    assert item is not None and item.status == "failed"


def test_shared_postgresql_needs_one_signing_key_for_every_host(tmp_path: Path) -> None:
    """On PostgreSQL, signing a link without DIGEST_SECRET_KEY is a configuration error naming the
    variable: `digest worker` on one host signs the links in digests and `digest web` on another answers
    them (docs/running.md, "Several workers on PostgreSQL"), so every host needs the same key."""
    from digest.tokens import make_token

    settings = Settings(data_dir=tmp_path / "host-a")
    settings.database.url = "postgresql+psycopg://digest@db.internal/digest"
    with pytest.raises(ConfigError, match="DIGEST_SECRET_KEY"):
        make_token("unsubscribe", 1, 0, settings=settings)
    settings.secret_key = SecretStr("s" * 40)
    assert make_token("unsubscribe", 1, 0, settings=settings)


def test_misspelt_section_in_an_environment_override_is_an_error(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt section in an environment override (`DIGEST_DATABSE__URL` in a systemd
    EnvironmentFile) is a config error naming the variable, like a misspelt key; ignored, the service
    would start on a fresh SQLite file instead of the shared PostgreSQL database."""
    cfg = tmp_path / "digest.toml"
    cfg.write_text('[web]\nbase_url = "https://papers.example.org"\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_DATABSE__URL", "postgresql://digest@db.internal/digest")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "DIGEST_DATABSE__URL" in str(err.value)
