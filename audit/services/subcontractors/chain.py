"""The re-entrustment chain: the parties above a subcontractor and the tree below it.

The LY Corporation leak ran through a subcontractor of a subcontractor; the chain is how Kansa
shows who entrusts work to whom, at any depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...limits import CHAIN_DEPTH_MAX
from ...models import Subcontractor, table_of
from ..visibility import Scope


@dataclass(eq=False)
class ChainNode:
    """One party in a re-entrustment tree, with the parties it entrusts work to."""

    id: int
    name: str
    tier: int
    children: list[ChainNode] = field(default_factory=list)


@dataclass(frozen=True)
class Chain:
    """The parties above one subcontractor (top first) and the whole tree below it."""

    ancestors: list[ChainNode]
    descendants: list[ChainNode]

    def descendant_ids(self) -> set[int]:
        """Ids of every party below the subcontractor, at any depth."""
        found: set[int] = set()
        stack = list(self.descendants)
        while stack:
            node = stack.pop()
            found.add(node.id)
            stack.extend(node.children)
        return found


def ancestor_ids(session: Session, subcontractor: Subcontractor) -> set[int]:
    """Ids of every party above this one in its re-entrustment chain."""
    seen: set[int] = set()
    parent_id = subcontractor.parent_id
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        parent_id = session.exec(
            select(Subcontractor.parent_id).where(Subcontractor.id == parent_id)
        ).first()
    return seen


def _walk(name: str, start: sa.ColumnElement[bool], *, upward: bool) -> sa.CTE:
    """A recursive CTE from the rows ``start`` selects, a parent (``upward``) or the children
    at each step, with its ``depth`` (1 for the first rows), at most ``CHAIN_DEPTH_MAX`` deep."""
    table = table_of(Subcontractor)
    columns = (table.c.id, table.c.parent_id, table.c.name, table.c.tier)
    walk = sa.select(*columns, sa.literal(1).label("depth")).where(start).cte(name, recursive=True)
    step = table.alias(f"{name}_step")
    joined = step.c.id == walk.c.parent_id if upward else step.c.parent_id == walk.c.id
    return walk.union_all(
        sa.select(step.c.id, step.c.parent_id, step.c.name, step.c.tier, walk.c.depth + 1).where(
            joined, walk.c.depth < CHAIN_DEPTH_MAX
        )
    )


def chain(session: Session, subcontractor_id: int, within: Scope) -> Chain:
    """Ancestors and descendants through two recursive queries, whatever the depth.

    Only parties ``within`` the reader's sight are shown (a party out of sight is left out with
    the tree below it); ``visibility.UNLIMITED`` gives the whole chain, for checks.
    """
    table = table_of(Subcontractor).c
    parent_of_root = sa.select(table.parent_id).where(table.id == subcontractor_id)
    up = _walk("up", table.id == parent_of_root.scalar_subquery(), upward=True)
    ancestors_rows = session.execute(
        sa.select(up.c.id, up.c.name, up.c.tier).order_by(up.c.depth.desc())
    ).all()
    down = _walk("down", table.parent_id == subcontractor_id, upward=False)
    rows = session.execute(
        sa.select(down.c.id, down.c.parent_id, down.c.name, down.c.tier).order_by(down.c.name)
    ).all()
    if not within.everything:
        wanted = {row[0] for row in rows} | {row[0] for row in ancestors_rows}
        seen_ids = set(
            session.exec(
                select(Subcontractor.id).where(
                    col(Subcontractor.id).in_(wanted), within.subcontractors
                )
            ).all()
        )
        rows = [row for row in rows if row[0] in seen_ids]
        ancestors_rows = [row for row in ancestors_rows if row[0] in seen_ids]
    # a loop (impossible through the service, guarded anyway) could bring the root back: skip it
    nodes = {
        row_id: ChainNode(row_id, name, tier)
        for row_id, _, name, tier in rows
        if row_id != subcontractor_id
    }
    top: list[ChainNode] = []
    placed: set[int] = set()
    for row_id, parent_id, _, _ in rows:
        if row_id not in nodes or row_id in placed:
            continue
        placed.add(row_id)
        if parent_id == subcontractor_id:
            top.append(nodes[row_id])
        elif parent_id in nodes:
            nodes[parent_id].children.append(nodes[row_id])
    seen: set[int] = set()
    ancestors = []
    for row_id, name, tier in ancestors_rows:
        if row_id not in seen and row_id != subcontractor_id:
            seen.add(row_id)
            ancestors.append(ChainNode(row_id, name, tier))
    return Chain(ancestors=ancestors, descendants=top)
