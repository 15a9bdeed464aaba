"""Golden results: every shipped checklist scored under three fixed answer patterns.

Each case compares ``score(...).as_dict()`` with ``tests/golden/<slug>-<version>-<pattern>.json``.
After a deliberate change to the rules or to a checklist, regenerate and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_rules_golden.py -q
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from audit import rules
from audit.checklists import ChecklistDefinition, parse_file

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CHECKLISTS = sorted((ROOT / "checklists").glob("*/1.0.0.yaml"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

Pattern = Callable[[ChecklistDefinition], dict[str, str]]


def all_compliant(d: ChecklistDefinition) -> dict[str, str]:
    return {item.ref: "compliant" for item in d.items()}


def cycle(d: ChecklistDefinition) -> dict[str, str]:
    """By item index: compliant, partial, non_compliant, not_applicable (compliant if refused)."""
    order = ("compliant", "partial", "non_compliant", "not_applicable")
    answers = {}
    for index, item in enumerate(d.items()):
        wanted = order[index % len(order)]
        answers[item.ref] = wanted if wanted in item.answers else "compliant"
    return answers


def first_critical_fails(d: ChecklistDefinition) -> dict[str, str]:
    answers = all_compliant(d)
    first = next((item for item in d.items() if item.critical), None)
    if first is not None:
        answers[first.ref] = "non_compliant"
    return answers


PATTERNS: dict[str, Pattern] = {
    "all-compliant": all_compliant,
    "cycle": cycle,
    "first-critical-non-compliant": first_critical_fails,
}


def render(path: Path, pattern: str) -> tuple[str, ChecklistDefinition]:
    d = parse_file(path)
    document = {
        "checklist": path.relative_to(ROOT).as_posix(),
        "content_hash": d.content_hash,
        "pattern": pattern,
        "result": rules.score(d, PATTERNS[pattern](d)).as_dict(),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n", d


@pytest.mark.parametrize("pattern", list(PATTERNS))
@pytest.mark.parametrize("path", CHECKLISTS, ids=[p.parent.name for p in CHECKLISTS])
def test_golden(path: Path, pattern: str):
    text, d = render(path, pattern)
    golden = GOLDEN / f"{d.slug}-{d.version}-{pattern}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        return
    if not golden.exists():
        pytest.fail(f"{golden.name} is missing: run with UPDATE_GOLDEN=1 and review it")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    actual = json.loads(text)
    if expected["content_hash"] != actual["content_hash"]:
        pytest.fail(
            f"{actual['checklist']} changed since {golden.name} was written: "
            "regenerate with UPDATE_GOLDEN=1 and review the diff"
        )
    assert actual["result"] == expected["result"]
    assert golden.read_text(encoding="utf-8") == text  # key order too (references, sections)


def test_every_shipped_checklist_has_goldens():
    assert CHECKLISTS, "the shipped checklists/*/1.0.0.yaml files are missing"
    expected = {f"{p.parent.name}-1.0.0-{pattern}.json" for p in CHECKLISTS for pattern in PATTERNS}
    present = {p.name for p in GOLDEN.glob("*.json")}
    assert expected <= present
    assert present <= expected, f"stale golden files: {sorted(present - expected)}"
