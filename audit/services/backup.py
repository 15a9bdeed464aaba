"""Backup and restore: every table, evidence included, in one portable, checksummed file.

The file is gzip-compressed JSON Lines: a header (format, schema revision, time), one line per
row (``{"t": table, "r": {column: value}}``; bytes as base64, times as ISO 8601 UTC), and a
trailer with the row count per table and the SHA-256 of every line before it. Restoring checks
the gzip CRC, the checksum and the counts before it writes anything, into an empty database of
either engine (SQLite to PostgreSQL included), in one transaction. "Empty" allows the rows the
migrations make (``MADE_BY_MIGRATIONS``): the backup's replace them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from ..models import metadata, utcnow

FORMAT = "kansa-backup"
FORMAT_VERSION = 1
#: tables whose rows the migrations make: an empty database has them, and a restore replaces
#: them with the backup's (the installation's namespace, so exported OSCAL UUIDs stay the same)
MADE_BY_MIGRATIONS = frozenset({"installation"})


class BackupError(Exception):
    """The backup cannot be written or restored; the message says why."""


def _schema_revision(conn: sa.Connection) -> str | None:
    heads = MigrationContext.configure(conn).get_current_heads()
    return heads[0] if len(heads) == 1 else None


def _encode(value: Any, is_json: bool = False) -> Any:
    if is_json:
        return {"$j": value}  # stored as is: never mistaken for an encoded value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "$j":
            return inner
        if key == "$b64":
            return base64.b64decode(inner)
        if key == "$dt":
            return datetime.fromisoformat(inner)
        if key == "$d":
            return date.fromisoformat(inner)
    return value


def _line(data: dict[str, Any]) -> bytes:
    return (
        json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
        + b"\n"
    )


def _json_columns(table: sa.Table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, sa.JSON)}


def write(engine: Engine, path: Path) -> dict[str, int]:
    """Write every table to ``path``; returns the row count per table."""
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    tmp = path.with_name(path.name + ".partial")
    with engine.connect() as conn, gzip.open(tmp, "wb") as out:
        # one consistent snapshot on PostgreSQL; SQLite reads inside one transaction too
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))

        def emit(data: dict[str, Any]) -> None:
            line = _line(data)
            digest.update(line)
            out.write(line)

        emit(
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "schema": _schema_revision(conn),
                "created_at": utcnow().isoformat(),
                "tables": [t.name for t in metadata.sorted_tables],
            }
        )
        for table in metadata.sorted_tables:
            counts[table.name] = 0
            order = list(table.primary_key.columns)
            json_cols = _json_columns(table)
            for row in conn.execute(sa.select(table).order_by(*order)).mappings():
                emit(
                    {
                        "t": table.name,
                        "r": {k: _encode(v, k in json_cols) for k, v in row.items()},
                    }
                )
                counts[table.name] += 1
        trailer = {"end": True, "counts": counts, "sha256": digest.hexdigest()}
        out.write(_line(trailer))
    tmp.replace(path)
    return counts


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    try:
        with gzip.open(stream, "rb") as raw:
            yield from raw
    except (OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"the backup file is damaged (not a complete gzip file: {exc})") from None


def read(path: Path) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """Read and check a backup completely: header, rows, checksum and counts."""
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        for number, line in enumerate(_lines(stream), start=1):
            if trailer is not None:
                raise BackupError("the backup file is damaged (data after its end marker)")
            try:
                data = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise BackupError(
                    f"the backup file is damaged (line {number} is not JSON)"
                ) from None
            if header is None:
                if data.get("format") != FORMAT:
                    raise BackupError("this is not a Kansa backup file")
                if data.get("version") != FORMAT_VERSION:
                    raise BackupError(f"unsupported backup format version {data.get('version')}")
                header = data
                digest.update(line)
            elif data.get("end"):
                trailer = data
            else:
                digest.update(line)
                rows.append((data["t"], data["r"]))
    if header is None:
        raise BackupError("the backup file is empty")
    if trailer is None:
        raise BackupError("the backup file is damaged (it is cut short: no end marker)")
    if trailer.get("sha256") != digest.hexdigest():
        raise BackupError("the backup file is damaged (its checksum does not match its content)")
    counts: dict[str, int] = {}
    for table, _ in rows:
        counts[table] = counts.get(table, 0) + 1
    expected = {k: v for k, v in trailer["counts"].items() if v}
    if counts != expected:
        raise BackupError("the backup file is damaged (row counts do not match its end marker)")
    return header, rows


def restore(engine: Engine, path: Path) -> dict[str, int]:
    """Load a checked backup into an empty, migrated database in one transaction."""
    header, rows = read(path)
    known = {t.name: t for t in metadata.sorted_tables}
    unknown = {name for name, _ in rows} - set(known)
    if unknown:
        raise BackupError(f"the backup has tables this version does not know: {sorted(unknown)}")
    with engine.begin() as conn:
        revision = _schema_revision(conn)
        if revision is None:
            raise BackupError(
                "the target database has no schema: run `flask --app wsgi db upgrade` first"
            )
        if header.get("schema") != revision:
            raise BackupError(
                f"the backup is of schema {header.get('schema')} but the database is at "
                f"{revision}; restore into a database migrated to the same revision"
            )
        for table in metadata.sorted_tables:
            if table.name in MADE_BY_MIGRATIONS:
                continue
            if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
                raise BackupError(
                    f"the target database is not empty (table {table.name} has rows); "
                    "restore only into an empty database"
                )
        by_table: dict[str, list[dict[str, Any]]] = {name: [] for name in known}
        for name, row in rows:
            by_table[name].append({k: _decode(v) for k, v in row.items()})
        counts: dict[str, int] = {}
        for table in metadata.sorted_tables:
            batch = by_table[table.name]
            counts[table.name] = len(batch)
            if table.name in MADE_BY_MIGRATIONS:
                conn.execute(sa.delete(table))  # the backup's rows, and only those
            if not batch:
                continue
            # rows pointing at their own table (re-entrustment chains) get the link afterwards
            self_refs = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
            first = [{**r, **dict.fromkeys(self_refs)} for r in batch] if self_refs else batch
            conn.execute(sa.insert(table), first)
            if self_refs:
                pk = list(table.primary_key.columns)[0]
                for r in batch:
                    links = {c: r[c] for c in self_refs if r.get(c) is not None}
                    if links:
                        conn.execute(sa.update(table).where(pk == r[pk.name]).values(**links))
        if conn.dialect.name == "postgresql":
            for table in metadata.sorted_tables:
                keys = list(table.primary_key.columns)
                if (
                    len(keys) == 1
                    and isinstance(keys[0].type, sa.Integer)
                    and not keys[0].foreign_keys
                ):
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', "
                            f"'{keys[0].name}'), COALESCE((SELECT MAX(\"{keys[0].name}\") FROM "
                            f'"{table.name}"), 1), (SELECT COUNT(*) FROM "{table.name}") > 0)'
                        )
                    )
    return counts
