"""Service commands: export/import round trip, the operator's sign-in link, status sections."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from click.testing import CliRunner

from digest.cli import cli
from digest.models import PaperRecord
from digest.store import Store
from digest.text import MutedAuthors


def _config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "digest.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{url}"\n', encoding="utf-8")
    return cfg


def _populate(store: Store) -> None:
    store.ingest_records("arxiv", [PaperRecord(source_kind="arxiv-rss", external_id="2411.00001",
                                               arxiv_id="2411.00001", title="Diffusion models")])
    store.upsert_user("ada@example.org", name="Ada Lovelace", timezone="Europe/Berlin", hour=6, weekday=2)
    store.add_subscription("ada@example.org", "Diffusion", query='ti:"diffusion model" OR au:"Ho, J."',
                           every="weekly", channel="feed", threshold=1.5)
    store.add_subscription("ada@example.org", "Hot", kind="trending", channel="email", paused=True)
    store.add_label("ada@example.org", "generative", "arxiv:2411.00001")
    for name in ("Łukasz Kaiser", "Jean Dupont-Martin", "Ludwig van Beethoven", "The ATLAS Collaboration"):
        store.mute_author("ada@example.org", name)
    store.upsert_user("bob@example.org")
    store.set_user_active("bob@example.org", False)
    store.upsert_user("cyd@example.org")
    store.unsubscribe_user("cyd@example.org")  # stopped their digests with an unsubscribe link
    store.upsert_tag("rl", "reinforcement learning OR cat:cs.LG")


def _snapshot(store: Store) -> dict[str, object]:
    users = {}
    for u in store.list_users():
        users[u.email] = {
            "user": (u.name, u.timezone, u.hour, u.weekday, u.active, u.unsubscribed),
            "subs": sorted((s.name, s.kind, s.query, s.every, s.channel, s.threshold, s.paused)
                           for s in store.list_subscriptions(u.id)),
            "labels": sorted((t, store.labels(u.id, t)) for t, _ in store.user_tags(u.id)),
            "muted": sorted(store.muted_authors(u.id)),
        }
    return {"users": users, "tags": sorted((t.name, t.query) for t in store.list_tags())}


def test_export_import_round_trip(tmp_path: Path, sqlite_url: str, _sqlite_template: Path) -> None:
    source = Store.open(sqlite_url, migrate=False)
    _populate(source)
    out = tmp_path / "export.toml"
    runner = CliRunner()
    r = runner.invoke(cli, ["--config", str(_config(tmp_path, sqlite_url)), "export", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    assert [u["email"] for u in data["users"]] == ["ada@example.org", "bob@example.org", "cyd@example.org"]
    assert [u.get("unsubscribed") for u in data["users"]] == [None, None, True]
    assert data["users"][0]["subscriptions"][0]["name"] == "Diffusion"

    # A second installation that already holds the paper (labels refer to stored papers).
    target_db = tmp_path / "other" / "digest.db"
    target_db.parent.mkdir()
    target_db.write_bytes(_sqlite_template.read_bytes())
    target_url = f"sqlite:///{target_db}"
    target = Store.open(target_url, migrate=False)
    target.ingest_records("arxiv", [PaperRecord(source_kind="arxiv-rss", external_id="2411.00001",
                                                arxiv_id="2411.00001", title="Diffusion models")])
    cfg2 = _config(tmp_path / "other", target_url)
    r = runner.invoke(cli, ["--config", str(cfg2), "import", str(out), "--json"])
    assert r.exit_code == 0, r.output
    counts = json.loads(r.output)
    assert counts["users"] == 3 and counts["subscriptions"] == 2 and counts["labels"] == 1 and counts["tags"] == 1
    assert _snapshot(target) == _snapshot(source)
    # The target's config naming the user who unsubscribed (`digest init`) does not restart them.
    assert not target.upsert_user("cyd@example.org").active
    # Importing twice changes nothing.
    assert runner.invoke(cli, ["--config", str(cfg2), "import", str(out)]).exit_code == 0
    assert _snapshot(target) == _snapshot(source)
    # And exporting the copy gives the same file.
    r = runner.invoke(cli, ["--config", str(cfg2), "export"])
    assert tomllib.loads(r.output) == data
    source.close()
    target.close()


def test_a_muted_author_who_goes_by_a_middle_name_survives_export_and_import(
        tmp_path: Path, sqlite_url: str, _sqlite_template: Path) -> None:
    """A reader muted "S. James Gates, Jr." from a paper's card. Moved to another installation with
    `digest export` and `digest import`, the mute still hides his papers listed as "James Gates" (the
    export keeps every given name, not "S. Gates"), and still not Robert Gates's."""
    source = Store.open(sqlite_url, migrate=False)
    source.upsert_user("ada@example.org")
    source.mute_author("ada@example.org", "S. James Gates, Jr.")
    out = tmp_path / "export.toml"
    runner = CliRunner()
    r = runner.invoke(cli, ["--config", str(_config(tmp_path, sqlite_url)), "export", "--out", str(out)])
    assert r.exit_code == 0, r.output
    target_db = tmp_path / "other" / "digest.db"
    target_db.parent.mkdir()
    target_db.write_bytes(_sqlite_template.read_bytes())
    target_url = f"sqlite:///{target_db}"
    r = runner.invoke(cli, ["--config", str(_config(tmp_path / "other", target_url)), "import", str(out)])
    assert r.exit_code == 0, r.output
    target = Store.open(target_url, migrate=False)
    keys = target.muted_authors("ada@example.org")
    assert keys == source.muted_authors("ada@example.org")
    muted = MutedAuthors(keys)
    assert muted.hides(["James Gates"]) and muted.hides(["Sylvester James Gates"]) and muted.hides(["S. J. Gates"])
    assert not muted.hides(["Robert Gates"])
    source.close()
    target.close()


def test_import_rejects_bad_toml(tmp_path: Path, sqlite_url: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("users = [", encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, sqlite_url)), "import", str(bad)])
    assert r.exit_code != 0 and "not valid TOML" in r.output and "Traceback" not in r.output


def test_users_link_prints_a_sign_in_url(tmp_path: Path, sqlite_url: str) -> None:
    store = Store.open(sqlite_url, migrate=False)
    store.upsert_user("ada@example.org")
    store.close()
    r = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, sqlite_url)), "users", "link", "ada@example.org"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("http://localhost:8000/signin/")
    r = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, sqlite_url)), "users", "link", "nobody@x.org"])
    assert r.exit_code != 0 and "no user" in r.output


def test_status_has_service_sections(tmp_path: Path, sqlite_url: str) -> None:
    store = Store.open(sqlite_url, migrate=False)
    store.enqueue_work("fetch", "feed:a:1")
    store.record_job_start("match")
    store.record_job_end("match")
    store.close()
    r = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, sqlite_url)), "status", "--json"])
    assert r.exit_code == 0, r.output
    status = json.loads(r.output)
    assert status["matching lag"]["lag"] == 0
    assert status["work queue"]["counts"] == {"fetch": {"queued": 1}}
    assert status["work queue"]["jobs"]["match"]["runs"] == 1
    assert set(status["next scheduled runs"]) == {"poll-feeds", "match", "send-digests", "retention"}


def test_digest_run_serves_web_and_stops_cleanly_on_sigterm(tmp_path: Path, sqlite_url: str) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _config(tmp_path, sqlite_url)
    proc = subprocess.Popen([sys.executable, "-c", "from digest.cli import main; main()", "--config", str(cfg),
                             "run", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "digest run did not serve /healthz"
            time.sleep(0.05)
        store = Store.open(sqlite_url, migrate=False)
        deadline = time.monotonic() + 60
        while not {"poll-feeds", "match", "send-digests"} <= {r.job_id for r in store.job_runs() if r.last_end}:
            assert time.monotonic() < deadline, "the scheduler did not run its jobs on start"
            time.sleep(0.05)
        store.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "received SIGTERM" in err and "scheduler stopped cleanly" in err
