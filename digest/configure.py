"""Apply the configuration file to the database: the one place config becomes rows.

``digest init`` and the service call :func:`apply_config` after opening the store; it is
idempotent, so running it on every start is safe. Everything is checked before anything changes,
so a config that is refused leaves the database as it was. Each concern contributes one step below.

Public: :func:`apply_config`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.config import Settings
from digest.errors import ConfigError
from digest.store.users import normalize_email

if TYPE_CHECKING:
    from digest.store import Store


def apply_config(settings: Settings, store: Store) -> None:
    """Make the database reflect the config: feeds, users, subscriptions and tags."""
    from digest.match.saved import check_config
    from digest.match.tags import apply_tags, changed_tags

    path = str(settings.config_path) if settings.config_path else None
    # Checks first (issue #3): every query, then what the config would do to rows it does not own. A
    # ConfigError names the config key, and no feed, tag, user or subscription has changed.
    check_config(settings, store)
    _check_tags(settings, store, path)
    _check_alert_names(settings, store, path)
    retag = changed_tags(store, settings.tags)
    # Feeds (issue #2): upsert configured feeds, disable removed ones (their history is kept).
    store.sync_feeds(settings.feeds)
    store.sync_tags(settings.tags)
    store.sync_config_users(settings.users)
    # A tag whose query changed lost what the old query tagged; the stored papers get the new one's.
    if retag:
        apply_tags(store, retag)


def _check_tags(settings: Settings, store: Store, path: str | None) -> None:
    """A config tag takes no name of a category or keyword the sources gave (removing it from the
    config would delete that tag from every paper), and no tag goes that alerts follow (they would
    silently never match again): ConfigError listing them."""
    stored = store.list_tags()
    from_sources = {t.name for t in stored if t.origin == "source"}
    for i, tag in enumerate(settings.tags):
        if tag.name in from_sources:
            raise ConfigError(f"tag {tag.name!r} is a category or keyword the sources give papers; give the "
                              "config tag another name", path=path, key=f"tags.{i}.name")
    kept = {t.name for t in settings.tags}
    removed = {t.name for t in stored if t.origin == "config" and t.name not in kept}
    followers: dict[str, list[str]] = {}
    for sub in store.list_subscriptions(kinds=["tag"]):
        if sub.query in removed:
            followers.setdefault(sub.query, []).append(f"{sub.user_email}/{sub.name}")
    if followers:
        listed = "; ".join(f"{name!r} by {', '.join(alerts)}" for name, alerts in sorted(followers.items()))
        raise ConfigError(f"tags the config no longer has are followed by alerts: {listed}; keep the tags or "
                          "delete those alerts first (digest unsubscribe USER NAME)", path=path, key="tags")


def _check_alert_names(settings: Settings, store: Store, path: str | None) -> None:
    """A config alert never takes over (nor, once removed from the config, deletes) an alert of the
    same name the user made themselves: ConfigError naming user and alert."""
    own = {(s.user_email, s.name) for s in store.list_subscriptions() if s.origin != "config"}
    for i, user in enumerate(settings.users):
        email = normalize_email(user.email)
        for j, sub in enumerate(user.subscriptions):
            if (email, sub.name) in own:
                raise ConfigError(f"{email} has an alert {sub.name!r} of their own; give the config alert "
                                  "another name", path=path, key=f"users.{i}.subscriptions.{j}.name")
