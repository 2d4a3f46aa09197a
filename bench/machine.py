"""What the figures were measured on: CPU, cores, memory, Python, database, Redis, Node."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess
import typing as t
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def database_version(url: str) -> str:
    if not url or url.startswith("sqlite"):
        return f"SQLite {sqlite3.sqlite_version} (WAL)"
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            version = connection.scalar(sa.text("SHOW server_version"))
    finally:
        engine.dispose()
    return f"PostgreSQL {version}"


def redis_version(url: str) -> str | None:
    if not url:
        return None
    import redis

    client = redis.Redis.from_url(url)
    try:
        return f"Redis {client.info('server')['redis_version']}"
    finally:
        client.close()


def node_version() -> str | None:
    node = shutil.which("node")
    if node is None:
        return None
    return subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()


def describe(database_url: str, redis_url: str) -> dict[str, t.Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "database": database_version(database_url),
        "redis": redis_version(redis_url) or "none (in-process rate limits)",
        "node": node_version(),
    }
