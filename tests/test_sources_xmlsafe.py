"""digest.sources.xmlsafe: entity bombs, XXE, truncated documents, wrong declared encodings."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import ParseError
from digest.sources.xmlsafe import ENTITY_ERROR, check_no_entities, parse_document

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rss version="2.0"><channel><title>&lol3;</title></channel></rss>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title></item></channel></rss>"""


def test_entity_bomb_is_refused() -> None:
    with pytest.raises(ParseError, match=ENTITY_ERROR) as err:
        parse_document(BOMB, kind="rss", source="bomb.xml")
    assert err.value.source == "bomb.xml"


def test_external_entity_is_refused_and_nothing_leaks() -> None:
    with pytest.raises(ParseError, match=ENTITY_ERROR) as err:
        parse_document(XXE, kind="rss")
    assert "root:" not in str(err.value)


def test_entity_declaration_hidden_from_the_byte_scan_is_caught_after_parsing() -> None:
    # "]>" inside a comment ends the byte scan early; the parsed DTD still shows the entity.
    sneaky = (b'<?xml version="1.0"?><!DOCTYPE r [<!-- ]> --><!ENTITY x SYSTEM "file:///etc/passwd">]>'
              b"<r>&x;</r>")
    check_no_entities(sneaky, kind="rss")  # the cheap scan misses it...
    with pytest.raises(ParseError, match=ENTITY_ERROR):
        parse_document(sneaky, kind="rss")  # ...the DTD check does not


def test_utf16_entity_declaration_is_refused() -> None:
    with pytest.raises(ParseError, match=ENTITY_ERROR):
        parse_document(XXE.decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>').encode("utf-16"), kind="rss")


def test_doctype_without_entities_is_fine_and_not_fetched() -> None:
    doc = parse_document(b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
                         b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss><channel/></rss>', kind="rss")
    assert doc.root.tag == "rss" and not doc.warnings


def test_truncated_document_keeps_the_intact_entries_with_a_warning(data_dir: Path) -> None:
    data = (data_dir / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml").read_bytes()
    cut = data[: len(data) // 2]
    doc = parse_document(cut, kind="arxiv-rss")
    items = doc.root.find("channel").findall("item")  # type: ignore[union-attr]
    intact = doc.intact(items)
    assert doc.recovered and doc.warnings and "not well-formed" in doc.warnings[-1]
    # The item the cut went through is dropped; every item before it is complete.
    assert len(intact) == len(items) - 1
    assert all(it.findtext("guid") and it.findtext("{http://purl.org/dc/elements/1.1/}creator") for it in intact)


def test_broken_entry_in_the_middle_is_dropped_alone() -> None:
    lines = [b'<?xml version="1.0"?>', b"<feed>"]
    for n in range(5):
        body = b"<b>oops & broken</b>" if n == 2 else f"<b>ok {n}</b>".encode()
        lines += [b"<entry>", f"<id>{n}</id>".encode(), body, b"</entry>"]
    lines.append(b"</feed>")
    doc = parse_document(b"\n".join(lines), kind="rss")
    kept = [e.findtext("id") for e in doc.intact(doc.root.findall("entry"))]
    assert kept == ["0", "1", "3", "4"]


def test_strict_mode_refuses_damage() -> None:
    with pytest.raises(ParseError, match="not well-formed"):
        parse_document(b"<rss><channel><title>x</channel></rss>", kind="rss", recover=False)


def test_utf8_declared_over_windows_1252_bytes() -> None:
    data = '<?xml version="1.0" encoding="utf-8"?><rss><title>Café – Gödel</title></rss>'.encode("cp1252")
    doc = parse_document(data, kind="rss")
    assert doc.root.findtext("title") == "Café – Gödel"
    assert any("windows-1252" in w for w in doc.warnings)


def test_latin1_declared_over_utf8_bytes() -> None:
    data = '<?xml version="1.0" encoding="ISO-8859-1"?><rss><title>Łukasz Kaiser, Gödel</title></rss>'.encode()
    doc = parse_document(data, kind="rss")
    assert doc.root.findtext("title") == "Łukasz Kaiser, Gödel"
    assert any("utf-8" in w for w in doc.warnings)


def test_correct_latin1_is_left_alone() -> None:
    data = '<?xml version="1.0" encoding="ISO-8859-1"?><rss><title>Café</title></rss>'.encode("latin-1")
    doc = parse_document(data, kind="rss")
    assert doc.root.findtext("title") == "Café" and not doc.warnings


@pytest.mark.parametrize("data", [b"", b"   \n", b"\x00\x01\x02garbage\xff", b'{"json": true}', b"\xff\xfe\x00"])
def test_garbage_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_document(data, kind="rss")


def test_only_bytes_are_accepted() -> None:
    with pytest.raises(TypeError):
        parse_document("<rss/>", kind="rss")  # type: ignore[arg-type]
