"""digest.render.message: hand-built RFC 5322/MIME bytes, checked by parsing them back with the stdlib."""

from __future__ import annotations

import email
import email.policy
import quopri
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
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


def test_addresses_carry_an_internationalised_domain_in_idna_form_and_refuse_smtputf8() -> None:
    """The To header (and the SMTP envelope, through the same function) writes ``bücher.example`` as
    its IDNA A-label; a non-ASCII local part needs SMTPUTF8 (RFC 6531), which digest does not use."""
    assert M.ascii_address("ann@Bücher.example") == "ann@xn--bcher-kva.example"
    assert M.ascii_address("ann@example.org") == "ann@example.org"
    assert _parse(_build(recipient=("Ann", "ann@bücher.example")))["To"].addresses[0].addr_spec == \
        "ann@xn--bcher-kva.example"
    for address in ("jürgen@example.de", "ann@exa mple.org", "ann@"):
        with pytest.raises(ValueError):
            M.ascii_address(address)
    with pytest.raises(ValueError, match="To: address 'jürgen@example.de' needs SMTPUTF8"):
        _build(recipient=("Jürgen", "jürgen@example.de"))


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
    # Same inputs, same bytes: a retry resends identical data. The links' tokens carry the second
    # they were signed in, so both builds happen in one (frozen) second.
    with time_machine.travel(datetime(2026, 11, 24, 7, tzinfo=timezone.utc), tick=False):
        assert _build() == _build()


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


def test_eight_bit_bodies_parse_back_and_convert_to_quoted_printable() -> None:
    r = _rendered()
    data = _build(r, eight_bit=True)
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998  # RFC 5322 §2.1.1
    assert data.count(b"\r\n") < _build(r).count(b"\r\n") / 2
    for raw, cte in ((data, "8bit"), (M.seven_bit(data), "quoted-printable")):
        msg = _parse(raw)
        assert msg.defects == []
        parts = list(msg.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert [p["Content-Transfer-Encoding"] for p in parts] == [cte, cte]
        assert parts[0].get_content().replace("\r\n", "\n") == r.text
        assert parts[1].get_content().replace("\r\n", "\n").rstrip("\n") == r.html.rstrip("\n")
        assert msg["Message-ID"] == "<digest.daily.2026-11-24.u7@example.org>"
    # A server without 8BITMIME gets the very message eight_bit=False would have built.
    assert M.seven_bit(data) == _build(r) and M.seven_bit(_build(r)) == _build(r)


def test_eight_bit_falls_back_per_part_for_long_lines_nul_and_the_boundary() -> None:
    import hashlib

    boundary = "=_" + hashlib.sha256(b"<digest.daily.2026-11-24.u7@example.org>").hexdigest()[:30]
    for html in ("<p>" + "x" * 2000 + "</p>", "<p>a\x00b</p>", f"<p>\n--{boundary}\n</p>"):
        r = _rendered(html=html)
        msg = _parse(_build(r, eight_bit=True))
        plain, rich = msg.iter_parts()
        assert (plain["Content-Transfer-Encoding"], rich["Content-Transfer-Encoding"]) == ("8bit", "quoted-printable")
        assert rich.get_content().replace("\r\n", "\n").rstrip("\n") == html
    ascii_only = _parse(_build(_rendered(text="plain ascii\n", html="<p>ascii</p>"), eight_bit=True))
    assert [p["Content-Transfer-Encoding"] for p in ascii_only.iter_parts()] == ["7bit", "7bit"]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
@hsettings(max_examples=200, deadline=None)
def test_any_body_round_trips_in_eight_bit_and_after_seven_bit(text: str) -> None:
    data = _build(_rendered(text=text, html=text), eight_bit=True)
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    expected = expected if expected.endswith("\n") else expected + "\n"
    for raw in (data, M.seven_bit(data)):
        parts = list(_parse(raw).iter_parts())
        assert len(parts) == 2
        for part in parts:
            body = part.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n")
            assert body == expected
