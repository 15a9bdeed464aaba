"""Backup and restore: every table, evidence included, in one portable, checksummed file.

The file is gzip-compressed JSON Lines: a header (format, schema revision, time), one line per
row (``{"t": table, "r": {column: value}}``; bytes as base64, times as ISO 8601 UTC), and a
trailer with the row count per table and the SHA-256 of every line before it. Restoring checks
the gzip CRC, the checksum and the counts before it writes anything, into an empty database of
either engine (SQLite to PostgreSQL included), in one transaction. "Empty" allows the rows the
migrations make (``MADE_BY_MIGRATIONS``): the backup's replace them.

Both directions stream, so memory stays flat however large the data: the backup reads each
table through a server-side cursor (``yield_per``) and writes each row as it comes; the restore
reads the file twice, line by line: a first pass checks it (``check``), a second loads its rows
in bounded batches (``BATCH_ROWS`` rows or ``BATCH_BYTES`` of file, whichever comes first) and
checks the checksum again, rolling everything back if the file changed in between.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from ..models import metadata, utcnow
from .planner import analyze

FORMAT = "kansa-backup"
FORMAT_VERSION = 1
#: tables whose rows the migrations make: an empty database has them, and a restore replaces
#: them with the backup's (the installation's namespace, so exported OSCAL UUIDs stay the same)
MADE_BY_MIGRATIONS = frozenset({"installation"})
#: rows per ``executemany`` of a restore, and rows a backup fetches per round trip
BATCH_ROWS = 1000
#: a restore's batch also ends once its lines reach this size (evidence rows are large)
BATCH_BYTES = 8 << 20


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
    """Write every table to ``path``, streaming each; returns the row count per table."""
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
            # a server-side cursor on PostgreSQL: the driver holds a few rows, not the table;
            # a row with a file in it comes alone (an evidence file may be megabytes)
            has_files = any(isinstance(c.type, sa.LargeBinary) for c in table.columns)
            result = conn.execution_options(yield_per=1 if has_files else BATCH_ROWS).execute(
                sa.select(table).order_by(*order)
            )
            for row in result.mappings():
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


class _Pass:
    """One streaming pass over a backup file: its rows, one at a time, and its checksum."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digest = hashlib.sha256()
        self.header: dict[str, Any] | None = None
        self.trailer: dict[str, Any] | None = None

    def rows(self) -> Iterator[tuple[str, dict[str, Any], int]]:
        """Each row as (table, encoded columns, size of its line in the file)."""
        try:
            stream = self.path.open("rb")
        except OSError as exc:
            raise BackupError(f"cannot read {self.path}: {exc.strerror}") from None
        with stream:
            for number, line in enumerate(_lines(stream), start=1):
                if self.trailer is not None:
                    raise BackupError("the backup file is damaged (data after its end marker)")
                try:
                    data = json.loads(line)
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise BackupError(
                        f"the backup file is damaged (line {number} is not JSON)"
                    ) from None
                if not isinstance(data, dict):
                    raise BackupError(f"the backup file is damaged (line {number} is not a record)")
                if self.header is None:
                    if data.get("format") != FORMAT:
                        raise BackupError("this is not a Kansa backup file")
                    if data.get("version") != FORMAT_VERSION:
                        raise BackupError(
                            f"unsupported backup format version {data.get('version')}"
                        )
                    self.header = data
                    self.digest.update(line)
                elif data.get("end"):
                    self.trailer = data
                else:
                    self.digest.update(line)
                    table, row = data.get("t"), data.get("r")
                    if not isinstance(table, str) or not isinstance(row, dict):
                        raise BackupError(
                            f"the backup file is damaged (line {number} is not a table row)"
                        )
                    yield table, row, len(line)
        if self.header is None:
            raise BackupError("the backup file is empty")
        if self.trailer is None:
            raise BackupError("the backup file is damaged (it is cut short: no end marker)")
        if self.trailer.get("sha256") != self.digest.hexdigest():
            raise BackupError(
                "the backup file is damaged (its checksum does not match its content)"
            )


@dataclass(frozen=True)
class Checked:
    """What the checking pass learnt of a sound backup file."""

    header: dict[str, Any]
    sha256: str
    #: rows per table, tables without rows left out
    counts: dict[str, int]
    #: the tables in the order their rows come in the file
    order: tuple[str, ...]

    @property
    def loads_in_one_pass(self) -> bool:
        """Each table's rows together, parents before children: one pass loads them all."""
        rank = {t.name: i for i, t in enumerate(metadata.sorted_tables)}
        ranks = [rank[name] for name in self.order]
        return len(set(self.order)) == len(self.order) and ranks == sorted(ranks)


def check(path: Path) -> Checked:
    """Read a backup once, line by line, and check it: header, checksum, counts, tables.

    Holds one row at a time; raises ``BackupError`` saying what is wrong. A restore calls it
    before it touches the database.
    """
    scan = _Pass(path)
    counts: dict[str, int] = {}
    order: list[str] = []
    for table, _, _ in scan.rows():
        if not order or order[-1] != table:
            order.append(table)
        counts[table] = counts.get(table, 0) + 1
    assert scan.header is not None and scan.trailer is not None  # rows() checked both
    expected = scan.trailer.get("counts")
    if not isinstance(expected, dict) or counts != {k: v for k, v in expected.items() if v}:
        raise BackupError("the backup file is damaged (row counts do not match its end marker)")
    known = {t.name for t in metadata.sorted_tables}
    unknown = set(counts) - known
    if unknown:
        raise BackupError(f"the backup has tables this version does not know: {sorted(unknown)}")
    return Checked(scan.header, scan.digest.hexdigest(), counts, tuple(order))


class _Loader:
    """Inserts the rows of one table in batches; links rows of a table to each other last."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.table: sa.Table | None = None
        self.batch: list[dict[str, Any]] = []
        self.size = 0
        self.self_refs: list[str] = []
        #: per table, the links of its rows to rows of the same table, set once all are in
        self.links: dict[str, list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}

    def add(self, table: sa.Table, row: dict[str, Any], size: int) -> None:
        if table is not self.table:
            self.flush()
            self.table = table
            # rows pointing at their own table (re-entrustment chains) get the link afterwards
            self.self_refs = [
                fk.parent.name for fk in table.foreign_keys if fk.column.table is table
            ]
        decoded = {k: _decode(v) for k, v in row.items()}
        if self.self_refs:
            pk = list(table.primary_key.columns)[0].name
            for column in self.self_refs:
                if decoded.get(column) is not None:
                    self.links.setdefault(table.name, []).append(
                        {"_key": decoded[pk], "_column": column, "_value": decoded[column]}
                    )
                decoded[column] = None
        self.batch.append(decoded)
        self.size += size
        self.counts[table.name] = self.counts.get(table.name, 0) + 1
        if len(self.batch) >= BATCH_ROWS or self.size >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.table is not None and self.batch:
            self.conn.execute(sa.insert(self.table), self.batch)
        self.batch = []
        self.size = 0

    def link(self) -> None:
        self.flush()
        for table in metadata.sorted_tables:
            pending = self.links.get(table.name)
            if not pending:
                continue
            pk = list(table.primary_key.columns)[0]
            for column in sorted({p["_column"] for p in pending}):
                rows = [
                    {"_key": p["_key"], "_value": p["_value"]}
                    for p in pending
                    if p["_column"] == column
                ]
                update = (
                    sa.update(table)
                    .where(pk == sa.bindparam("_key"))
                    .values({column: sa.bindparam("_value")})
                )
                for start in range(0, len(rows), BATCH_ROWS):
                    self.conn.execute(update, rows[start : start + BATCH_ROWS])


def restore(engine: Engine, path: Path, checked: Checked | None = None) -> dict[str, int]:
    """Load a backup into an empty, migrated database in one transaction, then ``ANALYZE``.

    ``checked`` is the result of ``check(path)`` when the caller ran it already; otherwise the
    file is checked here first. The rows are read from the file again and loaded in batches;
    if the file no longer matches its check, nothing is kept.
    """
    checked = checked or check(path)
    header = checked.header
    known = {t.name: t for t in metadata.sorted_tables}
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
        for name in MADE_BY_MIGRATIONS:
            conn.execute(sa.delete(known[name]))  # the backup's rows, and only those
        loader = _Loader(conn)
        # a file in this version's table order loads in one pass; any other, a pass per table
        passes: list[set[str] | None] = (
            [None] if checked.loads_in_one_pass else [{t.name} for t in metadata.sorted_tables]
        )
        for only in passes:
            if only is not None and not only & set(checked.counts):
                continue
            scan = _Pass(path)
            for name, row, size in scan.rows():
                if only is None or name in only:
                    loader.add(known[name], row, size)
            loader.flush()
            if scan.digest.hexdigest() != checked.sha256:
                raise BackupError("the backup file changed while it was restored; nothing restored")
        loader.link()
        if loader.counts != checked.counts:
            raise BackupError("the backup file changed while it was restored; nothing restored")
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
    analyze(engine)  # a restored PostgreSQL database has no planner statistics yet
    return {t.name: loader.counts.get(t.name, 0) for t in metadata.sorted_tables}
