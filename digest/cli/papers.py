"""`digest papers list|show|fetch`: what the store holds, for people (tables) and scripts (--json);
`fetch` asks the arXiv API for papers by id and stores them.

JSON objects (:func:`paper_json`) carry ``id`` (canonical), ``title``, ``authors``, ``version``
(latest arXiv version or null), ``sources`` (feed names), ``categories``, plus the rest of the
paper and ``via`` details. These names are a contract for scripts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import click

from digest.cli.app import MAX_COUNT, Context, cli, echo_json, pass_ctx
from digest.cli.tables import print_table
from digest.errors import NotFoundError
from digest.models import SOURCE_KINDS, Paper


def paper_json(p: Paper, aliases: Sequence[str] = ()) -> dict[str, Any]:
    """A paper as the JSON scripts read; ``aliases`` are its other names (Store.paper_aliases)."""
    return {
        "id": p.id, "title": p.title, "authors": list(p.authors), "version": p.version,
        "sources": list(p.source_names),
        "source_kinds": sorted({v.source_kind for v in p.sources}),
        "categories": list(p.categories), "keywords": list(p.keywords), "abstract": p.abstract, "tldr": p.tldr,
        "arxiv_id": p.arxiv_id, "doi": p.doi, "openreview_id": p.openreview_id, "aliases": list(aliases),
        "links": {"abstract": p.abs_url, "pdf": p.pdf_url, "code": p.code_url, "url": p.url},
        "published": p.published, "updated": p.updated, "first_seen": p.first_seen, "license": p.license,
        "journal_ref": p.journal_ref, "venue": p.venue, "seq": p.seq,
        "via": [{"source": v.source_kind, "label": v.label,
                 "feed": v.feed_name, "external_id": v.external_id, "first_seen": v.first_seen,
                 "announce_type": v.announce_type, "signals": v.signals} for v in p.sources],
    }


@cli.group()
def papers() -> None:
    """List and show stored papers."""


@papers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of paper objects.")
@click.option("--limit", type=click.IntRange(1, MAX_COUNT), default=None, help="At most N papers (default: all).")
@click.option("--source", default=None, help="Only papers that came through this feed name or source kind.")
@pass_ctx
def list_(ctx: Context, as_json: bool, limit: int | None, source: str | None) -> None:
    """List stored papers, newest first."""
    found = ctx.store.list_papers(limit=limit, source=source)
    if source is not None and not found and source not in _known_sources(ctx):
        raise NotFoundError("source", f"{source} (a feed name or source kind: {', '.join(sorted(_known_sources(ctx)))})")
    if as_json:
        aliases = ctx.store.paper_aliases(p.id for p in found)
        echo_json([paper_json(p, aliases.get(p.id, ())) for p in found])
        return
    print_table(None, ["id", "v", "title", "sources"],
                [[p.id, p.version, p.title, ", ".join(p.source_names)] for p in found])


@papers.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the paper as a JSON object.")
@pass_ctx
def show(ctx: Context, ref: str, as_json: bool) -> None:
    """Show one paper by id (arxiv:…, doi:…, a bare arXiv id, a link, or another name it has)."""
    p = ctx.store.get_paper(ref)
    aliases = ctx.store.paper_aliases([p.id]).get(p.id, [])
    if as_json:
        echo_json(paper_json(p, aliases))
        return
    click.echo(f"{p.title}\n{', '.join(p.authors)}\n")
    for label, value in (("id", p.id), ("arXiv", f"{p.arxiv_id}v{p.version}" if p.arxiv_id else None),
                         ("DOI", p.doi), ("also", ", ".join(aliases)), ("categories", ", ".join(p.categories)),
                         ("keywords", ", ".join(p.keywords)), ("link", p.abs_url), ("pdf", p.pdf_url),
                         ("code", p.code_url), ("published", p.published), ("updated", p.updated),
                         ("journal", p.journal_ref or p.venue), ("licence", p.license)):
        if value:
            click.echo(f"{label:>10}: {value}")
    if p.tldr:
        click.echo(f"\ntl;dr: {p.tldr}")
    if p.abstract:
        click.echo(f"\n{p.abstract}")
    click.echo("\nvia:")
    for v in p.sources:
        extra = f" ({v.announce_type})" if v.announce_type else ""
        click.echo(f"  {v.label} / {v.feed_name}: {v.external_id}{extra}, "
                   f"first seen {v.first_seen:%Y-%m-%d %H:%M} UTC")


@papers.command()
@click.argument("ids", nargs=-1, required=True, metavar="ARXIV_ID...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the stored papers.")
@pass_ctx
def fetch(ctx: Context, ids: tuple[str, ...], as_json: bool) -> None:
    """Fetch papers by arXiv id (2411.17700, hep-th/9901001v2, arXiv:2411.17700, an abs or pdf link;
    several in one argument may be separated by commas) from the arXiv API and store them, newest
    version (feed name "arxiv-lookup"). Exits 1 when arXiv does not know one of them."""
    from digest.sources.arxiv_api import lookup

    settings, store = ctx.settings, ctx.store
    wanted = list(dict.fromkeys(_arxiv_id(part) for arg in ids for part in re.split(r"[\s,;]+", arg) if part))
    if not wanted:
        raise click.UsageError("give at least one arXiv id")
    records = lookup(wanted, settings=settings.fetch, base_url=settings.fetch.arxiv_api_url)
    store.ingest_records(LOOKUP_FEED, records)
    got = list(dict.fromkeys(r.arxiv_id for r in records if r.arxiv_id))
    stored = [store.get_paper(f"arxiv:{arxiv_id}") for arxiv_id in got]
    if as_json:
        aliases = store.paper_aliases(p.id for p in stored)
        echo_json([paper_json(p, aliases.get(p.id, ())) for p in stored])
    else:
        print_table(None, ["id", "v", "title"], [[p.id, p.version, p.title] for p in stored])
    missing = [arxiv_id for arxiv_id in wanted if arxiv_id not in got]
    for arxiv_id in missing:
        click.echo(f"error: arXiv has no paper {arxiv_id}", err=True)
    if missing:
        click.get_current_context().exit(1)


#: The feed name papers fetched by id are stored under (their "via").
LOOKUP_FEED = "arxiv-lookup"


def _known_sources(ctx: Context) -> set[str]:
    """What --source may name: a source kind or a feed, configured or not (papers ingested from a file)."""
    return {*SOURCE_KINDS, *(s.name for s in ctx.store.feed_states(include_disabled=True))}


def _arxiv_id(text: str) -> str:
    """The canonical arXiv id (no version) ``text`` names: an id of either scheme (``2411.17700v2``,
    ``hep-th/9901001``, ``math.GT/0309136``), with ``arXiv:`` before it, or an abs/pdf link.
    A usage error (exit 2) for anything else, named as it was typed."""
    from digest.ids import find_arxiv_id, parse_arxiv_id

    text = text.strip()
    bare = text[6:] if text[:6].lower() == "arxiv:" else text
    found = parse_arxiv_id(bare) or (find_arxiv_id(text) if "/" in text and "arxiv" in text.lower() else None)
    if found is None:
        raise click.BadParameter(f"{text!r} is not an arXiv id (like 2411.17700 or hep-th/9901001)",
                                 param_hint="ARXIV_ID")
    return found[0]
