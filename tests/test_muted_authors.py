"""Muted authors' keys (digest.text.mute_key, mute_name, MutedAuthors): every given name kept, keys
that earlier versions stored still read as they did, an export's names read back as the same keys.

Who a muted key hides is the person rule of digest.names, which `au:` queries share: the digests,
feeds and feedback links built on it are tested in test_feedback_muting.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from digest.text import MutedAuthors, mute_key, mute_name, narrower_mute


@pytest.mark.parametrize("name, key", [
    ("S. James Gates, Jr.", "gates|s||s james"),
    ("Gates, S. James", "gates|s||s james"),
    ("Sylvester James Gates", "gates|s|sylvester|sylvester james"),
    ("Yann LeCun", "lecun|y|yann|yann"),
    ("Ana María García-López", "garcia lopez|a|ana|ana maria"),
    ("J.-B. Alayrac", "alayrac|j||j"),  # hyphenated initials: one given name
    ("Laurens van der Maaten", "van der maaten|l|laurens|laurens"),
    ("The ATLAS Collaboration", "atlas collaboration|||"),
    ("Suyanto", "suyanto|||"),
    ("Ann|Bo Smith", "smith|a|ann|ann bo"),  # a "|" in a name cannot add a field to its key
])
def test_mute_key_keeps_every_given_name_after_the_fields_earlier_versions_read(name: str, key: str) -> None:
    """The key keeps the surname and every given name in order, after the three fields that earlier
    versions wrote and read ("surname|initial|first given name written out"): an older installation
    reading this key (its own rows after a downgrade, or an export) reads what it wrote itself."""
    assert mute_key(name) == key
    assert MutedAuthors([key]).hides([name])


def test_mute_key_of_no_name_is_empty() -> None:
    assert mute_key("…") == mute_key(" ") == ""
    assert not MutedAuthors([""])


@pytest.mark.parametrize("key, hidden, kept", [
    # "surname initial": keys stored before given names were kept.
    ("lecun y", ["Yann LeCun", "Y. LeCun", "Yann Le Cun", "LeCun"], ["X. LeCun", "Xavier LeCun"]),
    # "surname|initial|given": keys stored before every given name was kept.
    ("lecun|y|yann", ["Yann LeCun", "Y. LeCun", "LeCun, Yann"], ["Yves LeCun", "X. LeCun"]),
    ("li|y|yang", ["Yang Li", "Y. Li"], ["Yi Li", "Xin Li"]),
    ("gates|s|", ["S. Gates", "S. James Gates, Jr.", "Sarah Gates", "Gates"], ["James Gates", "J. Gates", "Robert Gates"]),
    ("atlas collaboration||", ["The ATLAS Collaboration", "G. Aad et al. (ATLAS Collaboration)"], ["The CMS Collaboration"]),
])
def test_keys_stored_by_earlier_versions_hide_what_they_hid(key: str, hidden: list[str], kept: list[str]) -> None:
    """Users' stored mutes keep working without rewriting them: each older key form reads back as the
    surname and the one given name (or initial) it holds."""
    muted = MutedAuthors([key])
    assert [name for name in hidden if not muted.hides([name])] == []
    assert [name for name in kept if muted.hides([name])] == []


@pytest.mark.parametrize("key, name", [
    ("lecun|y|yann", "yann lecun"), ("lecun y", "y. lecun"), ("gates|s|", "s. gates"),
    ("van der maaten|l|laurens", "laurens van-der-maaten"), ("suyanto||", "suyanto"),
    ("gates|s||s james", "s. james gates"), ("garcia lopez|a|ana|ana maria", "ana maria garcia-lopez"),
])
def test_mute_name_writes_every_given_name_of_a_key(key: str, name: str) -> None:
    """What `digest import` mutes for a key of an export, of any form: the older forms give the names
    they gave, the new one every given name ("s. james gates", not "s. gates")."""
    assert mute_name(key) == name


_GIVEN = st.sampled_from(["James", "S.", "Sylvester", "J.-B.", "Xiao-Ming", "María", "Le", "de", "A.", "Bo"])
_SURNAME = st.sampled_from(["Gates", "García-López", "LeCun", "van der Waals", "de Souza Lima", "Li", "Müller",
                            "ATLAS Collaboration"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_GIVEN, max_size=4), _SURNAME, st.sampled_from(["", ", Jr.", " III"]), st.booleans())
def test_an_exported_mute_imports_as_the_same_key(givens: list[str], surname: str, suffix: str,
                                                   surname_first: bool) -> None:
    """`digest export` writes keys and `digest import` mutes :func:`mute_name` of each: the name reads
    back as the very key (so exporting the copy gives the same file), which still hides the author."""
    name = f"{surname}, {' '.join(givens)}" if surname_first and givens else f"{' '.join(givens)} {surname}{suffix}"
    key = mute_key(name)
    assert mute_key(mute_name(key)) == key, (name, key, mute_name(key))
    assert MutedAuthors([key]).hides([name])


@pytest.mark.parametrize(("key", "than", "narrower"), [
    ("gates|s|", "S. James Gates", True), ("S. Gates", "S. James Gates", True), ("James Gates", "S. James Gates", True),
    ("lecun y", "Yann LeCun", True), ("Yann LeCun", "LeCun, Y.", False), ("Sarah Gates", "S. James Gates", False),
    ("S. James Gates", "S. Gates", False), ("Robert Gates", "S. James Gates", False), ("Gates", "S. James Gates", True),
    ("J. Gates", "S. James Gates", True), ("James Gates", "Robert Gates", False), ("S. James Gates", "Sam Gates", False),
])
def test_a_key_is_narrower_when_it_names_the_person_with_no_more(key: str, than: str, narrower: bool) -> None:
    """What muting again compares (digest.store.users.mute_author): a key that names the person with
    no more than another (its given names the other's, or their initials, in order, after the
    other's leading initials) adds nothing beside it, and is unmuted with it."""
    def as_key(value: str) -> str:  # a stored key of an earlier form as it is, a name through mute_key
        return value if "|" in value or value == "lecun y" else mute_key(value)

    assert narrower_mute(as_key(key), as_key(than)) is narrower
