"""Command: unsubscribe-mail (honour unsubscribe requests sent to the mailto URI of List-Unsubscribe)."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import click

from digest.cli.app import Context, _database_error, _first_line, cli, echo_json, pass_ctx
from digest.errors import DigestError, printable

#: sysexits.h EX_TEMPFAIL: Postfix and Exim keep a message whose pipe command exits so and deliver it
#: again later, instead of bouncing a user's unsubscribe request because the database was down.
EX_TEMPFAIL = 75


class TryLater(DigestError):
    """The request could not be handled for a reason of ours (the database); the MTA retries."""

    exit_code = EX_TEMPFAIL


@cli.command("unsubscribe-mail")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH]...")
@click.option("--json", "as_json", is_flag=True, help="Print one object per message as JSON.")
@pass_ctx
def unsubscribe_mail(ctx: Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Unsubscribe the users whose request mails (to the mailto of a digest's List-Unsubscribe) are
    given: one message on stdin (an MTA pipe alias), or each PATH, a message file (.eml), an mbox
    or a Maildir (handled messages are marked seen, so the next run skips them).

    A message without a valid token is ignored with the reason; exit 0 when every input could be
    read, 75 (EX_TEMPFAIL: the MTA retries) when the database could not be used.
    JSON: message, outcome (unsubscribed, paused, ignored), user, alert, reason."""
    from digest.deliver.inbound import check_path, handle_inputs, read_stream

    raw = None
    if paths:
        for path in paths:  # every PATH is checked before any message is acted on
            check_path(path)
    else:
        stdin = sys.stdin.buffer
        if stdin.isatty():
            raise click.UsageError("give a PATH, or pipe one message in (as an MTA pipe alias does)")
        raw = read_stream(stdin)
    settings = ctx.settings  # a config error is ours to fix, not the MTA's to retry: exit 1
    try:
        store = ctx.store
    except DigestError as exc:  # the database cannot be opened (its server down, its file locked)
        raise TryLater(str(exc)) from None
    outcomes = []
    try:
        for outcome in handle_inputs(store, settings, paths, raw):
            outcomes.append(outcome)
            if not as_json:
                click.echo(outcome.line())
    except Exception as exc:
        if not _database_error(exc):
            raise
        raise TryLater(f"database: {printable(_first_line(exc, ctx.config_url()))}") from None
    if as_json:
        echo_json([asdict(o) for o in outcomes])
        return
    counts = Counter(o.outcome for o in outcomes)
    click.echo(f"{len(outcomes)} message(s): {counts['unsubscribed']} unsubscribed, {counts['paused']} paused, "
               f"{counts['ignored']} ignored")
