"""Whether an author clause (``au:"James Gates"``) names an author of a paper ("S. James Gates, Jr.").

The clause and the author are the same person as :func:`digest.names.same_person` decides, the rule
muted authors follow too (digest.text.MutedAuthors): its docstring has the rule and the reasons. So
``au:"James Gates"`` finds "S. James Gates, Jr.", "Sylvester James Gates", "J. Gates" and "Gates";
``au:"J. Gates"`` finds him too (J. may be James); ``au:"S. James Gates"`` finds "James Gates" (the
paper left the S out). ``au:"James Gates"`` does not find "Sarah Gates", "S. Gates" or "S. J. Gates"
(a middle initial is no name anyone goes by), and ``au:"John Smith"`` not "Jane Smith".

The surname test is the clause's surname against the author's surname forms
(:func:`digest.text.surname_forms`): candidates are filed under these forms (the query index's and
the search index's ``au:`` atoms), so the given names can only narrow them.
"""

from __future__ import annotations

from digest.match.document import AuthorRef
from digest.match.query import MetaClause
from digest.names import given_names_agree, same_person
from digest.text import surname_form

__all__ = ["author_matches", "given_names_agree"]


def author_matches(clause: MetaClause, author: AuthorRef) -> bool:
    """Whether ``author`` may be the person an author clause names, under any of the clause's
    readings ("Le Song" is a surname or Le Song): :func:`digest.names.same_person`."""
    return any(same_person(surname_form(surname), givens, (author.forms, author.givens))
               for surname, givens in clause.readings())
