"""Where the bundled templates, example config and sample feeds are.

In a source checkout (or editable install) they sit at the top level of the repository; a wheel
carries them under ``digest/_bundled/`` (see pyproject's force-include).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled folder {name!r} not found next to {_PACKAGE}")


def templates_dir() -> Path:
    return _find("templates")


def config_dir() -> Path:
    return _find("config")


def samples_dir() -> Path:
    """Real captured feeds used by the offline demo (copies of ../shared/fixtures)."""
    return _PACKAGE / "samples"
