"""The database's part of a backup and a restore: SQLite's online backup, PostgreSQL's pg_dump and pg_restore."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.db import connection, connections, transaction

from audit import services as audit
from genai_platform.management.backups.manifest import BackupError


def _pg_env() -> dict[str, str]:
    """libpq's environment for the configured database: the password never shows in a process list."""
    db = connection.settings_dict
    env = dict(os.environ)
    for name, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if db.get(name):
            env[variable] = str(db[name])
    env["PGDATABASE"] = str(db["NAME"])
    options = db.get("OPTIONS", {})
    for option in ("sslmode", "sslrootcert", "sslcert", "sslkey", "passfile", "service"):
        if options.get(option):
            env[f"PG{option.upper()}"] = str(options[option])
    return env


def _pg_tool_major(tool: str) -> int:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        raise BackupError(f"{tool} is not installed or does not run; install the PostgreSQL client tools.") from None
    # "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    try:
        return int(out.split(")", 1)[1].strip().split(".")[0])
    except (IndexError, ValueError):
        raise BackupError(f"Cannot read the version of {tool} from {out.strip()!r}.") from None


def _run_tool(args: list[str], *, env: dict[str, str], what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what} failed: {lines[-1] if lines else f'exit status {result.returncode}'}")


def sqlite_snapshot(dest: Path) -> tuple[int, int]:
    """Copy the database with SQLite's online backup; return the newest seal as the copy holds it."""
    path = Path(connection.settings_dict["NAME"])
    if not path.is_file():
        raise BackupError(f"There is no database at {path}: nothing to back up.")
    source = sqlite3.connect(str(path), timeout=60)
    copy = sqlite3.connect(str(dest))
    try:
        source.backup(copy)
        copy.commit()
        return audit.seal_newest_read(copy.cursor())
    finally:
        copy.close()
        source.close()


def postgresql_snapshot(dest: Path) -> tuple[tuple[int, int], dict[str, Any]]:
    """pg_dump of the database in the snapshot this transaction exports; return the newest seal in it."""
    server_major = connection.pg_version // 10000  # type: ignore[attr-defined]
    dump_major = _pg_tool_major("pg_dump")
    if dump_major < server_major:
        raise BackupError(
            f"pg_dump is version {dump_major} but the server runs PostgreSQL {server_major}; "
            f"install the client tools of version {server_major} or later."
        )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        newest = audit.seal_newest_read(cursor)
        _run_tool(
            ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dest}"], env=_pg_env(), what="pg_dump"
        )
    return newest, {"server_major": server_major, "pg_dump_major": dump_major}


def sqlite_restore(folder: Path, manifest: dict[str, Any]) -> None:
    path = Path(connection.settings_dict["NAME"])
    connections.close_all()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.restoring")
    shutil.copyfile(folder / manifest["database"]["file"], partial)
    # A write-ahead log left by the old database would be replayed into the restored one.
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    partial.replace(path)


def postgresql_restore(folder: Path, manifest: dict[str, Any]) -> None:
    restore_major = _pg_tool_major("pg_restore")
    dump_major = int(manifest["database"].get("pg_dump_major", 0))
    if restore_major < dump_major:
        raise BackupError(
            f"The dump was written by pg_dump {dump_major}; pg_restore here is version {restore_major}: "
            f"install the client tools of version {dump_major} or later."
        )
    connections.close_all()
    # Owners and privileges come back as they were: with the audit tables owned by a role of their own and the
    # application granted only SELECT and INSERT (audit/README.md), the restore keeps that separation. It runs
    # as the owning role (the one that runs migrate), and the roles must exist on the server.
    _run_tool(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={connection.settings_dict['NAME']}",
            str(folder / manifest["database"]["file"]),
        ],
        env=_pg_env(),
        what="pg_restore",
    )
