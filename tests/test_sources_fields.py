"""Field readers shared by the JSON sources (digest.sources.fields): never an exception on what a
feed writes, whatever it writes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.sources.fields import integer


@pytest.mark.parametrize(("value", "expected"), [
    (522, 522), ("522", 522), (" 7 ", 7), ("-12", -12), (7.0, 7), (True, None), ("²", None), ("٣", None),
    ("--5", None), ("-", None), ("", None), ("3.5", None), (3.5, None), ("1" * 13, None), (None, None),
])
def test_integer_reads_ascii_digits_and_nothing_else(value: object, expected: int | None) -> None:
    assert integer(value) == expected


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none()))
def test_integer_never_raises(value: object) -> None:
    result = integer(value)
    assert result is None or isinstance(result, int)
