"""Matching: saved queries, their normalisation, scoring with explanations, and the query index.

Pure functions over paper values; no database. Other packages import these names from here:

* :func:`compile_query` -> :class:`CompiledQuery` (``.evaluate(doc, stats) -> MatchResult | None``)
* :class:`Document` (``Document.from_paper(paper)``), :class:`CorpusStats`, :class:`MatchResult`
* :class:`QueryIndex` (percolator) and :func:`match_all` (brute force)
* :func:`validate_for_save`, :func:`highlight`, :data:`DEFAULT_THRESHOLD`
* :func:`parse` / :class:`Query` for tools that inspect the AST; :func:`terms` for normalised text
"""

from digest.match.document import Document
from digest.match.index import QueryIndex, match_all
from digest.match.normalize import Term, terms
from digest.match.query import Query, parse
from digest.match.score import DEFAULT_THRESHOLD, CompiledQuery, MatchResult, compile_query, highlight
from digest.match.stats import CorpusStats
from digest.match.validate import validate_for_save

__all__ = ["Document", "QueryIndex", "match_all", "Term", "terms", "Query", "parse", "DEFAULT_THRESHOLD",
           "CompiledQuery", "MatchResult", "compile_query", "highlight", "CorpusStats", "validate_for_save"]
