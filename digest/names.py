"""Whether two written names may be one person: the rule author queries (``au:``,
digest.match.authors) and muted authors (digest.text.MutedAuthors) share, so that muting someone
hides the papers an author query for them finds, and nobody else's.

Names are compared as :func:`digest.text.name_parts` reads them: a folded surname and the given
names in order, each written out ("james") or as an initial ("s"); suffixes ("Jr.", "III") are no
part of a name, diacritics fold, hyphens inside a given name drop ("Xiao-Ming" is "xiaoming").

1. **Surname.** One side's surname (as :func:`digest.text.surname_form` folds it) is one of the
   other's surname forms (:func:`digest.text.surname_forms`): particles join ("Le Cun" is "LeCun"),
   umlauts spelled out meet them in surnames of five letters or more ("Mueller" is "Müller"), and a
   one-word name may name any word of a compound surname ("Garcia" of "García-López").
2. **Nothing to compare.** When either side writes no given name (``au:gates``, a paper listing
   "Gates"), the surname decides.
3. **The name one goes by.** Otherwise the *leading* given name of one side must be a name the other
   side may go by: its own leading given name, or a later given name it writes out in full (people
   sign with a leading initial and the middle name they use: "S. James Gates", "J. Robert
   Oppenheimer", "M. Cristina Marchetti", "H. Eugene Stanley"; or write both names out,
   "Sylvester James Gates", and are cited by the second). Two names are compatible when one is an
   initial and the other has that initial, or both are written out and one begins the other ("Alex"
   may be "Alexander"; "Kaiming" is not "Kun").

So "James Gates" is "S. James Gates, Jr.", "Sylvester James Gates", "J. Gates" and "Gates"; "J. Gates"
may be him too (J. may be James); "S. James Gates" is "James Gates" (a listing left the S out).
"James Gates" is not "Sarah Gates" or "S. Gates" (an initial S cannot be James), and "John Smith" not
"Jane Smith".

Chosen where a looser rule would cost precision:

* A middle *initial* is no name anyone goes by: "J. Smith" is not "A. J. Smith" and "James Gates" not
  "S. J. Gates" (else a name with an initial would claim every X. J. Smith); arXiv's "S. J. Gates" is
  "S. J. Gates", "S. James Gates" or plain "Gates".
* Given names after the leading ones are not compared: "Geoffrey E. Hinton" is "Geoffrey Hinton", and
  "Ming Hsuan Yang" (a hyphenated name typed with a space) is "Ming-Hsuan Yang". Two written-out
  leading names that conflict still part two people: "Robert James Gates" is not "S. James Gates".

This module is pure (strings in, a yes or no out) so that digest.text, below digest.match, can use it.
"""

from __future__ import annotations

__all__ = ["Givens", "same_person", "given_names_agree"]

#: Given names in order, folded, each written out or an initial (:func:`digest.text.name_parts`).
Givens = tuple[str, ...]


def same_person(form: str, givens: Givens, other: tuple[frozenset[str], Givens]) -> bool:
    """Whether a name, as its :func:`digest.text.surname_form` and given names, may be the person
    ``other`` = (:func:`digest.text.surname_forms`, given names): the rule of this module's docstring.
    The surname test is one-way (a one-word name may name any word of the other's compound surname);
    the given names agree both ways."""
    forms, other_givens = other
    return form in forms and given_names_agree(givens, other_givens)


def given_names_agree(one: Givens, other: Givens) -> bool:
    """Whether two lists of given names (:func:`digest.text.name_parts`) may be one person's: either
    is empty, or the leading name of one is compatible with a name the other may go by (its leading
    name, or a later one written out). Symmetric."""
    if not one or not other:
        return True
    return _goes_by(one[0], other) or _goes_by(other[0], one)


def _goes_by(leading: str, names: Givens) -> bool:
    """Whether ``leading`` (a given name) is compatible with a name the author of ``names`` may go
    by: the first, or a later one written out in full (never a middle initial)."""
    if _compatible(leading, names[0]):
        return True
    return any(len(name) > 1 and _compatible(leading, name) for name in names[1:])


def _compatible(a: str, b: str) -> bool:
    """An initial and a name with that initial, or two written-out names one of which begins the
    other ("alex", "alexander"): may be the same given name."""
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    return a.startswith(b) or b.startswith(a)
