"""The query planner's statistics: refreshed after a bulk load, so plans fit the data.

PostgreSQL plans from statistics that only ``ANALYZE`` (or autovacuum, which some managed
setups turn off after bulk loads) gathers; a freshly restored database has none and a filtered
list can take a minute instead of milliseconds. SQLite plans well without statistics, and
``ANALYZE`` there would freeze those of the moment in ``sqlite_stat1``: it is left alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def analyze(engine: Engine) -> bool:
    """Gather planner statistics for every table on PostgreSQL; True when it ran."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
    return True
