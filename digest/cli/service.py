"""Commands: run, web, worker, users link, export, import; status sections for the service.

``digest run`` is the single-host default: the scheduler and the web app in one process (uvicorn in
a thread, the scheduler in the main thread so SIGTERM/SIGINT reach it). ``digest web`` and
``digest worker`` run the parts apart; with PostgreSQL, ``digest run --mode enqueue`` makes the
scheduler only enqueue work for the workers.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import click

from digest.cli.app import Context, cli, echo_json, pass_ctx, write_output
from digest.errors import ConfigError


def _logging() -> None:
    # One line per event, with the feed/user concerned in the message (issue #5 "Operations").
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request at INFO and httpcore traces at DEBUG, both with the full URL: a feed
    # URL's secret (Zotero's ?key=) would reach the journal. digest's own lines go through redact_url.
    for library in ("httpx", "httpcore"):
        logging.getLogger(library).setLevel(logging.WARNING)


def _web_server(ctx: Context, host: str, port: int) -> Any:
    import uvicorn

    from digest.web import create_app

    config = uvicorn.Config(create_app(ctx.settings, ctx.store), host=host, port=port, log_level="info",
                            access_log=False, lifespan="off")
    return uvicorn.Server(config)


def _warn_plain_http(ctx: Context) -> None:
    if ctx.settings.web.base_url.startswith("http://"):
        logging.getLogger("digest.web").warning(
            "[web] base_url %s is plain http: mailbox providers expect https for List-Unsubscribe links",
            ctx.settings.web.base_url)


@cli.command()
@click.option("--mode", type=click.Choice(["embedded", "enqueue"]), default="embedded", show_default=True,
              help="embedded: the scheduler does the work; enqueue: it only queues work for `digest worker`.")
@click.option("--no-web", is_flag=True, help="Run the scheduler alone.")
@click.option("--host", default=None, help="Web host (default: [web] host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Web port (default: [web] port).")
@pass_ctx
def run(ctx: Context, mode: str, no_web: bool, host: str | None, port: int | None) -> None:
    """Run the service: scheduler plus web app in one process, until SIGTERM or Ctrl-C."""
    from digest.schedule import install_signal_handlers, run_scheduler

    _logging()
    _warn_plain_http(ctx)
    stop = threading.Event()
    install_signal_handlers(stop)
    server = thread = None
    if not no_web:
        where = (host or ctx.settings.web.host, port or ctx.settings.web.port)
        server = _web_server(ctx, *where)
        thread = threading.Thread(target=server.run, name="web", daemon=True)
        thread.start()
        # A web app that cannot start (the port taken) must stop the service, not leave a scheduler
        # that looks up while serving no pages: uvicorn ends its thread when it cannot bind.
        while not server.started and thread.is_alive():
            thread.join(0.05)
        if not server.started:
            raise click.ClickException(f"the web app could not listen on {where[0]}:{where[1]} (see the log above)")
    if not run_scheduler(ctx.settings, ctx.store, stop, mode="enqueue" if mode == "enqueue" else "embedded"):
        if server is None:
            raise click.ClickException("another scheduler is active; nothing to do")
        stop.wait()  # keep serving the web app; the other process schedules
    if server is not None and thread is not None:
        server.should_exit = True  # uvicorn finishes in-flight requests, then returns
        thread.join()


@cli.command()
@click.option("--host", default=None, help="Host to bind (default: [web] host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: [web] port).")
@pass_ctx
def web(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web app alone (alerts, search, trending, feeds, unsubscribe)."""
    _logging()
    _warn_plain_http(ctx)
    _web_server(ctx, host or ctx.settings.web.host, port or ctx.settings.web.port).run()


@cli.command()
@click.option("--owner", default=None, help="Name of this worker in leases (default: host:pid).")
@click.option("--until-idle", is_flag=True, help="Exit when there is no work left (for cron and tests).")
@pass_ctx
def worker(ctx: Context, owner: str | None, until_idle: bool) -> None:
    """Claim and run queued work (feed fetches, match batches, digests, outbox rows)."""
    from digest.schedule import install_signal_handlers
    from digest.worker import default_owner, run_worker

    _logging()
    stop = threading.Event()
    install_signal_handlers(stop)
    stats = run_worker(ctx.settings, ctx.store, owner=owner or default_owner(), stop=stop, until_idle=until_idle)
    click.echo(f"units: {stats.units}, messages: {stats.sent}, failed units: {stats.failed}")


def _users_group() -> click.Group:
    """`digest users` may already exist (user management commands); add to it rather than replace it."""
    existing = cli.commands.get("users")
    if isinstance(existing, click.Group):
        return existing

    @cli.group(name="users")
    def users() -> None:
        """Manage users."""

    return users


@_users_group().command("link")
@click.argument("email")
@pass_ctx
def users_link(ctx: Context, email: str) -> None:
    """Print a sign-in link for EMAIL (operator-issued; single-use, valid for 15 minutes)."""
    from digest.web.signin import signin_url

    click.echo(signin_url(ctx.settings, ctx.store.get_user(email)))


@cli.command("export")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout).")
@pass_ctx
def export_cmd(ctx: Context, out: str | None) -> None:
    """Write users, subscriptions, labels and tags as one portable TOML file."""
    from digest.portable import dumps, export_data

    text = dumps(export_data(ctx.store))
    if out:
        write_output(Path(out), text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_ctx
def backup_cmd(ctx: Context, file: str) -> None:
    """Copy the SQLite database, safely while the service runs, to the new FILE."""
    size = ctx.store.backup(Path(file))
    click.echo(f"backed up the database to {file} ({size / 1e6:.1f} MB)")


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_ctx
def import_cmd(ctx: Context, file: str, as_json: bool) -> None:
    """Read a file written by `digest export` (idempotent: upserts by email, name and key)."""
    from digest.portable import import_data, loads

    try:
        text = Path(file).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start}): is it a file `digest export` wrote?", path=file) from None
    counts = import_data(ctx.store, loads(text, path=file), path=file)
    if as_json:
        echo_json(counts)
    else:
        click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


# --- status sections -------------------------------------------------------------------------------


def matching_lag_section(ctx: Context) -> tuple[str, Any]:
    """How far matching trails ingest, in ingest sequence numbers."""
    top = ctx.store.max_seq()
    done = ctx.store.get_watermark("match")
    return "matching lag", {"max_seq": top, "matched_up_to": done, "lag": max(top - done, 0)}


def search_index_section(ctx: Context) -> tuple[str, Any]:
    """How much of the store the search index covers (the rest, search checks paper by paper)."""
    from digest.match.search_index import WATERMARK

    top = ctx.store.max_seq()
    done = ctx.store.get_watermark(WATERMARK)
    segments, postings, pending = ctx.store.search_index_size()
    return "search index", {"indexed_up_to": done, "lag": max(top - done, 0), "pending_papers": pending,
                            "segments": segments, "postings": postings}


def work_queue_section(ctx: Context) -> tuple[str, Any]:
    summary = ctx.store.work_summary()
    runs = {r.job_id: {"last_start": r.last_start, "last_end": r.last_end, "runs": r.runs,
                       "last_error": r.last_error} for r in ctx.store.job_runs()}
    return "work queue", {**summary, "jobs": runs}


def next_runs_section(ctx: Context) -> tuple[str, Any]:
    from digest.schedule import next_runs

    return "next scheduled runs", next_runs(ctx.store)


def _register_status() -> None:
    try:
        from digest.cli.status import STATUS_SECTIONS
    except ImportError:  # status command not present in this build
        return
    for section in (matching_lag_section, search_index_section, work_queue_section, next_runs_section):
        if section not in STATUS_SECTIONS:
            STATUS_SECTIONS.append(section)


_register_status()
