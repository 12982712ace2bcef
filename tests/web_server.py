"""The app on a real uvicorn on loopback, for tests that need what only a real server shows
(a browser, concurrent clients)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from digest.config import Settings
from digest.store import Store
from digest.web import create_app

from smtp_sink import free_port


@contextmanager
def serve(tmp_path: Path, store: Store, *, smtp_port: int | None = None) -> Iterator[tuple[str, Settings]]:
    """The app on a real uvicorn on a free loopback port, mailing through a Maildir under tmp_path
    (or, given ``smtp_port``, through plain SMTP to that port of loopback)."""
    port = free_port()
    settings = Settings(data_dir=tmp_path, secret_key="b" * 40)  # type: ignore[arg-type]
    settings.web.base_url = f"http://127.0.0.1:{port}"
    if smtp_port is None:
        settings.delivery.method = "maildir"
        settings.delivery.maildir = tmp_path / "Maildir"
    else:
        settings.delivery.method = "smtp"
        settings.smtp.host, settings.smtp.port, settings.smtp.security = "127.0.0.1", smtp_port, "none"
    server = uvicorn.Server(uvicorn.Config(create_app(settings, store), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield settings.web.base_url, settings
    finally:
        server.should_exit = True
        thread.join()
