"""Users, subscriptions, topic tags, labels and muted authors, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from digest.config import SubscriptionSettings, TagSettings, UserSettings
from digest.errors import ConflictError, NotFoundError
from digest.store import Store
from digest.text import MutedAuthors
from digest.store.schema import PaperRow


def _paper(store: Store, pid: str, title: str = "A paper") -> None:
    # The paper store's own ingest API is exercised in its tests; a bare row is enough here.
    with store.write() as conn:
        conn.execute(PaperRow.__table__.insert().values(
            id=pid, title=title, title_key=title.lower(), first_author_key="", authors=[], abstract="",
            categories=[], keywords=[], first_seen=datetime(2026, 1, 1, tzinfo=timezone.utc), seq=0))


def test_upsert_user_keeps_id_and_token(store: Store) -> None:
    u = store.upsert_user("Ada@Example.org", name="Ada", timezone="Europe/London", hour=6)
    assert u.email == "ada@example.org" and u.name == "Ada" and u.hour == 6
    assert len(u.feed_token) >= 32
    again = store.upsert_user("ada@example.org", name="Ada L.", hour=8)
    assert (again.id, again.feed_token) == (u.id, u.feed_token)
    assert again.name == "Ada L." and again.hour == 8
    assert store.get_user(u.id) == again == store.get_user("ADA@example.org")
    assert [x.email for x in store.list_users()] == ["ada@example.org"]


def test_unknown_user_and_bad_email(store: Store) -> None:
    with pytest.raises(NotFoundError) as err:
        store.get_user("nobody@example.org")
    assert err.value.key == "nobody@example.org"
    with pytest.raises(ValueError):
        store.upsert_user("not-an-address")


def test_tokens_rotate(store: Store) -> None:
    u = store.upsert_user("a@example.org")
    token = store.rotate_feed_token(u.email)
    assert token != u.feed_token
    assert store.user_by_feed_token(token).id == u.id
    with pytest.raises(NotFoundError):
        store.user_by_feed_token(u.feed_token)
    assert store.bump_token_generation(u.id) == 1
    assert store.bump_token_generation(u.id) == 2
    assert store.get_user(u.id).token_generation == 2


def test_subscriptions_crud(store: Store) -> None:
    u = store.upsert_user("a@example.org")
    s = store.add_subscription(u.email, "diffusion", query="diffusion models", every="weekly", channel="feed",
                               threshold=2.5)
    assert (s.user_email, s.kind, s.every, s.channel, s.threshold) == ("a@example.org", "query", "weekly", "feed", 2.5)
    assert store.get_subscription("a@example.org/diffusion") == s == store.get_subscription(s.id)
    assert store.get_subscription(str(s.id)) == s
    # Same name again is refused, unless replacing (config, import): that keeps the id.
    with pytest.raises(ConflictError, match="already has a subscription named 'diffusion'"):
        store.add_subscription(u.id, "diffusion", query="score matching")
    s2 = store.add_subscription(u.id, "diffusion", query="score matching", replace=True)
    assert s2.id == s.id and s2.query == "score matching" and s2.every == "daily"
    paused = store.update_subscription(s.id, paused=True, threshold=None)
    assert paused.paused and paused.threshold is None
    store.add_subscription(u.id, "trend", kind="trending")
    assert [x.name for x in store.list_subscriptions(u.email)] == ["diffusion", "trend"]
    assert [x.name for x in store.list_subscriptions(active_only=True)] == ["trend"]
    assert [x.name for x in store.list_subscriptions(kinds=["query"])] == ["diffusion"]
    store.delete_subscription("a@example.org/diffusion")
    with pytest.raises(NotFoundError):
        store.get_subscription("a@example.org/diffusion")
    with pytest.raises(NotFoundError):
        store.delete_subscription(999999)


def test_subscription_validation(store: Store) -> None:
    store.upsert_user("a@example.org")
    with pytest.raises(ValueError, match="every"):
        store.add_subscription("a@example.org", "x", query="q", every="hourly")
    with pytest.raises(ValueError, match="channel"):
        store.add_subscription("a@example.org", "x", query="q", channel="sms")
    with pytest.raises(ValueError, match="kind"):
        store.add_subscription("a@example.org", "x", kind="magic")
    with pytest.raises(NotFoundError):
        store.add_subscription("b@example.org", "x", query="q")
    with pytest.raises(TypeError):
        store.update_subscription("a@example.org/x", user_id=3)


def test_sync_config_users_leaves_cli_rows_alone(store: Store) -> None:
    cli_user = store.upsert_user("cli@example.org")
    store.add_subscription(cli_user.id, "mine", query="graphs")
    conf = [UserSettings(email="ada@example.org", name="Ada", subscriptions=[
        SubscriptionSettings(name="llm", query="large language models", every="weekly", threshold=3.0),
        SubscriptionSettings(name="rl", query="reinforcement learning")])]
    counts = store.sync_config_users(conf)
    assert counts["users"] == 1 and counts["subscriptions"] == 2
    ada = store.get_user("ada@example.org")
    assert ada.origin == "config" and ada.name == "Ada"
    # A CLI subscription added to the config user survives a re-sync; a dropped config one goes.
    store.add_subscription(ada.id, "by-hand", query="robots")
    conf[0].subscriptions.pop()
    counts = store.sync_config_users(conf)
    assert counts["removed_subscriptions"] == 1
    assert {s.name for s in store.list_subscriptions(ada.id)} == {"llm", "by-hand"}
    assert store.get_subscription("ada@example.org/llm").threshold == 3.0
    # Dropping the user from the config deactivates it (history kept), CLI user untouched.
    store.sync_config_users([])
    assert not store.get_user(ada.id).active
    assert store.get_user(cli_user.id).active
    assert {s.name for s in store.list_subscriptions(ada.id)} == {"by-hand"}
    assert [s.name for s in store.list_subscriptions(active_only=True)] == ["mine"]
    # Back in the config: same user, same feed token.
    store.sync_config_users(conf)
    back = store.get_user("ada@example.org")
    assert back.active and back.feed_token == ada.feed_token


def test_config_sync_keeps_what_users_chose(store: Store) -> None:
    """Re-applying the config never undoes a user's own choices: unsubscribing from everything (only
    resuming undoes it), a paused alert, and the settings the file does not give. A config alert
    renamed with the same query keeps its row; a name the user took for an alert of their own is
    not the config's to replace."""
    conf = [UserSettings(email="ada@example.org", name="Ada", subscriptions=[SubscriptionSettings(name="d", query="diffusion")])]
    store.sync_config_users(conf)
    sub = store.get_subscription("ada@example.org/d")
    store.update_subscription(sub.id, paused=True)
    store.set_delivery_time("ada@example.org", timezone="Asia/Tokyo", hour=8, weekday=3)
    store.unsubscribe_user("ada@example.org")
    store.sync_config_users(conf)
    ada = store.get_user("ada@example.org")
    assert not ada.active and (ada.timezone, ada.hour, ada.weekday) == ("Asia/Tokyo", 8, 3)
    assert store.get_subscription(sub.id).paused
    store.set_user_active("ada@example.org", True)  # the web's "resume"
    store.sync_config_users([])  # removed from the config (her config alerts go) and put back
    store.sync_config_users(conf)
    assert store.get_user("ada@example.org").active
    sub = store.get_subscription("ada@example.org/d")
    conf[0].subscriptions[0] = SubscriptionSettings(name="Diffusion models", query="diffusion")
    store.sync_config_users(conf)
    assert [(s.id, s.name) for s in store.list_subscriptions("ada@example.org")] == [(sub.id, "Diffusion models")]
    store.add_subscription("ada@example.org", "mine", query="graphs", origin="web")
    conf[0].subscriptions.append(SubscriptionSettings(name="mine", query="gnn"))
    with pytest.raises(ConflictError):
        store.sync_config_users(conf)
    assert store.get_subscription("ada@example.org/mine").query == "graphs"


def test_changed_tag_query_forgets_what_the_old_one_found(store: Store) -> None:
    """A tag whose query changes loses the papers the old query tagged and the matches of the alerts
    following it (they are re-found with the new query); an unchanged re-sync keeps them."""
    from digest.store.matches import NewMatch, NewPaperTag

    _paper(store, "arxiv:1")
    store.sync_tags([TagSettings(name="gnn", query="diffusion")])
    tag = store.get_tag("gnn")
    store.save_paper_tags([NewPaperTag(tag.id, "arxiv:1", 1.0, {})])
    store.upsert_user("a@example.org")
    sub = store.add_subscription("a@example.org", "GNN", kind="tag", query="gnn")
    store.save_matches([NewMatch(sub.id, "arxiv:1", 1.0, {}, 0)])
    store.sync_tags([TagSettings(name="gnn", query="diffusion")])
    assert store.papers_with_tag("gnn") == ["arxiv:1"] and len(store.matches(subscription=sub.id)) == 1
    store.sync_tags([TagSettings(name="gnn", query="graph neural networks")])
    assert store.papers_with_tag("gnn") == [] and store.matches(subscription=sub.id) == []


def test_sync_tags(store: Store) -> None:
    store.upsert_tag("mine", "ti:graph", origin="cli")
    store.sync_tags([TagSettings(name="llm", query="llm OR \"language model\""), TagSettings(name="rl", query="rl")])
    assert [(t.name, t.origin) for t in store.list_tags()] == [("llm", "config"), ("mine", "cli"), ("rl", "config")]
    out = store.sync_tags([TagSettings(name="llm", query="ti:llm")])
    assert out == {"tags": 1, "removed": 1}
    assert store.get_tag("llm").query == "ti:llm"
    assert [t.name for t in store.list_tags()] == ["llm", "mine"]
    with pytest.raises(NotFoundError):
        store.get_tag("rl")


def test_label_tags_that_differ_only_in_case_are_one_tag(store: Store) -> None:
    """A user who labels one paper "LLM" and the next "llm " (a phone's keyboard, a typo) has one tag
    of two papers, which their "more like this" alert and the web's tag page read whole."""
    u = store.upsert_user("a@example.org")
    for i in (1, 2, 3):
        _paper(store, f"arxiv:2501.0000{i}")
    store.add_label(u.email, "LLM", "arxiv:2501.00001")
    store.add_label(u.email, "llm ", "arxiv:2501.00002")
    store.add_label(u.email, "Ünsicher", "arxiv:2501.00003")
    assert store.user_tags(u.id) == [("LLM", 2), ("Ünsicher", 1)]
    assert store.labels(u.id, "Llm") == [("arxiv:2501.00001", 1), ("arxiv:2501.00002", 1)]
    assert store.labels(u.id, "üNSICHER") == [("arxiv:2501.00003", 1)]
    assert {tag for tag, _, _ in store.all_labels(u.id)} == {"LLM", "Ünsicher"}
    store.add_label(u.email, "llm", "arxiv:2501.00001", -1)  # relabels the same label, not a second one
    assert store.labels(u.id, "LLM") == [("arxiv:2501.00001", -1), ("arxiv:2501.00002", 1)]
    assert store.remove_label(u.id, "llm", "arxiv:2501.00002")
    assert store.labels(u.id, "LLM") == [("arxiv:2501.00001", -1)]


def test_labels_flip_and_need_a_paper(store: Store) -> None:
    u = store.upsert_user("a@example.org")
    _paper(store, "arxiv:2501.00001")
    _paper(store, "arxiv:2501.00002")
    store.add_label(u.email, "to-read", "arxiv:2501.00001")
    store.add_label(u.email, "to-read", "arxiv:2501.00002", -1)
    store.add_label(u.email, "other", "arxiv:2501.00002")
    assert store.labels(u.id, "to-read") == [("arxiv:2501.00001", 1), ("arxiv:2501.00002", -1)]
    store.add_label(u.email, "to-read", "arxiv:2501.00002", 1)
    assert store.labels(u.id, "to-read")[1] == ("arxiv:2501.00002", 1)
    assert store.user_tags(u.id) == [("other", 1), ("to-read", 2)]
    assert store.remove_label(u.id, "other", "arxiv:2501.00002")
    assert not store.remove_label(u.id, "other", "arxiv:2501.00002")
    with pytest.raises(NotFoundError):
        store.add_label(u.email, "to-read", "arxiv:9999.99999")
    with pytest.raises(ValueError):
        store.add_label(u.email, "to-read", "arxiv:2501.00001", 0)


def test_muted_authors_are_people_not_spellings(store: Store) -> None:
    """One row per muted person, whatever spelling muted or unmutes them, a leading initial or middle
    name included; keys written before given names were kept ("lecun y") still unmute."""
    u = store.upsert_user("a@example.org")
    assert store.mute_author(u.id, "Yann LeCun") == "lecun|y|yann|yann"
    assert store.mute_author(u.id, "LeCun, Y.") == "lecun|y|yann|yann"  # same person: no second row
    assert store.muted_authors(u.id) == {"lecun|y|yann|yann"}
    assert store.mute_author(u.id, "S. James Gates, Jr.") == "gates|s||s james"
    assert store.mute_author(u.id, "James Gates") == "gates|s||s james"  # the name he goes by: him again
    assert store.unmute_author(u.id, "Sylvester James Gates")
    assert store.muted_authors(u.id) == {"lecun|y|yann|yann"}
    assert store.unmute_author(u.id, "Y. LeCun")
    assert store.muted_authors(u.id) == set()
    assert not store.unmute_author(u.id, "Y. LeCun")
    with store.write() as conn:  # a row muted before keys carried given names
        conn.execute(text("INSERT INTO muted_authors (user_id, author_key, created) VALUES (:u, 'lecun y', :t)"),
                     {"u": u.id, "t": datetime(2026, 11, 1)})
    # Muted again: the old key names him by an initial, the new one by his given name: it joins.
    assert store.mute_author(u.id, "Yann LeCun") == "lecun|y|yann|yann"
    assert store.muted_authors(u.id) == {"lecun y", "lecun|y|yann|yann"}
    assert store.unmute_author(u.id, "Yann Le Cun") and store.muted_authors(u.id) == set()
    with store.write() as conn:  # "S. James Gates, Jr." muted before keys carried every given name
        conn.execute(text("INSERT INTO muted_authors (user_id, author_key, created) VALUES (:u, 'gates|s|', :t)"),
                     {"u": u.id, "t": datetime(2026, 11, 1)})
    assert not MutedAuthors(store.muted_authors(u.id)).hides(["James Gates"])
    store.mute_author(u.id, "S. James Gates, Jr.")  # the user clicks "Mute" on his card again
    assert MutedAuthors(store.muted_authors(u.id)).hides(["James Gates"])


def test_muting_the_full_name_after_an_initial_form_hides_the_name_he_goes_by(store: Store) -> None:
    """"Mute S. Gates" on one card, later "Mute S. James Gates" on another (arXiv lists him both
    ways): the second key keeps more given names, so it joins the first, and papers listing him as
    "James Gates" are hidden too."""
    u = store.upsert_user("ada@example.org")
    store.mute_author(u.id, "S. Gates")
    store.mute_author(u.id, "S. James Gates")
    assert MutedAuthors(store.muted_authors(u.id)).hides(["James Gates"])


def test_export_import_keeps_a_person_muted_again_after_an_old_key(store: Store) -> None:
    """A person muted under an old key ("gates|s|") and again under today's ("gates|s||s james")
    is still hidden as "James Gates" after `digest export` and `digest import`, whichever key the
    import reads first."""
    from digest.portable import export_data, import_data

    u = store.upsert_user("ada@example.org")
    with store.write() as conn:
        conn.execute(text("INSERT INTO muted_authors (user_id, author_key, created) VALUES (:u, 'gates|s|', :t)"),
                     {"u": u.id, "t": datetime(2026, 11, 1)})
    store.mute_author(u.id, "S. James Gates, Jr.")
    assert MutedAuthors(store.muted_authors(u.id)).hides(["James Gates"])
    data = export_data(store)
    with store.write() as conn:
        conn.execute(text("DELETE FROM muted_authors"))
    import_data(store, data)
    assert MutedAuthors(store.muted_authors("ada@example.org")).hides(["James Gates"])


def test_unmuting_by_the_name_he_goes_by_removes_the_narrower_old_key_too(store: Store) -> None:
    """A person muted under an old key ("gates|s|") and today's ("gates|s||s james") is unmuted by
    the name a later listing writes ("James Gates"): both keys go, though the old one alone does
    not name "James Gates"; a different person muted beside them ("Sarah Gates") stays muted."""
    u = store.upsert_user("ada@example.org")
    with store.write() as conn:
        conn.execute(text("INSERT INTO muted_authors (user_id, author_key, created) VALUES (:u, 'gates|s|', :t)"),
                     {"u": u.id, "t": datetime(2026, 11, 1)})
    store.mute_author(u.id, "S. James Gates, Jr.")
    sarah = store.mute_author(u.id, "Sarah Gates")
    assert store.unmute_author(u.id, "James Gates")
    assert store.muted_authors(u.id) == {sarah}
    assert not MutedAuthors(store.muted_authors(u.id)).hides(["James Gates", "Sylvester James Gates"])
