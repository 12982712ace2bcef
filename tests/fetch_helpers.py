"""Shared by the digest.fetch tests: a fake clock for the host limiter, and loopback fetch settings.

No fetch test sleeps for real: :func:`fake_limiter` installs a limiter whose time only moves when it
sleeps, so spacing and back-off are checked from the recorded sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator

from digest import fetch as fetch_mod
from digest.config import FetchSettings
from digest.fetch import HostLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def fake_limiter() -> Iterator[FakeClock]:
    """Body of an autouse fixture: fetch's limiter on a :class:`FakeClock` for one test."""
    fake = FakeClock()
    fetch_mod.set_limiter(HostLimiter(clock=fake.clock, sleep=fake.sleep))
    yield fake
    fetch_mod.reset_limiter()


def local(**kw: object) -> FetchSettings:
    """Settings for the loopback test server: 127.0.0.1 allow-listed, no spacing, two retries."""
    values: dict[str, object] = {"allow_hosts": ["127.0.0.1"], "retries": 2, "host_spacing": 0, **kw}
    return FetchSettings.model_validate(values)
