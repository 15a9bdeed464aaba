"""Tests for audit.rules: table-driven cases for every rule, then property tests."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audit import rules
from audit.checklists import ChecklistDefinition
from audit.vocabulary import Severity, values
from tests.conftest import examples

# --------------------------------------------------------------------------- builders

ALL = ["compliant", "partial", "non_compliant", "not_applicable"]


def item(
    ref: str,
    weight: int = 1,
    critical: bool = False,
    answers: list[str] | None = None,
    references: dict[str, list[str]] | None = None,
    question: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ref": ref,
        "question": {"en": question or f"Is control {ref} in place?", "ja": f"{ref}は?"},
        "guidance": "Look for evidence.",
        "weight": weight,
        "critical": critical,
        "references": references or {"appi": ["Art. 25"]},
    }
    if answers is not None:
        data["answers"] = answers
    return data


def section(ref: str, *items: dict[str, Any], ja: str | None = None) -> dict[str, Any]:
    title: dict[str, str] = {"en": f"Section {ref}"}
    if ja:
        title["ja"] = ja
    return {"ref": ref, "title": title, "items": list(items)}


def definition(
    *sections: dict[str, Any], scoring: dict[str, Any] | None = None, answers: list[str] = ALL
) -> ChecklistDefinition:
    data: dict[str, Any] = {
        "slug": "test-list",
        "version": "1.0.0",
        "title": "Test list",
        "answers": answers,
        "sections": list(sections),
    }
    if scoring is not None:
        data["scoring"] = scoring
    return ChecklistDefinition.from_dict(data)


def flat(*items: dict[str, Any], scoring: dict[str, Any] | None = None) -> ChecklistDefinition:
    """One section holding the given items."""
    return definition(section("S1", *items), scoring=scoring)


def nine_plus_critical(scoring: dict[str, Any] | None = None) -> ChecklistDefinition:
    """C1 (critical) and C2 (critical) followed by N1..N8, all weight 1."""
    return flat(
        item("C1", critical=True),
        item("C2", critical=True),
        *(item(f"N{i}") for i in range(1, 9)),
        scoring=scoring,
    )


def compliant_except(d: ChecklistDefinition, **overrides: str | None) -> dict[str, str]:
    """Every item compliant except the given ones (None = leave unanswered)."""
    answers = {i.ref: "compliant" for i in d.items()}
    for ref, answer in overrides.items():
        if answer is None:
            answers.pop(ref)
        else:
            answers[ref] = answer
    return answers


# --------------------------------------------------------------------------- points and score

SCORE_CASES = [
    # (id, items, answers, points override, expected score)
    ("all-compliant", [item("A"), item("B")], {"A": "compliant", "B": "compliant"}, None, 100.0),
    ("one-partial", [item("A"), item("B")], {"A": "compliant", "B": "partial"}, None, 75.0),
    (
        "all-non-compliant",
        [item("A"), item("B")],
        {"A": "non_compliant", "B": "non_compliant"},
        None,
        0.0,
    ),
    (
        "weighted",
        [item("A", 3), item("B", 1)],
        {"A": "compliant", "B": "non_compliant"},
        None,
        75.0,
    ),
    (
        "weighted-partial",
        [item("A", 1), item("B", 4)],
        {"A": "non_compliant", "B": "partial"},
        None,
        40.0,
    ),
    ("unanswered-in-denominator", [item("A"), item("B")], {"A": "compliant"}, None, 50.0),
    ("all-unanswered", [item("A"), item("B")], {}, None, 0.0),
    (
        "n/a-excluded",
        [item("A"), item("B", 5)],
        {"A": "compliant", "B": "not_applicable"},
        None,
        100.0,
    ),
    (
        "n/a-excluded-weighted",
        [item("A", 2), item("B", 5), item("C", 2)],
        {"A": "compliant", "B": "not_applicable", "C": "partial"},
        None,
        75.0,
    ),
    (
        "thirds-round-up",
        [item("A"), item("B"), item("C")],
        {"A": "compliant", "B": "compliant", "C": "non_compliant"},
        None,
        66.7,
    ),
    (
        "thirds-round-down",
        [item("A"), item("B"), item("C")],
        {"A": "compliant", "C": "non_compliant"},
        None,
        33.3,
    ),
    (
        "points-partial-override",
        [item("A"), item("B")],
        {"A": "compliant", "B": "partial"},
        {"partial": 0.25},
        62.5,
    ),
    (
        "points-non-compliant-override",
        [item("A")],
        {"A": "non_compliant"},
        {"non_compliant": 0.2, "partial": 0.6},
        20.0,
    ),
    ("points-compliant-override", [item("A")], {"A": "compliant"}, {"compliant": 0.9}, 90.0),
    (
        "points-unanswered-still-zero",
        [item("A"), item("B")],
        {"A": "non_compliant"},
        {"non_compliant": 0.2, "partial": 0.6},
        10.0,
    ),
    (
        "points-thirds-exact",
        [item("A"), item("B"), item("C")],
        {"A": "partial", "B": "partial", "C": "partial"},
        {"partial": 0.3333},
        33.3,
    ),
]


@pytest.mark.parametrize(
    ("items", "answers", "points", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in SCORE_CASES],
)
def test_score(items, answers, points, expected):
    d = flat(*items, scoring={"points": points} if points else None)
    result = rules.score(d, answers)
    assert result.score == expected
    assert result.as_dict()["score"] == expected


def test_nothing_applicable_gives_no_score_rating_or_caps():
    d = flat(item("C1", critical=True), item("B"))
    result = rules.score(d, {"C1": "not_applicable", "B": "not_applicable"})
    assert (result.score, result.rating, result.band_rating) == (None, None, None)
    assert result.caps == ()
    assert result.provisional is False
    assert result.completion == 100.0
    assert result.sections[0].score is None


# --------------------------------------------------------------------------- rounding and bands

BAND_CASES = [
    # (id, score of a single partial item = partial points, bands override, score, rating)
    ("100", 1.0, None, 100.0, "A"),
    ("85.0-A", 0.85, None, 85.0, "A"),
    ("84.9-B", 0.849, None, 84.9, "B"),
    ("84.95-half-up-A", 0.8495, None, 85.0, "A"),
    ("84.949-B", 0.84949, None, 84.9, "B"),
    ("84.85-half-up", 0.8485, None, 84.9, "B"),
    ("84.65-half-up-not-to-even", 0.8465, None, 84.7, "B"),
    ("0.05-half-up", 0.0005, None, 0.1, "E"),
    ("70.0-B", 0.7, None, 70.0, "B"),
    ("69.99-rounds-to-B", 0.6999, None, 70.0, "B"),
    ("69.94-C", 0.6994, None, 69.9, "C"),
    ("55.0-C", 0.55, None, 55.0, "C"),
    ("54.9-D", 0.549, None, 54.9, "D"),
    ("40.0-D", 0.4, None, 40.0, "D"),
    ("39.95-rounds-to-D", 0.3995, None, 40.0, "D"),
    ("39.9-E", 0.399, None, 39.9, "E"),
    ("0-E", 0.0, None, 0.0, "E"),
    ("bands-override-B", 0.85, {"A": 90, "B": 80, "C": 60, "D": 50}, 85.0, "B"),
    ("bands-override-E", 0.499, {"A": 90, "B": 80, "C": 60, "D": 50}, 49.9, "E"),
    ("bands-override-partial-keys", 0.85, {"A": 95}, 85.0, "B"),
    ("bands-decimal-edge-A", 0.855, {"A": 85.5}, 85.5, "A"),
    ("bands-decimal-rounds-up-A", 0.8549, {"A": 85.5}, 85.5, "A"),
    ("bands-decimal-below", 0.8544, {"A": 85.5}, 85.4, "B"),
    ("bands-all-zero", 0.0, {"A": 0, "B": 0, "C": 0, "D": 0}, 0.0, "A"),
]


@pytest.mark.parametrize(
    ("partial", "bands", "expected_score", "expected_rating"),
    [pytest.param(*case[1:], id=case[0]) for case in BAND_CASES],
)
def test_rounding_and_bands(partial, bands, expected_score, expected_rating):
    scoring: dict[str, Any] = {"points": {"partial": partial}, "caps": []}
    if bands:
        scoring["bands"] = bands
    result = rules.score(flat(item("A"), scoring=scoring), {"A": "partial"})
    assert result.score == expected_score
    assert result.band_rating == expected_rating
    assert result.rating == expected_rating


def test_rounding_has_no_float_noise():
    # (1 + 0.699) / 2 * 100 is 84.94999999999999 in floats; exactly 84.95, so 85.0 and A.
    d = flat(item("A"), item("B"), scoring={"points": {"partial": 0.699}})
    result = rules.score(d, {"A": "compliant", "B": "partial"})
    assert (result.score, result.rating) == (85.0, "A")


# --------------------------------------------------------------------------- caps

CAP_CASES = [
    # (id, scoring, answers overrides on nine_plus_critical, rating, band, caps as
    #  (rule, items, max_rating, applied, sentence))
    ("no-caps-all-compliant", None, {}, "A", "A", []),
    (
        "critical-non-compliant",
        None,
        {"C1": "non_compliant"},
        "D",
        "A",
        [
            (
                "critical_answer",
                ["C1"],
                "D",
                True,
                "Critical item C1 is non_compliant: rating capped at D.",
            ),
            (
                "critical_answer",
                ["C1"],
                "C",
                False,
                "Critical item C1 is non_compliant: rating capped at C.",
            ),
        ],
    ),
    (
        "critical-partial",
        None,
        {"C1": "partial"},
        "C",
        "A",
        [
            (
                "critical_answer",
                ["C1"],
                "C",
                True,
                "Critical item C1 is partial: rating capped at C.",
            ),
        ],
    ),
    (
        "critical-unanswered",
        None,
        {"C1": None},
        "D",
        "A",
        [
            (
                "critical_answer",
                ["C1"],
                "D",
                True,
                "Critical item C1 is unanswered: rating capped at D.",
            ),
            (
                "critical_answer",
                ["C1"],
                "C",
                False,
                "Critical item C1 is unanswered: rating capped at C.",
            ),
        ],
    ),
    (
        "critical-two-items",
        None,
        {"C1": "non_compliant", "C2": None},
        "D",
        "B",
        [
            (
                "critical_answer",
                ["C1", "C2"],
                "D",
                True,
                "Critical items C1, C2 are non_compliant or unanswered: rating capped at D.",
            ),
            (
                "critical_answer",
                ["C1", "C2"],
                "C",
                False,
                "Critical items C1, C2 are non_compliant or unanswered: rating capped at C.",
            ),
        ],
    ),
    (
        "critical-partial-and-non-compliant",
        None,
        {"C1": "partial", "C2": "non_compliant"},
        "D",
        "A",
        [
            (
                "critical_answer",
                ["C2"],
                "D",
                True,
                "Critical item C2 is non_compliant: rating capped at D.",
            ),
            (
                "critical_answer",
                ["C1", "C2"],
                "C",
                False,
                "Critical items C1, C2 are partial or non_compliant: rating capped at C.",
            ),
        ],
    ),
    ("critical-not-applicable-no-cap", None, {"C1": "not_applicable"}, "A", "A", []),
    ("non-critical-no-cap", None, {"N1": "non_compliant"}, "A", "A", []),
    (
        "cap-not-applied-when-band-worse",
        None,
        {
            "C1": "partial",
            "N1": "non_compliant",
            "N2": "non_compliant",
            "N3": "non_compliant",
            "N4": "non_compliant",
            "N5": "non_compliant",
        },
        "D",
        "D",
        [
            (
                "critical_answer",
                ["C1"],
                "C",
                False,
                "Critical item C1 is partial: rating capped at C.",
            ),
        ],
    ),
    (
        "cap-equal-to-band-not-applied",
        None,
        {
            "C1": "partial",
            "N1": "non_compliant",
            "N2": "non_compliant",
            "N3": "non_compliant",
            "N4": "partial",
        },
        "C",
        "C",
        [
            (
                "critical_answer",
                ["C1"],
                "C",
                False,
                "Critical item C1 is partial: rating capped at C.",
            ),
        ],
    ),
    ("caps-empty-list-replaces-defaults", {"caps": []}, {"C1": "non_compliant"}, "A", "A", []),
    (
        "custom-critical-cap-only",
        {"caps": [{"rule": "critical_answer", "answer": "non_compliant", "max_rating": "B"}]},
        {"C1": "non_compliant", "C2": "partial"},
        "B",
        "A",
        [
            (
                "critical_answer",
                ["C1"],
                "B",
                True,
                "Critical item C1 is non_compliant: rating capped at B.",
            ),
        ],
    ),
    (
        "item-answer-partial",
        {
            "caps": [
                {
                    "rule": "item_answer",
                    "items": ["N2", "N1"],
                    "answer": "partial",
                    "max_rating": "B",
                }
            ]
        },
        {"N1": "partial"},
        "B",
        "A",
        [
            ("item_answer", ["N1"], "B", True, "Item N1 is partial: rating capped at B."),
        ],
    ),
    (
        "item-answer-worse-triggers",
        {
            "caps": [
                {
                    "rule": "item_answer",
                    "items": ["N2", "N1"],
                    "answer": "partial",
                    "max_rating": "C",
                }
            ]
        },
        {"N1": "non_compliant", "N2": None},
        "C",
        "B",
        [
            (
                "item_answer",
                ["N1", "N2"],
                "C",
                True,
                "Items N1, N2 are non_compliant or unanswered: rating capped at C.",
            ),
        ],
    ),
    (
        "item-answer-non-compliant-ignores-partial",
        {
            "caps": [
                {
                    "rule": "item_answer",
                    "items": ["N1"],
                    "answer": "non_compliant",
                    "max_rating": "D",
                }
            ]
        },
        {"N1": "partial"},
        "A",
        "A",
        [],
    ),
    (
        "item-answer-n/a-no-cap",
        {
            "caps": [
                {"rule": "item_answer", "items": ["N1"], "answer": "partial", "max_rating": "D"}
            ]
        },
        {"N1": "not_applicable"},
        "A",
        "A",
        [],
    ),
    (
        "item-answer-other-item-no-cap",
        {
            "caps": [
                {"rule": "item_answer", "items": ["N1"], "answer": "partial", "max_rating": "D"}
            ]
        },
        {"N2": "non_compliant"},
        "A",
        "A",
        [],
    ),
]


@pytest.mark.parametrize(
    ("scoring", "overrides", "rating", "band", "caps"),
    [pytest.param(*case[1:], id=case[0]) for case in CAP_CASES],
)
def test_caps(scoring, overrides, rating, band, caps):
    d = nine_plus_critical(scoring)
    result = rules.score(d, compliant_except(d, **overrides))
    assert (result.band_rating, result.rating) == (band, rating)
    got = [
        (c["rule"], c["items"], c["max_rating"], c["applied"], c["sentence"])
        for c in result.as_dict()["caps"]
    ]
    assert got == [tuple(c) for c in caps]


def two_sections(threshold: float, max_rating: str) -> ChecklistDefinition:
    """S1 with A1..A4 (weight 1), S2 with B1..B4 (weight 1), one section_below cap."""
    return definition(
        section("S1", *(item(f"A{i}") for i in range(1, 5))),
        section("S2", *(item(f"B{i}") for i in range(1, 5))),
        scoring={
            "caps": [{"rule": "section_below", "threshold": threshold, "max_rating": max_rating}]
        },
    )


SECTION_CASES = [
    # (id, threshold, max_rating, answers that are not compliant, rating, band,
    #  triggered sections, sentence)
    (
        "section-below",
        50,
        "D",
        {"B1": "non_compliant", "B2": "non_compliant", "B3": "partial"},
        "D",
        "C",
        ["S2"],
        "Section S2 scores 37.5, below the threshold of 50: rating capped at D.",
    ),
    (
        "section-at-threshold-not-below",
        50,
        "D",
        {"B1": "non_compliant", "B2": "non_compliant"},
        "B",
        "B",
        [],
        None,
    ),
    (
        "one-of-two-below",
        62.5,
        "D",
        {"A1": "non_compliant", "A2": "partial", "B1": "non_compliant", "B2": "non_compliant"},
        "D",
        "C",
        ["S2"],
        "Section S2 scores 50.0, below the threshold of 62.5: rating capped at D.",
    ),
    (
        "two-sections-below-decimal",
        62.6,
        "C",
        {"A1": "non_compliant", "A2": "partial", "B1": "non_compliant", "B2": "non_compliant"},
        "C",
        "C",
        ["S1", "S2"],
        "Sections S1 (62.5), S2 (50.0) score below the threshold of 62.6: rating capped at C.",
    ),
    (
        "all-n/a-section-not-below",
        50,
        "E",
        {
            "B1": "not_applicable",
            "B2": "not_applicable",
            "B3": "not_applicable",
            "B4": "not_applicable",
        },
        "A",
        "A",
        [],
        None,
    ),
    (
        "unanswered-section-below",
        50,
        "C",
        {"B1": None, "B2": None, "B3": None},
        "C",
        "C",
        ["S2"],
        "Section S2 scores 25.0, below the threshold of 50: rating capped at C.",
    ),
]


@pytest.mark.parametrize(
    ("threshold", "max_rating", "overrides", "rating", "band", "items", "sentence"),
    [pytest.param(*case[1:], id=case[0]) for case in SECTION_CASES],
)
def test_section_below(threshold, max_rating, overrides, rating, band, items, sentence):
    d = two_sections(threshold, max_rating)
    result = rules.score(d, compliant_except(d, **overrides))
    assert (result.band_rating, result.rating) == (band, rating)
    if not items:
        assert result.caps == ()
        return
    (cap,) = result.caps
    assert cap.rule == "section_below"
    assert list(cap.items) == items
    assert cap.sentence == sentence
    assert cap.applied is (rating != band)


def test_section_below_uses_rounded_section_score():
    # S1 scores 49.95 exactly, shown as 50.0: not below a threshold of 50.
    d = definition(
        section("S1", item("A")),
        scoring={
            "points": {"partial": 0.4995},
            "caps": [{"rule": "section_below", "threshold": 50, "max_rating": "E"}],
        },
    )
    result = rules.score(d, {"A": "partial"})
    assert result.sections[0].score == 50.0
    assert result.caps == ()


def test_mixed_caps_and_order_of_listing():
    d = definition(
        section("S1", item("A1", critical=True), item("A2")),
        section("S2", item("B1"), item("B2")),
        scoring={
            "caps": [
                {"rule": "section_below", "threshold": 40, "max_rating": "C"},
                {
                    "rule": "item_answer",
                    "items": ["B2"],
                    "answer": "non_compliant",
                    "max_rating": "B",
                },
                {"rule": "critical_answer", "answer": "partial", "max_rating": "D"},
            ]
        },
    )
    result = rules.score(d, {"A1": "partial", "A2": "compliant", "B1": "non_compliant"})
    assert result.score == 37.5
    assert (result.band_rating, result.rating) == ("E", "E")
    assert [c.rule for c in result.caps] == ["section_below", "item_answer", "critical_answer"]
    assert [c.applied for c in result.caps] == [False, False, False]
    assert result.caps[1].sentence == "Item B2 is unanswered: rating capped at B."


# --------------------------------------------------------------------------- sections, counts


def test_sections_completion_counts_and_provisional():
    d = definition(
        section("S1", item("A1", 2), item("A2", 2), item("A3"), ja="第一"),
        section("S2", item("B1"), item("B2"), item("B3")),
    )
    result = rules.score(
        d, {"A1": "compliant", "A2": "partial", "A3": "not_applicable", "B1": "non_compliant"}
    )
    data = result.as_dict()
    assert data["provisional"] is True
    assert data["completion"] == 66.7
    assert data["counts"] == {
        "compliant": 1,
        "partial": 1,
        "non_compliant": 1,
        "not_applicable": 1,
        "unanswered": 2,
    }
    assert data["score"] == round(100 * 3 / 7, 1)  # (2 + 1) / (2 + 2 + 1 + 1 + 1)
    assert data["sections"] == [
        {
            "ref": "S1",
            "title": "Section S1",
            "title_ja": "第一",
            "score": 75.0,
            "completion": 100.0,
            "counts": {
                "compliant": 1,
                "partial": 1,
                "non_compliant": 0,
                "not_applicable": 1,
                "unanswered": 0,
            },
        },
        {
            "ref": "S2",
            "title": "Section S2",
            "title_ja": None,
            "score": 0.0,
            "completion": 33.3,
            "counts": {
                "compliant": 0,
                "partial": 0,
                "non_compliant": 1,
                "not_applicable": 0,
                "unanswered": 2,
            },
        },
    ]
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize(
    ("answers", "provisional", "completion"),
    [
        pytest.param({}, True, 0.0, id="none-answered"),
        pytest.param({"A": "compliant"}, True, 33.3, id="one-of-three"),
        pytest.param({"A": "compliant", "B": "compliant"}, True, 66.7, id="two-of-three"),
        pytest.param(
            {"A": "not_applicable", "B": "not_applicable", "C": "partial"},
            False,
            100.0,
            id="n/a-counts-as-answered",
        ),
        pytest.param(
            {"A": "non_compliant", "B": "partial", "C": "compliant"},
            False,
            100.0,
            id="all-answered",
        ),
    ],
)
def test_provisional_and_completion(answers, provisional, completion):
    result = rules.score(flat(item("A"), item("B"), item("C")), answers)
    assert result.provisional is provisional
    assert result.completion == completion
    assert result.counts.total == 3


# --------------------------------------------------------------------------- references


def test_reference_scores():
    d = flat(
        item("A", 3, references={"appi": ["Art. 25"], "iso27001_2022": ["A.5.19"]}),
        item("B", 1, references={"ppc_gl": ["3-4-4"], "appi": ["Art. 25", "Art. 23"]}),
        item("C", 2, references={"iso27001_2022": ["A.5.19"]}),
        item("D", 1, references={"tba": ["Art. 4"]}),
    )
    result = rules.score(
        d, {"A": "compliant", "B": "non_compliant", "C": "not_applicable", "D": "not_applicable"}
    )
    refs = result.as_dict()["references"]
    assert list(refs) == [
        "appi:Art. 25",
        "iso27001_2022:A.5.19",
        "ppc_gl:3-4-4",
        "appi:Art. 23",
        "tba:Art. 4",
    ]
    assert refs["appi:Art. 25"] == {
        "framework": "appi",
        "id": "Art. 25",
        "items": ["A", "B"],
        "score": 75.0,
    }
    assert refs["iso27001_2022:A.5.19"] == {
        "framework": "iso27001_2022",
        "id": "A.5.19",
        "items": ["A", "C"],
        "score": 100.0,
    }
    assert refs["ppc_gl:3-4-4"]["score"] == 0.0
    assert refs["appi:Art. 23"]["items"] == ["B"]
    assert refs["tba:Art. 4"] == {"framework": "tba", "id": "Art. 4", "items": ["D"], "score": None}


def test_reference_counts_unanswered_as_zero():
    d = flat(item("A"), item("B"))
    refs = rules.score(d, {"A": "partial"}).as_dict()["references"]
    assert refs["appi:Art. 25"]["score"] == 25.0


# --------------------------------------------------------------------------- findings

SEVERITY_CASES = [
    # (answer, critical, weight, severity)
    ("non_compliant", True, 1, "critical"),
    ("non_compliant", True, 5, "critical"),
    ("partial", True, 1, "high"),
    ("partial", True, 5, "high"),
    ("non_compliant", False, 4, "high"),
    ("non_compliant", False, 5, "high"),
    ("non_compliant", False, 3, "medium"),
    ("non_compliant", False, 1, "medium"),
    ("partial", False, 4, "medium"),
    ("partial", False, 5, "medium"),
    ("partial", False, 3, "low"),
    ("partial", False, 1, "low"),
]


@pytest.mark.parametrize(
    ("answer", "critical", "weight", "severity"),
    [
        pytest.param(*c, id=f"{c[0]}-{'critical' if c[1] else 'normal'}-w{c[2]}")
        for c in SEVERITY_CASES
    ],
)
def test_finding_severity(answer, critical, weight, severity):
    d = flat(item("X", weight, critical=critical), item("Y"))
    drafts = rules.findings(d, {"X": answer, "Y": "compliant"})
    assert [(f.ref, f.answer, f.severity) for f in drafts] == [("X", answer, severity)]
    assert rules.finding_severity(answer, critical, weight) == severity
    assert drafts[0].critical is critical and drafts[0].weight == weight


def test_severities_and_table_agree():
    assert values(Severity) == ("critical", "high", "medium", "low")
    assert {row[-1] for row in rules.SEVERITY_TABLE} == set(values(Severity))
    with pytest.raises(ValueError, match="compliant"):
        rules.finding_severity("compliant", True, 5)


@pytest.mark.parametrize("answer", [None, "compliant", "not_applicable"])
def test_no_finding_for_good_n_a_or_unanswered(answer):
    d = flat(item("X", 5, critical=True))
    answers = {} if answer is None else {"X": answer}
    assert rules.findings(d, answers) == []
    assert rules.score(d, answers).findings == ()


def test_findings_fields_order_and_title():
    long = "Does the entrusting organisation " + "really " * 30 + "check the subcontractor?"
    d = definition(
        section("S1", item("A1", 2, question=long), item("A2")),
        section("S2", item("B1", 4, critical=True)),
    )
    answers = {"B1": "partial", "A2": "compliant", "A1": "non_compliant"}
    drafts = rules.findings(d, answers)
    assert [f.ref for f in drafts] == ["A1", "B1"]
    first = drafts[0].as_dict()
    assert first["section_ref"] == "S1"
    assert first["severity"] == "medium"
    assert first["title"].startswith("Does the entrusting organisation really")
    assert first["title"].endswith("…") and len(first["title"]) <= rules.TITLE_MAX
    assert drafts[1].as_dict() == {
        "ref": "B1",
        "section_ref": "S2",
        "answer": "partial",
        "severity": "high",
        "weight": 4,
        "critical": True,
        "title": "Is control B1 in place?",
    }
    assert list(rules.score(d, answers).findings) == drafts


# --------------------------------------------------------------------------- refusals

ERROR_CASES = [
    # (id, answers, fragments the message must contain)
    ("unknown-ref", {"A": "compliant", "ZZ-9": "compliant"}, ["ZZ-9"]),
    ("unknown-refs-sorted", {"Zq": "compliant", "Ab": "partial"}, ["'Ab', 'Zq'"]),
    ("unknown-value", {"A": "yes"}, ["A", "'yes'"]),
    ("none-value", {"A": None}, ["A", "None"]),
    ("n/a-not-allowed", {"NA": "not_applicable"}, ["NA", "not_applicable"]),
    ("partial-not-allowed", {"NA": "partial"}, ["NA", "partial"]),
]


@pytest.mark.parametrize(
    ("answers", "fragments"), [pytest.param(*c[1:], id=c[0]) for c in ERROR_CASES]
)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(rules.score, id="score"),
        pytest.param(rules.findings, id="findings"),
        pytest.param(lambda d, a: rules.submission_problems(d, a, {}), id="submission"),
    ],
)
def test_refusals(call, answers, fragments):
    d = flat(item("A"), item("NA", answers=["compliant", "non_compliant"]))
    with pytest.raises(ValueError) as info:
        call(d, answers)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_refuses_answer_outside_checklist_answers():
    d = definition(section("S1", item("A")), answers=["compliant", "partial", "non_compliant"])
    with pytest.raises(ValueError, match="item A: answer 'not_applicable' is not allowed"):
        rules.score(d, {"A": "not_applicable"})


# --------------------------------------------------------------------------- submission


def test_submission_problems():
    d = definition(
        section("S1", item("A1"), item("A2"), item("A3"), item("A4")),
        section("S2", item("B1"), item("B2"), item("B3")),
    )
    answers = {
        "B2": "partial",
        "A4": "non_compliant",
        "A1": "compliant",
        "A3": "partial",
        "B1": "not_applicable",
        "B3": "non_compliant",
    }
    comments = {"A3": "Only half the contracts have the clause.", "B2": "  \n", "B3": "ok"}
    problems = rules.submission_problems(d, answers, comments)
    assert [(p.ref, p.kind) for p in problems] == [
        ("A2", "unanswered"),
        ("A4", "comment_required"),
        ("B2", "comment_required"),
    ]
    assert problems[0].message == "Item A2 is unanswered."
    assert problems[1].message == "Item A4 is non_compliant: a comment explaining it is required."
    assert problems[2].as_dict()["message"].startswith("Item B2 is partial")


def test_submission_ready():
    d = flat(item("A"), item("B"), item("C"))
    answers = {"A": "compliant", "B": "not_applicable", "C": "partial"}
    assert rules.submission_problems(d, answers, {"C": "Explained."}) == []


# --------------------------------------------------------------------------- misc contract


def test_result_is_frozen_and_json_ready():
    d = nine_plus_critical()
    result = rules.score(d, compliant_except(d, C1="partial", N1=None))
    with pytest.raises(AttributeError):
        result.score = 1.0  # type: ignore[misc]
    data = result.as_dict()
    for key in (
        "score",
        "rating",
        "band_rating",
        "provisional",
        "completion",
        "counts",
        "sections",
        "caps",
        "references",
        "findings",
    ):
        assert key in data
    assert json.loads(json.dumps(data)) == data


# =========================================================================== properties

ALLOWED = [
    ["compliant", "partial", "non_compliant", "not_applicable"],
    ["compliant", "partial", "non_compliant"],
    ["compliant", "non_compliant", "not_applicable"],
    ["compliant", "non_compliant"],
]
POINT_VALUES = [0, 0.1, 0.25, 0.3333, 0.5, 0.7, 0.95, 1]
PROPERTY_SETTINGS = settings(
    max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def scenarios(draw: st.DrawFn, default_points: bool = False) -> tuple[ChecklistDefinition, dict]:
    """A random small definition and a random set of answers for it (some unanswered)."""
    sections = []
    refs: list[str] = []
    for s in range(draw(st.integers(1, 4))):
        items = []
        for _ in range(draw(st.integers(1, 5))):
            ref = f"I{len(refs)}"
            refs.append(ref)
            items.append(
                item(
                    ref,
                    weight=draw(st.integers(1, 5)),
                    critical=draw(st.booleans()),
                    answers=draw(st.sampled_from(ALLOWED)),
                    references={
                        draw(st.sampled_from(["appi", "tba"])): [draw(st.sampled_from("123"))]
                    },
                )
            )
        sections.append(section(f"S{s}", *items))
    scoring: dict[str, Any] = {}
    if not default_points and draw(st.booleans()):
        c, p, n = sorted(draw(st.lists(st.sampled_from(POINT_VALUES), min_size=3, max_size=3)))[
            ::-1
        ]
        scoring["points"] = {"compliant": c, "partial": p, "non_compliant": n}
    if draw(st.booleans()):
        bands = sorted(draw(st.lists(st.integers(0, 1000), min_size=4, max_size=4)))[::-1]
        scoring["bands"] = dict(zip("ABCD", (b / 10 for b in bands), strict=True))
    if draw(st.booleans()):
        caps = []
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["critical_answer", "item_answer", "section_below"]))
            cap: dict[str, Any] = {"rule": kind, "max_rating": draw(st.sampled_from("ABCDE"))}
            if kind != "section_below":
                cap["answer"] = draw(st.sampled_from(["partial", "non_compliant"]))
            if kind == "item_answer":
                cap["items"] = draw(st.lists(st.sampled_from(refs), min_size=1, unique=True))
            if kind == "section_below":
                cap["threshold"] = draw(st.integers(0, 1000)) / 10
            caps.append(cap)
        scoring["caps"] = caps
    d = definition(*sections, scoring=scoring or None)
    answers = {}
    for it in d.items():
        answer = draw(st.sampled_from([None, *it.answers]))
        if answer is not None:
            answers[it.ref] = answer
    return d, answers


RANK = {r: i for i, r in enumerate("ABCDE")}


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_score_range_and_caps_only_lower(scenario):
    d, answers = scenario
    result = rules.score(d, answers)
    if result.score is None:
        assert result.rating is None and result.band_rating is None and result.caps == ()
        assert result.counts.not_applicable == d.item_count
        return
    assert 0.0 <= result.score <= 100.0
    assert round(result.score, 1) == result.score
    assert RANK[result.rating] >= RANK[result.band_rating]
    worst = max([result.band_rating, *(c.max_rating for c in result.caps)], key=RANK.__getitem__)
    assert result.rating == worst
    assert any(c.applied for c in result.caps) is (result.rating != result.band_rating)
    for section_score in result.sections:
        assert section_score.score is None or 0.0 <= section_score.score <= 100.0


IMPROVES = {
    None: ("partial", "compliant"),
    "non_compliant": ("partial", "compliant"),
    "partial": ("compliant",),
}


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_property_improving_an_answer_never_hurts(scenario, data):
    d, answers = scenario
    candidates = [
        (it.ref, better)
        for it in d.items()
        for better in IMPROVES.get(answers.get(it.ref), ())
        if better in it.answers and answers.get(it.ref) != "not_applicable"
    ]
    assume(candidates)
    ref, better = data.draw(st.sampled_from(candidates))
    before = rules.score(d, answers)
    after = rules.score(d, {**answers, ref: better})
    assert after.score >= before.score
    assert RANK[after.rating] <= RANK[before.rating]
    assert RANK[after.band_rating] <= RANK[before.band_rating]
    assert len(after.caps) <= len(before.caps)


@PROPERTY_SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_property_independent_of_answer_order(scenario, rnd: random.Random):
    d, answers = scenario
    pairs = list(answers.items())
    rnd.shuffle(pairs)
    shuffled = dict(pairs)
    first, second = rules.score(d, answers), rules.score(d, shuffled)
    assert first == second
    assert json.dumps(first.as_dict()) == json.dumps(second.as_dict())
    assert rules.findings(d, answers) == rules.findings(d, shuffled)
    assert rules.submission_problems(d, answers, {}) == rules.submission_problems(d, shuffled, {})


@PROPERTY_SETTINGS
@given(scenarios(default_points=True))
def test_property_all_compliant_is_100_and_a(scenario):
    d, _ = scenario
    result = rules.score(d, {it.ref: "compliant" for it in d.items()})
    assert (result.score, result.band_rating, result.rating) == (100.0, "A", "A")
    assert result.caps == () and result.findings == ()
    assert result.provisional is False and result.completion == 100.0
