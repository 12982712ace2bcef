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

A feed that is no longer written (its owner rotated the feed token because the URL leaked, the alert
was deleted, paused or switched to email only, the user unsubscribed) must stop being served, so
its files are deleted: but only files this command wrote. ``DIR/.digest-feeds-export.json`` keeps
the SHA-256 of the path of every file the last export wrote (hashes, so that the manifest, served
with DIR, does not list feed tokens); anything else in DIR is never touched.

Public names: :func:`export_feeds`, :func:`write_atomic`, :data:`MANIFEST`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from digest.config import Settings
from digest.render.feed_entries import (FEED_CHANNELS, FeedSpec, feed_document, feed_file_name, feed_location,
                                        subscription_feed, tag_feed, trending_feed, user_feed)

__all__ = ["export_feeds", "write_atomic", "MANIFEST"]

#: What the export wrote last time, so that the next one can remove what it no longer writes.
MANIFEST = ".digest-feeds-export.json"

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


def _manifest_key(relative: str) -> str:
    # Hashes, not paths: DIR is served as it is, and a manifest of paths would list every feed token.
    return hashlib.sha256(relative.encode("utf-8")).hexdigest()


def _read_manifest(out_dir: Path) -> set[str]:
    """The keys of the files the previous export wrote; none when there is no readable manifest."""
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    written = data.get("written") if isinstance(data, dict) else None
    return {key for key in written if isinstance(key, str)} if isinstance(written, list) else set()


def _layout_files(out_dir: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of the regular files where the layout puts feeds: DIR/* and DIR/*/*."""
    if not out_dir.is_dir():
        return
    for entry in out_dir.iterdir():
        if entry.is_symlink():
            continue  # never follow a link out of DIR
        if entry.is_file():
            yield entry.name, entry
        elif entry.is_dir():
            for inner in entry.iterdir():
                if inner.is_file() and not inner.is_symlink():
                    yield f"{entry.name}/{inner.name}", inner


def _remove_dropped(out_dir: Path, before: set[str], now_written: set[str]) -> set[str]:
    """Delete the files an earlier export wrote that this one did not (a rotated feed token, a
    deleted or paused alert, a tag gone): their URLs must stop working. Nothing else in DIR is
    touched; a folder left empty is removed. Returns the keys that could not be removed (kept in
    the manifest to try again next time)."""
    dropped = before - now_written
    kept: set[str] = set()
    emptied: set[Path] = set()
    for relative, path in _layout_files(out_dir) if dropped else ():
        key = _manifest_key(relative)
        if key not in dropped:
            continue
        try:
            path.unlink()
        except OSError:
            kept.add(key)
        else:
            if path.parent != out_dir:
                emptied.add(path.parent)
    for folder in emptied:
        with contextlib.suppress(OSError):  # not empty: something else lives there
            folder.rmdir()
    return kept


def export_feeds(store: Any, settings: Settings, out_dir: Path, *, now: datetime | None = None) -> list[Path]:
    """Write every feed (see the module doc) under ``out_dir`` and remove the files of feeds an
    earlier export wrote and this one no longer does; returns the paths written or kept."""
    out_dir = Path(out_dir)
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
        specs.append(("", tag_feed(store, settings, tag.name, now=now)))
    specs.append(("", trending_feed(store, settings, now=now)))

    written: list[Path] = []
    keys: set[str] = set()
    for folder, spec in specs:
        if folder and (folder.startswith(".") or "/" in folder):
            continue  # a feed token is URL-safe base64; anything else would escape out_dir
        for fmt in _FORMATS:
            relative = f"{folder}/{feed_file_name(spec, fmt)}" if folder else feed_file_name(spec, fmt)
            data = feed_document(spec, self_url=feed_location(settings, spec, format=fmt), format=fmt)
            path = out_dir / relative
            write_atomic(path, data)
            written.append(path)
            keys.add(_manifest_key(relative))
    keys |= _remove_dropped(out_dir, _read_manifest(out_dir), keys)
    manifest = {"about": "files written by `digest feeds export` (SHA-256 of their paths)", "written": sorted(keys)}
    write_atomic(out_dir / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
    return written
