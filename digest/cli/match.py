"""Commands: users, subscribe/unsubscribe, query check/test, search, match, matches, tags, tag, eval.

Each command parses its arguments, calls digest.match / the store, and prints; JSON output
(``--json``) is the stable contract, the human output may change.
"""

from __future__ import annotations

from typing import Any

import click

from digest.cli.app import MAX_BATCH, MAX_COUNT, Context, cli, echo_json, pass_ctx, progress_bar
from digest.cli.tables import print_table
from digest.errors import DigestError, NotFoundError
from digest.models import Paper

_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """One character per value, scaled to the largest (all ▁ when everything is 0)."""
    top = max(values, default=0)
    if top <= 0:
        return _SPARKS[0] * len(values)
    return "".join(_SPARKS[min(len(_SPARKS) - 1, round(v / top * (len(_SPARKS) - 1)))] for v in values)


def _paper_json(paper: Paper) -> dict[str, Any]:
    return {"id": paper.id, "title": paper.title, "authors": list(paper.authors), "url": paper.abs_url,
            "published": paper.published.isoformat() if paper.published else None}


def _why(explanation: dict[str, Any]) -> str:
    """One line from an explanation: the clauses that matched, where, exact or fuzzy."""
    parts = []
    for c in explanation.get("clauses", [])[:4]:
        kind = c.get("kind", "exact")
        matched = c.get("matched") or []
        seen = f" \"{matched[0]}\"" if kind == "fuzzy" and matched else ""
        parts.append(f"{c.get('clause', '')} [{c.get('field', '')}{', ' + kind + seen if kind != 'exact' else ''}]")
    if explanation.get("kind") == "tag":
        parts.insert(0, f"tag {explanation.get('tag')}")
    if "similar_to" in explanation:
        parts.append(f"like {explanation['similar_to'].get('paper_id')}")
    return "; ".join(parts)




# --- users and subscriptions --------------------------------------------------------------------


@cli.group()
def users() -> None:
    """Add and list users (config users are applied by `digest init`)."""


@users.command("add")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--timezone", default=None, help="IANA time zone of the digest hour.  [default: UTC]")
@click.option("--hour", type=click.IntRange(0, 23), default=None, help="Local hour of the daily digest.  [default: 7]")
@click.option("--weekday", type=click.IntRange(0, 6), default=None, help="Weekly digest day (0 = Monday).  [default: 0]")
@click.option("--show-updates/--no-show-updates", default=None,
              help='An "Updated" section for new versions of papers already sent.  [default: off]')
@click.option("--send-empty/--no-send-empty", default=None,
              help="Send a digest also when no new paper matched.  [default: off]")
@pass_ctx
def users_add(ctx: Context, email: str, name: str | None, timezone: str | None, hour: int | None,
              weekday: int | None, show_updates: bool | None, send_empty: bool | None) -> None:
    """Add a user, or change what the options give of an existing one (the rest stays as it was)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        known = ctx.store.get_user(email)
        kept: dict[str, Any] = {"name": known.name, "timezone": known.timezone, "hour": known.hour, "weekday": known.weekday}
    except NotFoundError:
        kept = {"name": None, "timezone": "UTC", "hour": 7, "weekday": 0}
    given = {"name": name, "timezone": timezone, "hour": hour, "weekday": weekday}
    values = {key: kept[key] if value is None else value for key, value in given.items()}
    try:
        ZoneInfo(str(values["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown IANA time zone {timezone!r}", param_hint="--timezone") from None
    try:
        user = ctx.store.upsert_user(email, **values, show_updates=show_updates, send_empty=send_empty)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    click.echo(f"user {user.email} (id {user.id}): digest at {user.hour:02d}:00 {user.timezone}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def users_list(ctx: Context, as_json: bool) -> None:
    """List users with their subscriptions."""
    store = ctx.store
    subs_by_user: dict[int, list[Any]] = {}
    for s in store.list_subscriptions():
        subs_by_user.setdefault(s.user_id, []).append(s)
    rows = []
    for u in store.list_users():
        subs = subs_by_user.get(u.id, [])
        rows.append({"id": u.id, "email": u.email, "name": u.name, "timezone": u.timezone, "hour": u.hour,
                     "weekday": u.weekday, "origin": u.origin, "active": u.active,
                     "subscriptions": [{"id": s.id, "name": s.name, "kind": s.kind, "query": s.query,
                                        "every": s.every, "channel": s.channel, "threshold": s.threshold,
                                        "paused": s.paused} for s in subs]})
    if as_json:
        echo_json(rows)
        return
    print_table("users", ["email", "name", "schedule", "origin", "subscriptions"],
                [[r["email"], r["name"] or "", f"{r['hour']:02d}:00 {r['timezone']}",
                  r["origin"] + ("" if r["active"] else " (inactive)"),
                  ", ".join(s["name"] for s in r["subscriptions"])] for r in rows])


@cli.command()
@click.argument("user")
@click.argument("query", required=False)
@click.option("--name", required=True, help="Name of the subscription (unique per user).")
@click.option("--every", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True)
@click.option("--channel", type=click.Choice(["email", "feed", "both"]), default="both", show_default=True)
@click.option("--threshold", type=float, default=None, help="Minimum score (default: the matcher's default).")
@click.option("--tag", "tag", default=None, help="Subscribe to a topic tag instead of a query.")
@click.option("--user-tag", "user_tag", default=None, help="Recommend papers like the ones USER labelled with this tag.")
@click.option("--trending", is_flag=True, help="Subscribe to trending papers.")
@pass_ctx
def subscribe(ctx: Context, user: str, query: str | None, name: str, every: str, channel: str,
              threshold: float | None, tag: str | None, user_tag: str | None, trending: bool) -> None:
    """Save a subscription for USER: a QUERY, or --tag, --user-tag or --trending."""
    from digest.match.saved import subscribe as save

    try:
        sub = save(ctx.store, user, name, query=query, tag=tag, user_tag=user_tag, trending=trending, every=every,
                   channel=channel, threshold=threshold)
    except ValueError as exc:
        if isinstance(exc, DigestError):  # a query error (with its caret), a name already taken
            raise
        raise click.UsageError(str(exc)) from None
    what = {"query": f"query {sub.query!r}", "tag": f"tag {sub.query!r}", "user-tag": f"papers like your {sub.query!r}",
            "trending": "trending papers"}[sub.kind]
    click.echo(f"subscribed {sub.user_email}/{sub.name} (id {sub.id}): {what}, {sub.every}, by {sub.channel}")


@cli.command()
@click.argument("user")
@click.argument("name")
@pass_ctx
def unsubscribe(ctx: Context, user: str, name: str) -> None:
    """Delete USER's subscription NAME (its stored matches go with it)."""
    ctx.store.delete_subscription(f"{ctx.store.get_user(user).email}/{name}")
    click.echo(f"unsubscribed {user}/{name}")


# --- queries ------------------------------------------------------------------------------------


@cli.group()
def query() -> None:
    """Check and try out saved-query syntax (docs/queries.md)."""


@query.command("check")
@click.argument("text")
@pass_ctx
def query_check(ctx: Context, text: str) -> None:
    """Exit 0 and print the query as understood, or the error with its column (exit 2): the same
    checks as saving a subscription (a query of stop words or of exclusions alone is refused)."""
    from digest.match.saved import check_query, render

    understood = render(text)
    check_query(ctx.store, text, feeds=[f.name for f in ctx.settings.feeds])
    click.echo(f"ok: {understood}")


@query.command("test")
@click.argument("text")
@click.option("--days", type=click.IntRange(1, 3650), default=30, show_default=True)
@click.option("--top", type=click.IntRange(0, 1000), default=10, show_default=True, help="How many top hits to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def query_test(ctx: Context, text: str, days: int, top: int, as_json: bool) -> None:
    """Matches per day over stored papers, a sparkline and the best hits with explanations."""
    from digest.match.search import query_test as run

    report = run(ctx.store, text, days=days, top=top)
    if as_json:
        echo_json({"query": text, "days": days, "total": report.total,
                   "per_day_average": round(report.per_day_average, 3),
                   "per_day": [{"date": d.isoformat(), "count": n} for d, n in report.per_day],
                   "warnings": list(report.warnings),
                   "top": [{**_paper_json(h.paper), "paper_id": h.paper.id, "score": h.score,
                            "explanation": h.explanation} for h in report.top]})
        return
    counts = [n for _, n in report.per_day]
    window = f"{report.start} .. {report.end}" if report.start else "no stored papers"
    click.echo(f"{report.total} matches in {days} days ({window}), {report.per_day_average:.1f}/day")
    click.echo(sparkline(counts))
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    for h in report.top:
        click.echo(f"{h.score:6.2f}  {h.paper.id}  {h.paper.title}")
        click.echo(f"        {_why(h.explanation)}")


@cli.command()
@click.argument("text")
@click.option("--limit", type=click.IntRange(1, MAX_COUNT), default=None, help="At most this many results.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def search(ctx: Context, text: str, limit: int | None, as_json: bool) -> None:
    """Stored papers matching TEXT, best first (same matcher and threshold as subscriptions)."""
    from digest.match.search import search as run

    found = run(ctx.store, text)
    hits = found[:limit] if limit is not None else found
    if as_json:
        echo_json([{**_paper_json(h.paper), "paper_id": h.paper.id, "score": h.score, "explanation": h.explanation}
                   for h in hits])
        return
    for h in hits:
        click.echo(f"{h.score:6.2f}  {h.paper.id}  {h.paper.title}")
        click.echo(f"        {_why(h.explanation)}")
    # Every match is counted, as on the web's search page; --limit only cuts what is printed.
    shown = f", {len(hits)} shown" if len(hits) < len(found) else ""
    click.echo(f"{len(found)} result{'' if len(found) == 1 else 's'}{shown}")


# --- matching -----------------------------------------------------------------------------------


@cli.command()
@click.option("--batch", type=click.IntRange(1, MAX_BATCH), default=2000, show_default=True, help="Events per transaction.")
@pass_ctx
def match(ctx: Context, batch: int) -> None:
    """Match papers ingested since the last run against every subscription and topic tag."""
    from digest.match.run import match_new

    with progress_bar("matching") as bar:
        run = match_new(ctx.store, batch=batch, progress=bar.update if bar else None)
    for name, reason in run.skipped:
        click.echo(f"warning: skipped {name}: {reason}", err=True)
    click.echo(f"{run.events} new paper events matched: {run.matches} matches, {run.paper_tags} paper tags "
               f"(sequence {run.watermark_from} -> {run.watermark_to}); {run.indexed} papers indexed for search")


@cli.command()
@click.option("--user", default=None, help="Only this user's matches (email or id).")
@click.option("--subscription", default=None, help="Only this subscription (name with --user, USER/NAME, or id).")
@click.option("--limit", type=click.IntRange(1, MAX_COUNT), default=None, help="At most this many (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def matches(ctx: Context, user: str | None, subscription: str | None, limit: int | None, as_json: bool) -> None:
    """Stored matches, newest first."""
    found = ctx.store.matches(user=user, subscription=subscription, limit=limit, newest_first=True)
    if as_json:
        echo_json([{"user": m.user_email, "subscription": m.subscription, "subscription_id": m.subscription_id,
                    "paper_id": m.paper_id, "score": m.score, "explanation": m.explanation, "seq": m.seq,
                    "created": m.created} for m in found])
        return
    titles = {pid: p.title for pid, p in ctx.store.papers_by_ids(m.paper_id for m in found).items()}
    print_table("matches", ["user", "subscription", "score", "paper", "title"],
                [[m.user_email, m.subscription, f"{m.score:.2f}", m.paper_id, titles.get(m.paper_id, "")]
                 for m in found])
    click.echo(f"{len(found)} matches")


# --- tags ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def tags(ctx: Context, as_json: bool) -> None:
    """Every tag (topic tags, source categories and keywords) with its paper count."""
    from digest.match.tags import tag_counts

    counts = tag_counts(ctx.store)
    origin = {t.name: t.origin for t in ctx.store.list_tags()}
    if as_json:
        echo_json([{"tag": name, "papers": n, "origin": origin.get(name)} for name, n in counts])
        return
    print_table("tags", ["tag", "papers", "origin"], [[name, n, origin.get(name, "")] for name, n in counts])


@cli.group()
def tag() -> None:
    """Label papers for user tags; re-apply topic tags."""


@tag.command("add")
@click.argument("user")
@click.argument("name")
@click.argument("paper_id")
@click.option("--not-relevant", is_flag=True, help="Label as not relevant: pushes similar papers down.")
@pass_ctx
def tag_add(ctx: Context, user: str, name: str, paper_id: str, not_relevant: bool) -> None:
    """Label PAPER_ID with USER's tag NAME ("more like this", or --not-relevant)."""
    if not name.strip():
        raise click.BadParameter("a tag needs a name", param_hint="NAME")
    paper = ctx.store.get_paper(paper_id)
    ctx.store.add_label(user, name, paper.id, -1 if not_relevant else 1)
    what = "not relevant for" if not_relevant else "tagged"
    click.echo(f"{paper.id} {what} {name!r} ({user})")


@tag.command("apply")
@click.argument("names", nargs=-1)
@pass_ctx
def tag_apply(ctx: Context, names: tuple[str, ...]) -> None:
    """Apply topic tags (all, or NAMES) to every stored paper, e.g. after adding one to the config."""
    from digest.match.tags import apply_tags

    added = apply_tags(ctx.store, names or None)
    click.echo(f"{added} paper tags added")


# --- evaluation ---------------------------------------------------------------------------------


@cli.command("eval")
@click.argument("queries", type=click.Path(exists=True, dir_okay=False))
@click.argument("qrels", type=click.Path(exists=True, dir_okay=False))
@click.option("--papers", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON-lines papers (default: the papers in the database).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with per-query figures).")
@pass_ctx
def eval_(ctx: Context, queries: str, qrels: str, papers: str | None, as_json: bool) -> None:
    """Precision, recall and F1 of the matcher vs substring matching vs BM25 on TREC-style qrels."""
    from digest.match.eval import evaluate

    report = evaluate(queries, qrels, papers if papers else ctx.store)
    if as_json:
        echo_json(report.to_dict())
        return
    by_query: dict[str, dict[str, Any]] = {}
    for r in report.results:
        by_query.setdefault(r.query_id, {"query": r.query})[r.system] = r
    systems = list(report.summaries)
    print_table(f"per query (F1) over {report.papers} papers", ["query", "text", *systems],
                [[qid, row["query"], *(f"{row[s].f1:.2f}" for s in systems)] for qid, row in by_query.items()])
    print_table("overall", ["system", "micro P", "micro R", "micro F1", "macro P", "macro R", "macro F1"],
                [[s.system, f"{s.micro_precision:.3f}", f"{s.micro_recall:.3f}", f"{s.micro_f1:.3f}",
                  f"{s.macro_precision:.3f}", f"{s.macro_recall:.3f}", f"{s.macro_f1:.3f}"]
                 for s in report.summaries.values()])
