"""digest.render.message: hand-built RFC 5322/MIME bytes, checked by parsing them back with the stdlib."""

from __future__ import annotations

import email
import email.policy
import quopri
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from digest.render import message as M
from digest.render.email import RenderedEmail, render_email
from digest.render.message import build_message, list_id_for, message_id_for

from render_samples import digest, settings

DATE = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)


def _rendered(**kw: Any) -> RenderedEmail:
    r = render_email(digest(), settings=settings(), user_feed_token="ft", generation=0)
    return RenderedEmail(**{**{f: getattr(r, f) for f in r.__slots__}, **kw})  # type: ignore[attr-defined]


def _build(rendered: RenderedEmail | None = None, **kw: Any) -> bytes:
    r = rendered or _rendered()
    args: dict[str, Any] = dict(
        rendered=r, sender="Paper digest <digest@example.org>", recipient=("Ada Lovelace", "ada@example.org"),
        message_id=message_id_for(7, "daily", "2026-11-24", "example.org"), date=DATE,
        list_id=list_id_for("daily", "example.org"), unsubscribe_https=r.unsubscribe_https,
        unsubscribe_mailto=r.unsubscribe_mailto)
    args.update(kw)
    return build_message(**args)


def _parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_headers_and_structure_parse_back() -> None:
    r = _rendered()
    msg = _parse(_build(r))
    assert msg.defects == []
    assert msg["From"] == "Paper digest <digest@example.org>"
    assert msg["To"] == "Ada Lovelace <ada@example.org>"
    assert msg["Subject"] == r.subject == "3 new papers: diffusion models — Tue 24 Nov"
    assert msg["Date"].datetime == DATE
    assert msg["Message-ID"] == "<digest.daily.2026-11-24.u7@example.org>"
    assert msg["List-Id"] == "digest daily <daily.digest.example.org>"
    assert msg["List-Unsubscribe"] == f"<{r.unsubscribe_https}>, <{r.unsubscribe_mailto}>"
    assert r.unsubscribe_https.startswith("https://digest.example.org/unsubscribe/one-click/")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]  # RFC 2046: preferred last
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable" and p.get_content_charset() == "utf-8"
               for p in parts)
    assert parts[0].get_content().replace("\r\n", "\n") == r.text
    assert parts[1].get_content().replace("\r\n", "\n").rstrip("\n") == r.html.rstrip("\n")


def test_crlf_everywhere_and_line_limits() -> None:
    data = _build()
    assert b"\n" not in data.replace(b"\r\n", b"")
    head, _, body = data.partition(b"\r\n\r\n")
    # RFC 5322 §2.1.1: 78 where a fold is possible; a URI in List-Unsubscribe cannot be folded.
    assert all(len(line) <= 78 or b"<http" in line or b"<mailto:" in line for line in head.split(b"\r\n"))
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert data.isascii()


def test_non_ascii_names_and_subject_are_encoded_words() -> None:
    r = _rendered(subject="Neue Arbeiten über Ŝpin-Glas — " + "λ" * 80)
    data = _build(r, recipient=("Łukasz Kaiser, PhD", "lukasz@example.org"),
                  sender='"Bücher digest" <digest@example.org>')
    head = data.partition(b"\r\n\r\n")[0]
    assert b"=?utf-8?b?" in head
    assert all(len(line) <= 76 for line in head.split(b"\r\n") if b"=?utf-8?" in line)
    msg = _parse(data)
    assert msg["Subject"] == r.subject
    assert msg["To"].addresses[0].display_name == "Łukasz Kaiser, PhD"
    assert msg["To"].addresses[0].addr_spec == "lukasz@example.org"
    assert msg["From"].addresses[0].display_name == "Bücher digest"


@pytest.mark.parametrize("evil", ["Hi\r\nBcc: victim@example.org", "Hi\nBcc: victim@example.org",
                                  "Hi\rBcc: victim@example.org", "Hi\u2028Bcc: victim@example.org"])
def test_header_injection_is_impossible(evil: str) -> None:
    data = _build(_rendered(subject=evil), recipient=(evil, "ada@example.org"))
    msg = _parse(data)
    assert msg["Bcc"] is None
    assert "Bcc: victim@example.org" in msg["Subject"]  # stays inside the subject as text
    assert len(msg["To"].addresses) == 1


def test_refuses_values_that_cannot_be_made_safe() -> None:
    with pytest.raises(ValueError):
        _build(recipient="a@example.org, b@example.org")
    with pytest.raises(ValueError):
        _build(unsubscribe_https="javascript:alert(1)")
    with pytest.raises(ValueError):
        _build(unsubscribe_mailto="mailto:x@example.org>, <https://evil")
    with pytest.raises(ValueError):
        _build(date=datetime(2026, 11, 24))


def test_plain_names_with_specials_are_quoted() -> None:
    msg = _parse(_build(recipient=('Dr. A. "Ace" Smith', "ace@example.org")))
    assert msg["To"].addresses[0].display_name == 'Dr. A. "Ace" Smith'
    assert _parse(_build(recipient='"Smith, Ann" <ann@example.org>'))["To"].addresses[0].display_name == "Smith, Ann"


def test_message_id_is_stable_per_user_and_period() -> None:
    a = message_id_for(7, "daily", "2026-11-24", "Example.ORG")
    assert a == message_id_for(7, "daily", "2026-11-24", "example.org") == "<digest.daily.2026-11-24.u7@example.org>"
    assert a != message_id_for(8, "daily", "2026-11-24", "example.org")
    assert a != message_id_for(7, "weekly", "2026-11-24", "example.org")
    assert message_id_for(7, "weekly", "2026-W48 <x>", "bücher.example") == \
        "<digest.weekly.2026-W48-x.u7@xn--bcher-kva.example>"
    assert _build() == _build()  # same inputs, same bytes: a retry resends identical data


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
@hsettings(max_examples=300, deadline=None)
def test_quoted_printable_round_trips(text: str) -> None:
    encoded = M._qp(text)
    assert encoded.isascii()
    assert max(len(line) for line in encoded.split(b"\r\n")) <= 76
    assert not any(line.endswith((b" ", b"\t")) for line in encoded.split(b"\r\n"))
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    expected = expected if expected.endswith("\n") else expected + "\n"
    assert quopri.decodestring(encoded).decode("utf-8").replace("\r\n", "\n") == expected


@given(st.text(max_size=200).filter(lambda s: "\x00" not in s))
@hsettings(max_examples=200, deadline=None)
def test_any_subject_round_trips(subject: str) -> None:
    msg = _parse(_build(_rendered(subject=subject)))
    from digest.sanitize import header_safe
    assert msg["Subject"] == header_safe(subject)
