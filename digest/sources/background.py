"""Read a large local capture in a helper process while this one stores what it reads.

A bulk import (the arXiv snapshot: ~2.7M lines) spends about 40% of its time decoding JSON and
building records and the rest in the store. Python runs one thread of Python at a time, so the
two halves only overlap in separate processes: a helper process runs the source's reader and sends
its records back in batches; the importing process unpickles them and stores them.

The helper is a fresh interpreter (``python -c``) started with :mod:`subprocess`, not
:mod:`multiprocessing`, whose "spawn" method re-imports the caller's main script (a script without
an ``if __name__ == "__main__"`` guard would start importing again) and whose "fork" copies a
process that may run the scheduler's or the web server's threads. It gets this process's
``sys.path``, then ``(reader, path, stats, batch size)``, pickled on its stdin, and writes one pickle per
message on its stdout: ``("records", columns)`` (a batch as one tuple per record field), then
``("done", stats)`` or ``("error", (kind, reason))``.

Memory stays bounded: the helper holds at most :data:`AHEAD` pickled batches (a sender thread
writes them while its main thread reads on, so the helper keeps working while the importer is busy
in a long transaction), and blocks when the importer falls behind.

Public: :func:`records_in_background`, :class:`ReaderDied`.
"""

from __future__ import annotations

import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from itertools import islice, starmap
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

from digest.errors import ParseError
from digest.models import PaperRecord

__all__ = ["records_in_background", "ReaderDied"]

#: Records per message, and messages the helper may hold ready: 2,000 snapshot records pickle to
#: ~2.5 MB, so the helper keeps ~10,000 records (two of the store's bulk transactions) in hand.
BATCH = 2000
AHEAD = 5

#: A record's constructor arguments, in order. Batches travel as columns of these: a column of
#: 2,000 values pickles in one pass, where records would each go through a __reduce__ call.
_record_fields = attrgetter(*PaperRecord.__dataclass_fields__)

#: A module-level function (it is pickled by name): reads ``path``, updates ``stats`` as it goes.
Reader = Callable[[Path, Any], Iterator[PaperRecord]]


class ReaderDied(ParseError):
    """The helper process ended without finishing (killed, out of memory, not startable)."""


def records_in_background(reader: Reader, path: Path, stats: Any, *, kind: str,
                          batch: int | None = None) -> Generator[PaperRecord, None, None]:
    """``reader(path, stats)``'s records, read in a helper process; ``stats`` gets the helper's
    final values when the reader is done.

    What the reader raises (a ParseError, an OSError) is raised here as a ParseError with its
    reason. Closing the iterator early (the store failed) stops the helper. ``batch``: records per
    message (default :data:`BATCH`).
    """
    helper = subprocess.Popen([sys.executable, "-c", _HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert helper.stdin is not None and helper.stdout is not None
    def died() -> ReaderDied:
        return ReaderDied(kind, f"the reader process stopped (exit code {helper.wait()})", source=str(path))

    try:
        try:
            with helper.stdin:
                # Our import path, so the helper imports the same digest (and reader) as this
                # process, installed or not; multiprocessing's spawn passes sys.path the same way.
                pickle.dump(sys.path, helper.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump((reader, path, stats, batch or BATCH), helper.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:  # it could not start
            raise died() from None
        while True:
            try:
                tag, payload = pickle.load(helper.stdout)
            except (EOFError, pickle.UnpicklingError):
                raise died() from None
            if tag == "records":
                yield from starmap(PaperRecord, zip(*payload))
            elif tag == "done":
                _copy_fields(payload, stats)
                return
            else:  # "error": what the reader raised, as (kind, reason)
                raise ParseError(*payload, source=str(path))
    finally:
        if helper.poll() is None:
            helper.kill()
        helper.stdout.close()
        helper.wait()


def _copy_fields(source: Any, target: Any) -> None:
    for name in getattr(type(target), "__slots__", ()) or vars(target):
        setattr(target, name, getattr(source, name))


# --- the helper's side ---------------------------------------------------------------------------

def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Read ``(reader, path, stats, batch size)``, run the reader, write its records in batches."""
    # Ctrl-C reaches the whole process group: the importer stops us (and reports); no second traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)
    gone = threading.Event()  # the importer stopped reading
    sender = threading.Thread(target=_send_all, args=(outbox, stdout, gone), daemon=True)
    sender.start()
    try:
        reader, path, stats, size = pickle.load(stdin)
        records = reader(path, stats)
        while not gone.is_set() and (batch := list(islice(records, size))):
            outbox.put(_dumps(("records", tuple(zip(*map(_record_fields, batch))))))
        outbox.put(_dumps(("done", stats)))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the importing process
        # Sent as plain strings: our exceptions take keyword arguments, which pickle cannot restore.
        outbox.put(_dumps(("error", _kind_and_reason(exc))))
    finally:
        outbox.put(None)
        sender.join()


def _send_all(outbox: queue.Queue[bytes | None], stdout: IO[bytes], gone: threading.Event) -> None:
    # One blocking write per message, the GIL released while the importer reads it.
    while (blob := outbox.get()) is not None:
        if gone.is_set():
            continue  # drain, so the reader never blocks on a full outbox before it sees `gone`
        try:
            stdout.write(blob)
            stdout.flush()
        except (BrokenPipeError, ValueError):
            gone.set()


def _dumps(message: tuple[str, Any]) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def _kind_and_reason(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ParseError):
        return exc.kind, exc.reason
    if isinstance(exc, OSError):
        return "file", exc.strerror or str(exc)
    return "file", f"{exc.__class__.__name__}: {exc}"


#: The helper's program: take this process's import path, then serve.
_HELPER = ("import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
           "from digest.sources.background import _serve; _serve(sys.stdin.buffer, sys.stdout.buffer)")
