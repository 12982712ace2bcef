"""Whether an author clause (``au:"James Gates"``) names an author of a paper ("S. James Gates, Jr.").

Names are compared as :func:`digest.text.name_parts` reads them: a folded surname and the given
names in order, each written out ("james") or as an initial ("s"); suffixes ("Jr.", "III") are no
part of a name, diacritics fold, hyphens inside a given name drop ("Xiao-Ming" is "xiaoming").

The rule, one person's names as a bibliographic matcher compares them:

1. **Surname.** The query's surname is one of the author's surname forms
   (:func:`digest.text.surname_forms`): particles join ("Le Cun" is "LeCun"), umlauts spelled out
   meet them in surnames of five letters or more ("Mueller" is "Müller"), and a one-word query may name
   any word of a compound surname ("Garcia" of "García-López"). Candidates are filed under these
   forms (the query index's and the search index's ``au:`` atoms), so nothing below can widen them.
2. **Nothing to compare.** When either side writes no given name (``au:gates``, a paper listing
   "Gates"), the surname decides.
3. **The name one goes by.** Otherwise the *leading* given name of one side must be a name the other
   side may go by: its own leading given name, or a later given name it writes out in full (people
   sign with a leading initial and the middle name they use: "S. James Gates", "J. Robert
   Oppenheimer", "M. Cristina Marchetti", "H. Eugene Stanley"; or write both names out,
   "Sylvester James Gates", and are cited by the second). Two names are compatible when one is an
   initial and the other has that initial, or both are written out and one begins the other ("Alex"
   may be "Alexander"; "Kaiming" is not "Kun").

So ``au:"James Gates"`` finds "S. James Gates, Jr.", "Sylvester James Gates", "J. Gates" and "Gates";
``au:"J. Gates"`` finds him too (J. may be James); ``au:"S. James Gates"`` finds "James Gates" (the
paper left the S out). ``au:"James Gates"`` does not find "Sarah Gates" or "S. Gates" (an initial S
cannot be James), and ``au:"John Smith"`` not "Jane Smith".

Chosen where a looser rule would cost precision:

* A middle *initial* is no name anyone goes by: ``au:"J. Smith"`` does not find "A. J. Smith" and
  ``au:"James Gates"`` not "S. J. Gates" (else a query with an initial would claim every X. J. Smith);
  arXiv's "S. J. Gates" is found by ``au:"S. J. Gates"``, ``au:"S. James Gates"`` or ``au:gates``.
* Given names after the leading ones are not compared, as before: "Geoffrey E. Hinton" is
  "Geoffrey Hinton", and the query ``au:"Ming Hsuan Yang"`` (a hyphenated name typed with a space) is
  "Ming-Hsuan Yang". Two written-out leading names that conflict still part two people:
  ``au:"Robert James Gates"`` does not find "S. James Gates".
"""

from __future__ import annotations

from digest.match.document import AuthorRef
from digest.match.query import MetaClause
from digest.text import surname_form

__all__ = ["author_matches", "given_names_agree"]


def author_matches(clause: MetaClause, author: AuthorRef) -> bool:
    """Whether ``author`` may be the person an author clause names, under any of the clause's
    readings ("Le Song" is a surname or Le Song): the rule of this module's docstring."""
    return any(surname_form(surname) in author.forms and given_names_agree(givens, author.givens)
               for surname, givens in clause.readings())


def given_names_agree(one: tuple[str, ...], other: tuple[str, ...]) -> bool:
    """Whether two lists of given names (:func:`digest.text.name_parts`) may be one person's: either
    is empty, or the leading name of one is compatible with a name the other may go by (its leading
    name, or a later one written out). Symmetric."""
    if not one or not other:
        return True
    return _goes_by(one[0], other) or _goes_by(other[0], one)


def _goes_by(leading: str, names: tuple[str, ...]) -> bool:
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
