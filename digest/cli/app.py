"""The `digest` command group and what every command shares: settings, store, output.

Commands live in one module per concern (cli/ingest.py, cli/match.py, ...) and only parse
arguments, call library functions and print; they hold no logic of their own.
"""

from __future__ import annotations

import errno
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import click

from digest.config import Settings, load_settings, redact_url
from digest.errors import DigestError, printable

F = TypeVar("F", bound=Callable[..., Any])
#: The largest --limit a listing takes (more than any database holds; the drivers' 64-bit integers
#: refuse far larger numbers), and the largest --batch of events per transaction.
MAX_COUNT = 1_000_000_000
MAX_BATCH = 1_000_000


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that refuses "nan" (which every range comparison lets through) and infinities."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class Context:
    """Lazily loaded settings and store for one command invocation."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    def config_url(self) -> str:
        """The database URL when the settings were loaded (to redact its password), else ""."""
        return self.__dict__["settings"].database_url if "settings" in self.__dict__ else ""

    @cached_property
    def store(self) -> Any:
        from digest.store import Store

        url = self.settings.database_url
        try:
            return Store.open(url)
        except DigestError:
            raise
        except Exception as exc:  # unreachable server, unwritable folder, missing driver: one line, no traceback
            raise DigestError(f"database {redact_url(url)}: cannot open: {_first_line(exc, url)}") from None


def _first_line(exc: BaseException, url: str) -> str:
    """The cause without SQLAlchemy's background links, and never the URL's password."""
    cause = getattr(exc, "orig", None) or exc  # the driver's own message (DBAPIError wraps it)
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    password = _password(url)
    return text.replace(password, "***") if password else text


def _password(url: str) -> str | None:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).password  # type: ignore[no-any-return]
    except Exception:  # an unparsable URL has no password we could leak
        return None


pass_ctx = click.make_pass_decorator(Context)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def echo_json(value: Any) -> None:
    """Print JSON (dataclasses and datetimes included) to stdout."""
    click.echo(json.dumps(value, default=_json_default, ensure_ascii=False, indent=2))


def is_terminal() -> bool:
    return sys.stderr.isatty()


class ProgressBar:
    """What a long operation reports to: ``advance(n)`` or ``update(done, total)``."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def advance(self, n: int) -> None:
        self._bar.advance(self._task, n)

    def update(self, done: int, total: int | None) -> None:
        self._bar.update(self._task, completed=done, total=total)


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressBar | None]:
    """A rich progress bar on a terminal; None (no output) when stderr is not a terminal."""
    if not is_terminal():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        yield ProgressBar(bar, bar.add_task(label, total=None))


class DigestGroup(click.Group):
    """Turns DigestError into one clear line on stderr and its exit code; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            click.echo(f"error: {printable(str(exc))}", err=True)
            caret = getattr(exc, "caret", None)
            if callable(caret):
                click.echo(caret(), err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # a closed pipe (`| head`): click's main exits quietly on it
            # An output path under a file, a full disk, a folder without permission: the path and
            # the reason are what the user can act on; the traceback is not.
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(1)
        except Exception as exc:
            if not _database_error(exc):
                raise
            # The database failed a statement (locked past the busy timeout, the server gone): the
            # driver's reason in one line, never the statement and its values.
            url = ctx.obj.config_url() if isinstance(ctx.obj, Context) else ""
            click.echo(f"error: database: {printable(_first_line(exc, url))}", err=True)
            ctx.exit(1)


def write_output(path: Path, text: str) -> None:
    """Write a command's output file; an error names the file (a full disk's ENOSPC on write has no
    file name of its own, so DigestGroup would print only "No space left on device")."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


def _database_error(exc: Exception) -> bool:
    """An error the database driver raised through SQLAlchemy (imported here: only a command that
    used the database can raise one, and the others should not pay for the import)."""
    if not type(exc).__module__.startswith("sqlalchemy"):
        return False
    from sqlalchemy.exc import DBAPIError

    return isinstance(exc, DBAPIError)


@click.group(cls=DigestGroup)
@click.option("--config", "config_path", envvar="DIGEST_CONFIG", type=click.Path(dir_okay=False),
              help="TOML configuration file (default: $DIGEST_CONFIG, else built-in defaults).")
@click.version_option(package_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """digest: paper alerts and daily digests from arXiv, Hugging Face, OpenReview, bioRxiv and any feed."""
    if config_path is not None and not config_path.strip():
        # `--config "$UNSET"` in a script: running on the built-in defaults (a new SQLite file in
        # ./data) instead of the intended configuration would look like success.
        raise click.BadParameter("is empty (leave it out to run on the built-in defaults)", param_hint="--config")
    ctx.obj = Context(config_path)


@cli.group(cls=DigestGroup)
def bench() -> None:
    """Run the benchmarks and print their figures (ratios against baselines from the same run)."""
