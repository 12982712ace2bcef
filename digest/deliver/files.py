"""Static feed files: ``digest feeds export DIR`` (issue #4, "Written as static files").

Layout, chosen so that serving DIR at ``<base_url>/feeds/`` gives the very URLs the web app uses
(digest.tokens documents them)::

    DIR/<feed_token>/all.atom, all.rss            a user's feed-channel subscriptions together
    DIR/<feed_token>/sub-<id>.atom, .rss          each subscription with channel feed or both
    DIR/tag-<name>.atom, .rss                     each topic tag
    DIR/trending.atom, .rss                       trending papers

Private feeds sit under the user's unguessable feed token: serve DIR without directory listings.
Each file is written to a temporary file in the same directory and renamed over the old one
(``os.replace`` is atomic on POSIX), so a reader never sees half a feed; a file whose bytes did not
change is left alone, keeping its mtime (Last-Modified) for HTTP caches.

Public names: :func:`export_feeds`, :func:`write_atomic`.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from digest.config import Settings
from digest.render.feed_entries import (FEED_CHANNELS, FeedSpec, feed_document, subscription_feed, tag_feed,
                                        trending_feed, user_feed)

__all__ = ["export_feeds", "write_atomic"]

_FORMATS: tuple[Any, ...] = ("atom", "rss")


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> bool:
    """Write ``data`` to ``path`` via a temporary file and rename; False when the file already held it."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _file_name(spec: FeedSpec) -> str:
    # Tag names are free text: quoting keeps "/" and friends out of the path ("tag-a%2Fb.atom").
    return quote(spec.name, safe="-_.~ ")


def export_feeds(store: Any, settings: Settings, out_dir: Path, *, now: datetime | None = None) -> list[Path]:
    """Write every feed (see the module doc) under ``out_dir``; returns the paths written or kept."""
    out_dir = Path(out_dir)
    base = settings.web.base_url.rstrip("/") + "/feeds"
    specs: list[tuple[str, FeedSpec]] = []
    users: dict[int, Any] = {}
    for sub in store.list_subscriptions(active_only=True):
        if sub.channel not in FEED_CHANNELS:
            continue
        spec = subscription_feed(store, settings, sub.id, now=now)
        specs.append((spec.feed_token or "", spec))
        users.setdefault(sub.user_id, None)
    for user_id in users:
        spec = user_feed(store, settings, user_id, now=now)
        specs.append((spec.feed_token or "", spec))
    for tag in store.list_tags():
        specs.append(("", tag_feed(store, settings, tag.name)))
    specs.append(("", trending_feed(store, settings, now=now)))

    written: list[Path] = []
    for folder, spec in specs:
        if folder and (folder.startswith(".") or "/" in folder):
            continue  # a feed token is URL-safe base64; anything else would escape out_dir
        for fmt in _FORMATS:
            relative = f"{folder}/{_file_name(spec)}.{fmt}" if folder else f"{_file_name(spec)}.{fmt}"
            data = feed_document(spec, self_url=f"{base}/{quote(relative, safe='/')}", format=fmt)
            path = out_dir / relative
            write_atomic(path, data)
            written.append(path)
    return written
