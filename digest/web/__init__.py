"""The web face of digest (issue #5): sign-in by link, alerts, search, trending, papers, feeds.

Public: :func:`create_app` (a Starlette ASGI app for uvicorn).
"""

from __future__ import annotations

from digest.web.app import create_app

__all__ = ["create_app"]
