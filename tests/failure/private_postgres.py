"""A PostgreSQL cluster of the test's own (Debian's binaries), so that it can really be restarted.

initdb refuses to run as root: then every command runs as the ``postgres`` account (``runuser``), in a
directory under /tmp that account owns. The cluster listens on 127.0.0.1 at a free port, trusts local
connections, and is stopped (and removed) in any case.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.failure.servers import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def binaries() -> Path | None:
    """The newest installed server's bin directory holding initdb and pg_ctl, if any."""
    for directory in BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def missing_reason() -> str | None:
    """Why a private cluster cannot be made here (None: it can)."""
    if binaries() is None:
        return "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl) are not installed"
    if os.getuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres account to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int
    log: Path
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1"
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                        "-l", str(self.log), "-w", "-t", str(int(timeout)), *args],
                       check=True, capture_output=True, timeout=timeout + 10)

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: open transactions are cut off, then the server comes back."""
        self.pg_ctl("restart", "-m", "fast")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url_for(name)


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    directory = binaries()
    assert directory is not None
    root = Path(tempfile.mkdtemp(prefix="xuncha-pg-"))
    as_user: list[str] = []
    if os.getuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    cluster = Cluster(directory, root / "data", free_port(), root / "server.log", as_user)
    started = False
    try:
        subprocess.run([*as_user, str(directory / "initdb"), "-D", str(cluster.data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        cluster.pg_ctl("start")
        started = True
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(cluster.url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, cluster.log.read_text()
                time.sleep(0.2)
        yield cluster
    finally:
        if started:
            with suppress(subprocess.SubprocessError):
                cluster.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)
