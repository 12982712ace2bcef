"""digest.dates: the one reader of RFC 5322 dates (RSS pubDate, HTTP dates)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.dates import rfc5322_date, utcnow

UTC = timezone.utc


@pytest.mark.parametrize(("text", "expected"), [
    ("Thu, 28 Nov 2024 00:00:00 -0500", datetime(2024, 11, 28, 5, tzinfo=UTC)),   # arXiv's pubDate
    ("Sun, 06 Nov 1994 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),  # RFC 9110 IMF-fixdate
    ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),  # obsolete RFC 850
    ("Sun Nov  6 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),  # asctime: no zone, UTC
    ("Mon, 02 Apr 2007 19:18:42 -0000", datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),  # zone unknown: UTC
    ("Mon, 02 Apr 2007 19:18:42 +0530", datetime(2007, 4, 2, 13, 48, 42, tzinfo=UTC)),
])
def test_forms_read_as_utc(text: str, expected: datetime) -> None:
    value = rfc5322_date(text)
    assert value == expected and value is not None and value.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["", "   ", "yesterday", "2024-11-28T00:00:00Z", "Thu, 31 Feb 2024 00:00:00 GMT",
                                  "Fri, 31 Dec 9999 23:00:00 -1200", "Mon, 02 Apr 2007 25:00:00 GMT",
                                  "Mon, 2 Apr 99999999999999999999 19:18:42 GMT"])
def test_anything_else_is_none(text: str) -> None:
    assert rfc5322_date(text) is None


@given(st.text(max_size=60))
def test_never_raises(text: str) -> None:
    value = rfc5322_date(text)
    assert value is None or value.tzinfo is UTC


def test_utcnow_is_aware_utc() -> None:
    assert utcnow().tzinfo is UTC
