"""Benchmark audit.rules.score on a synthetic 1,000-item checklist version.

Run from the repository root:  .venv/bin/python bench/bench_rules.py [--runs N]

The version has 20 sections x 50 items with weights 1..5, about one item in 17 critical, some
items that refuse not_applicable, two to three framework references per item, the default
caps plus a section_below and an item_answer cap. It is scored once per answer set, each set
drawn with a different mix of answers (including unanswered items), all built before timing.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit.checklists import ChecklistDefinition  # noqa: E402
from audit.rules import score  # noqa: E402

SECTIONS = 20
ITEMS_PER_SECTION = 50
FRAMEWORKS = ("appi", "ppc_gl", "iso27001_2022", "nist_csf_2", "nist_800_53r5")


def synthetic_definition() -> ChecklistDefinition:
    """A valid 1,000-item version built through the normal schema."""
    sections: list[dict[str, Any]] = []
    n = 0
    for s in range(1, SECTIONS + 1):
        items = []
        for i in range(1, ITEMS_PER_SECTION + 1):
            n += 1
            item: dict[str, Any] = {
                "ref": f"X-{s}.{i}",
                "question": {"en": f"Is synthetic control {s}.{i} in place and evidenced?"},
                "guidance": {"en": "Look at the records."},
                "weight": 1 + n % 5,
                "critical": n % 17 == 0,
                "references": {
                    FRAMEWORKS[n % 5]: [f"R{n % 40}"],
                    FRAMEWORKS[(n + 2) % 5]: [f"R{n % 23}", f"S{n % 7}"],
                },
            }
            if n % 9 == 0:
                item["answers"] = ["compliant", "partial", "non_compliant"]
            items.append(item)
        sections.append({"ref": f"X-{s}", "title": {"en": f"Section {s}"}, "items": items})
    return ChecklistDefinition.from_dict(
        {
            "slug": "bench-synthetic",
            "version": "1.0.0",
            "title": "Synthetic benchmark checklist",
            "scoring": {
                "caps": [
                    {"rule": "critical_answer", "answer": "non_compliant", "max_rating": "D"},
                    {"rule": "critical_answer", "answer": "partial", "max_rating": "C"},
                    {"rule": "section_below", "threshold": 40, "max_rating": "C"},
                    {
                        "rule": "item_answer",
                        "items": ["X-1.1", "X-10.25", "X-20.50"],
                        "answer": "non_compliant",
                        "max_rating": "D",
                    },
                ]
            },
            "sections": sections,
        },
        source="bench",
    )


def answer_sets(definition: ChecklistDefinition, count: int, seed: int = 20) -> list[dict]:
    """``count`` answer sets, each with its own mix of answers (from mostly good to poor)."""
    rng = random.Random(seed)
    items = list(definition.items())
    sets = []
    for _ in range(count):
        good = rng.uniform(0.5, 1.0)
        unanswered = rng.choice((0.0, 0.0, 0.05, 0.3))
        answers = {}
        critical_good = rng.choice((1.0, 0.99, 0.97, 0.9))
        for item in items:
            roll = rng.random()
            if roll < unanswered:
                continue
            if rng.random() < (critical_good if item.critical else good):
                answer = "compliant"
            else:
                answer = rng.choice(("partial", "non_compliant", "not_applicable"))
            if answer not in item.answers:
                answer = "partial"
            answers[item.ref] = answer
        sets.append(answers)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="answer sets to score")
    args = parser.parse_args()

    definition = synthetic_definition()
    sets = answer_sets(definition, args.runs)
    score(definition, sets[0])  # warm-up (builds the definition's cached item index)

    ratings: dict[str | None, int] = {}
    start = time.perf_counter()
    for answers in sets:  # results are not kept, as in the service (no GC pressure)
        rating = score(definition, answers).rating
        ratings[rating] = ratings.get(rating, 0) + 1
    elapsed = time.perf_counter() - start

    sample = [score(definition, answers) for answers in sets[:100]]
    start = time.perf_counter()
    for result in sample:
        result.as_dict()
    as_dict_elapsed = time.perf_counter() - start

    items = definition.item_count
    spread = {r: ratings.get(r, 0) for r in "ABCDE"}
    print(f"python {platform.python_version()} on {platform.machine()}, {args.runs} scores")
    print(f"items per version : {items}")
    print(f"total             : {elapsed:.3f} s")
    print(f"per score         : {elapsed / args.runs * 1e6:.0f} us")
    print(f"items/s           : {items * args.runs / elapsed:,.0f}")
    print(f"as_dict per result: {as_dict_elapsed / len(sample) * 1e6:.0f} us (extra)")
    print(f"ratings           : {spread}")


if __name__ == "__main__":
    main()
