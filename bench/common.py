"""Shared set-up for benchmarks: a scratch database (never the one given), migrated and seeded."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.db import normalise_url

BENCH_DB = "xuncha_bench"


def scratch_database(url: str | None) -> str:
    """A fresh database for the benchmark: a temp SQLite file, or ``xuncha_bench`` on the given server."""
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix='xuncha-bench-')) / 'bench.db'}"
    server = make_url(normalise_url(url))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    return server.set(database=BENCH_DB).render_as_string(hide_password=False)


def describe_machine() -> str:
    import os
    import platform

    return (f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"{platform.machine()}")
