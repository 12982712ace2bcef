"""Commands: `digest send`, `digest preview`, and the outbox section of `digest status`."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from digest.cli.app import Context, cli, echo_json, pass_ctx, write_output
from digest.cli.status import STATUS_SECTIONS
from digest.store.base import utcnow


def _parse_now(value: str | None) -> datetime:
    from digest.digests.periods import check_instant

    if not value:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time such as 2026-11-24T07:00:00+01:00",
                                 param_hint="--now") from None
    # A time without an offset is read as UTC, never as the machine's local time.
    parsed = parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed
    try:
        check_instant(parsed)  # the period arithmetic steps back days and weeks from it
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None
    return parsed


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what is due; match, record and send nothing.")
@click.option("--now", "now_text", metavar="ISO_TIME", help="Act as of this time (default: now; no offset = UTC).")
@click.option("--no-match", is_flag=True, help="Do not match new papers first (the scheduler matches on its own).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def send(ctx: Context, dry_run: bool, now_text: str | None, no_match: bool, as_json: bool) -> None:
    """Build and deliver every digest that is due.

    Each user's daily digest is due from their local hour (weekly: on their weekday) until the next
    one; a digest is built and sent once, however often this runs. Exits 1 when a digest could not be
    built or failed for good, or when messages were due and none could be delivered (the server
    down, a wrong password): cron then reports it; the rows wait for the next run.
    """
    from digest.digests.send import send_due

    now = _parse_now(now_text)
    report = send_due(ctx.store, ctx.settings, now=now, dry_run=dry_run, match_first=not no_match)
    run = report.delivery
    troubled = not dry_run and (report.count("failed") > 0 or (
        run is not None and (run.failed > 0 or (run.retried > 0 and run.sent == 0))))
    if as_json:
        echo_json({"now": now, "dry_run": dry_run, "planned": report.planned, "delivery": report.delivery,
                   "matched": report.matched})
        if troubled:
            click.get_current_context().exit(1)
        return
    for p in report.planned:
        what = p.error or p.subject or ("empty: not sent" if p.outcome == "empty" else "")
        click.echo(f"{p.outcome:8} {p.period:6} {p.period_key:10} {p.user_email}  {p.papers} papers  {what}".rstrip())
    if dry_run:
        click.echo(f"dry run: {len(report.planned)} digest(s) due at {now.isoformat()}; nothing recorded or sent")
        return
    failed = report.count("failed")
    click.echo(f"{report.count('enqueued')} digest(s) queued, {report.count('empty')} empty, "
               f"{report.count('already')} already done" + (f", {failed} could not be built" if failed else ""))
    if run is not None:
        click.echo(f"delivered {run.sent}, retrying {run.retried}, failed {run.failed}")
        for line in run.errors[:20]:
            click.echo(f"  {line}", err=True)
    if troubled:
        click.get_current_context().exit(1)


@cli.command()
@click.argument("user")
@click.option("--period", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the HTML here (default: print it).")
@click.option("--text", "as_text", is_flag=True, help="The plain-text part instead of the HTML.")
@click.option("--now", "now_text", metavar="ISO_TIME", help="Preview as of this time.")
@pass_ctx
def preview(ctx: Context, user: str, period: str, out: Path | None, as_text: bool, now_text: str | None) -> None:
    """Write the exact HTML of the next PERIOD digest of USER (email or id); nothing is recorded.

    Once this period's digest is in the outbox, the following period's, under its date."""
    from digest.digests.send import preview as build_preview

    digest, rendered = build_preview(ctx.store, ctx.settings, user, period=period, now=_parse_now(now_text))
    body = rendered.text if as_text else rendered.html
    if out is None:
        click.echo(body, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    write_output(out, body)
    click.echo(f"{out}: {rendered.subject} ({len(rendered.paper_ids)} shown, {rendered.more_count} more)", err=True)


def outbox_section(ctx: Context) -> tuple[str, Any]:
    """Outbox counts per status and the rows that failed or are being retried, with their reasons
    (``problems``: one object per row, the same fields for every row)."""
    summary = ctx.store.outbox_summary()
    problems = [{"id": p.id, "status": p.status, "recipient": p.recipient, "period": p.period,
                 "period_key": p.period_key, "smtp_code": p.smtp_code, "error": p.last_error, "attempts": p.attempts,
                 "next_attempt": p.next_attempt if p.status == "pending" else None, "summary": _problem_line(p)}
                for p in summary.problems]
    return "outbox", {**summary.counts, "oldest_pending": summary.oldest_pending, "last_sent": summary.last_sent,
                      "problems": problems}


def _problem_line(p: Any) -> str:
    """One outbox problem as `digest status` prints it."""
    code = f"SMTP {p.smtp_code} " if p.smtp_code else ""
    retry = f"; retry at {p.next_attempt:%Y-%m-%d %H:%M} UTC" if p.status == "pending" and p.next_attempt else ""
    return f"#{p.id} {p.status}: {p.recipient} {p.period} {p.period_key}: {code}{p.last_error} (attempts {p.attempts}{retry})"


STATUS_SECTIONS.append(outbox_section)
