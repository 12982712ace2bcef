"""Apply the configuration file to the database: the one place config becomes rows.

``digest init`` and the service call :func:`apply_config` after opening the store; it is
idempotent, so running it on every start is safe. Each concern contributes one step below.

Public: :func:`apply_config`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.config import Settings

if TYPE_CHECKING:
    from digest.store import Store


def apply_config(settings: Settings, store: Store) -> None:
    """Make the database reflect the config: feeds (and, as they land, users, subscriptions, tags)."""
    # Feeds (issue #2): upsert configured feeds, disable removed ones (their history is kept).
    store.sync_feeds(settings.feeds)
    # Users, subscriptions and tags (issue #3): every query is checked first, so a bad one stops
    # before any user, subscription or tag row changes, and the error names the config key.
    from digest.match.saved import check_config

    check_config(settings, store)
    store.sync_tags(settings.tags)
    store.sync_config_users(settings.users)
