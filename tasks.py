#!/usr/bin/env python3
"""The one entry point for set-up, the demo, tests, lint and benchmarks (CI calls it too).

    python3 tasks.py demo     # create .venv, install, run the offline demo
    python3 tasks.py test     # create .venv, install with test extras, lint, type-check, run pytest
    python3 tasks.py bench    # run every benchmark and print ratios
    python3 tasks.py docs     # regenerate docs/cli.md from the commands' --help

Needs only Python 3.11+ and pip. When PostgreSQL's server binaries are installed (Debian package
postgresql) and DIGEST_TEST_POSTGRES_URL is unset, `test` starts a throwaway server on loopback so
the store suite runs on PostgreSQL too.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def sh(*args: str | Path, env: dict[str, str] | None = None, check: bool = True) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=check).returncode


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit("digest needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
        sh(BIN / "python", "-m", "pip", "install", "-q", "--upgrade", "pip")
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extras}]" if extras else "."
    sh(BIN / "python", "-m", "pip", "install", "-q", "-e", target)
    stamp.write_text(digest)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """A PostgreSQL server in a temporary folder, on 127.0.0.1 only, removed afterwards."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        self.bindir = Path(found[-1]).parent if found else None
        self.url: str | None = None

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:  # the server refuses to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    def __enter__(self) -> "ThrowawayPostgres":
        if self.bindir is None:
            return self
        self.dir = Path(tempfile.mkdtemp(prefix="digest-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.port = _free_port()
        data = self.dir / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "digest", "--no-sync")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(self.dir / "log"),
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200", "start")
        self.url = f"postgresql+psycopg://digest@127.0.0.1:{self.port}/postgres"
        print(f"PostgreSQL test server on 127.0.0.1:{self.port}", flush=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.url:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "stop")
            shutil.rmtree(self.dir, ignore_errors=True)


def demo() -> int:
    ensure_venv("")
    return sh(BIN / "digest", "demo")


def lint() -> int:
    ensure_venv("test")
    sh(BIN / "ruff", "check", "digest", "tests", "tasks.py")
    return sh(BIN / "mypy", "digest")


def test(pytest_args: list[str]) -> int:
    ensure_venv("test")
    lint()
    env = dict(os.environ)
    with ThrowawayPostgres() if not env.get("DIGEST_TEST_POSTGRES_URL") else _Nothing() as pg:
        if getattr(pg, "url", None):
            env["DIGEST_TEST_POSTGRES_URL"] = pg.url
        return sh(BIN / "python", "-m", "pytest", *pytest_args, env=env, check=False)


class _Nothing:
    def __enter__(self) -> "_Nothing":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def docs() -> int:
    """Regenerate docs/cli.md from the commands' --help."""
    ensure_venv("test")
    env = dict(os.environ, DIGEST_UPDATE_DOCS="1")
    return sh(BIN / "python", "-m", "pytest", "-q", "tests/test_docs.py::test_cli_reference_is_current", env=env)


def bench() -> int:
    ensure_venv("test")
    for name in ("ingest", "match", "digests"):
        sh(BIN / "digest", "bench", name)
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "lint", "bench", "docs"}:
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    try:
        if task == "test":
            return test(rest)
        return {"demo": demo, "lint": lint, "bench": bench, "docs": docs}[task]()
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
