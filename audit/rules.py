"""Scoring rules: how a set of answers becomes a score, a rating, caps and findings.

This module is the whole of the scoring logic, written to be read in one sitting by a reviewer
or a regulator. It is pure: no Flask, no database, only the standard library and the checklist
definition types. Every number a version may change (points, bands, caps) comes from
``definition.scoring``; the fixed tables are below.

In short:

* Each applicable item contributes ``weight * points[answer]`` out of ``weight * 1``.
  An unanswered item scores 0 points but stays in the denominator (an unassessed control is
  no evidence); a ``not_applicable`` item is left out of both.
* Score = 100 * sum(weight * points) / sum(weight), rounded half-up to one decimal with exact
  integer arithmetic (84.95 becomes 85.0). The band rating is read from the rounded score.
* Caps only lower a rating: the final rating is the worst of the band rating and the
  ``max_rating`` of every triggered cap. A cap on answer X is triggered by X or anything worse
  (``ANSWER_RANK``), so a better answer never gives a worse rating; a ``section_below`` cap
  compares the section's rounded score, like the bands. Nothing applicable: no score, no rating.
* Every ``partial`` or ``non_compliant`` answer yields a finding draft with a severity from
  ``SEVERITY_TABLE``.
* Submission needs every item answered and a comment on every answer that
  ``policies.needs_comment`` names (``partial`` and ``non_compliant``).

The words used here (answers, item states, ratings, severities, cap kinds) are the enums of
``audit.vocabulary``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from audit.checklists import (
    DEFAULT_BANDS,
    DEFAULT_POINTS,
    CapRule,
    ChecklistDefinition,
    ItemDefinition,
)
from audit.policies import needs_comment
from audit.vocabulary import (
    SCORED_ANSWERS,
    AnswerStatus,
    CapKind,
    ItemState,
    Rating,
    Severity,
    values,
)

# =========================================================================== tables

#: Item states (``ItemState``) in the order counts and sentences list them, and ratings best first.
_STATES = values(ItemState)
_RATINGS = values(Rating)
# The states the per-item loops compare with, bound once: on Python 3.11 reading an enum member
# (``ItemState.UNANSWERED``) costs some twenty times a plain name, once per item per score.
_UNANSWERED = ItemState.UNANSWERED
_NOT_APPLICABLE = ItemState.NOT_APPLICABLE
_GAPS = frozenset({ItemState.PARTIAL, ItemState.NON_COMPLIANT})

#: Default answer order for caps: how bad an answer is, 0 = best. A cap with ``answer: X`` is
#: triggered by X or anything worse, so improving an answer can never lower a rating.
#: Unanswered ranks like non_compliant. not_applicable is absent on purpose: it never
#: triggers a cap.
ANSWER_RANK: Mapping[str, int] = {
    ItemState.COMPLIANT: 0,
    ItemState.PARTIAL: 1,
    ItemState.NON_COMPLIANT: 2,
    ItemState.UNANSWERED: 2,
}

#: Severity of a finding. Read top to bottom; the first matching row wins.
#: Columns: answer, critical items only?, minimum item weight, severity.
#: Only partial and non_compliant answers yield findings (unanswered ones do not).
SEVERITY_TABLE: tuple[tuple[str, bool, int, Severity], ...] = (
    (ItemState.NON_COMPLIANT, True, 1, Severity.CRITICAL),  # a critical control fails
    (ItemState.PARTIAL, True, 1, Severity.HIGH),  # a critical control is only partly in place
    (ItemState.NON_COMPLIANT, False, 4, Severity.HIGH),  # a heavy (weight 4-5) control fails
    (ItemState.NON_COMPLIANT, False, 1, Severity.MEDIUM),  # any other control fails
    (ItemState.PARTIAL, False, 4, Severity.MEDIUM),  # a heavy control is only partly in place
    (ItemState.PARTIAL, False, 1, Severity.LOW),  # any other control is only partly in place
)

#: Longest finding title, in characters; longer questions are cut at a word boundary.
TITLE_MAX = 120


# =========================================================================== result types


@dataclass(frozen=True, slots=True)
class Counts:
    """How many items are in each state."""

    compliant: int = 0
    partial: int = 0
    non_compliant: int = 0
    not_applicable: int = 0
    unanswered: int = 0

    @property
    def total(self) -> int:
        """All items, answered or not."""
        return (
            self.compliant
            + self.partial
            + self.non_compliant
            + self.not_applicable
            + self.unanswered
        )

    def as_dict(self) -> dict[str, int]:
        """The counts keyed by state, in ``ItemState`` order."""
        return {state: getattr(self, state) for state in _STATES}


@dataclass(frozen=True, slots=True)
class SectionScore:
    """The score of one section (sections get no rating of their own)."""

    ref: str
    title: str
    title_ja: str | None
    score: float | None
    completion: float
    counts: Counts

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ref": self.ref,
            "title": self.title,
            "title_ja": self.title_ja,
            "score": self.score,
            "completion": self.completion,
            "counts": self.counts.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class CapResult:
    """A cap that was triggered; ``applied`` when it is what lowered the band rating."""

    rule: str
    items: tuple[str, ...]
    max_rating: str
    applied: bool
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "items": list(self.items),
            "max_rating": self.max_rating,
            "applied": self.applied,
            "sentence": self.sentence,
        }


@dataclass(frozen=True, slots=True)
class ReferenceScore:
    """The weighted score of the applicable items that cite one framework reference."""

    framework: str
    id: str
    items: tuple[str, ...]
    score: float | None

    @property
    def key(self) -> str:
        """``framework:id``, e.g. ``appi:Art. 25``."""
        return f"{self.framework}:{self.id}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "framework": self.framework,
            "id": self.id,
            "items": list(self.items),
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class FindingDraft:
    """A finding suggested by a partial or non_compliant answer."""

    ref: str
    section_ref: str
    answer: str
    severity: str
    weight: int
    critical: bool
    title: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ref": self.ref,
            "section_ref": self.section_ref,
            "answer": self.answer,
            "severity": self.severity,
            "weight": self.weight,
            "critical": self.critical,
            "title": self.title,
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """A reason an assessment cannot be submitted yet."""

    ref: str
    kind: str  # "unanswered" | "comment_required"
    message: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"ref": self.ref, "kind": self.kind, "message": self.message}


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The outcome of scoring one set of answers against one checklist version."""

    slug: str
    version: str
    score: float | None
    rating: str | None
    band_rating: str | None
    provisional: bool
    completion: float
    counts: Counts
    sections: tuple[SectionScore, ...]
    caps: tuple[CapResult, ...]
    references: tuple[ReferenceScore, ...]
    findings: tuple[FindingDraft, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``references`` is keyed ``framework:id`` in order of first citation."""
        return {
            "slug": self.slug,
            "version": self.version,
            "score": self.score,
            "rating": self.rating,
            "band_rating": self.band_rating,
            "provisional": self.provisional,
            "completion": self.completion,
            "counts": self.counts.as_dict(),
            "sections": [section.as_dict() for section in self.sections],
            "caps": [cap.as_dict() for cap in self.caps],
            "references": {ref.key: ref.as_dict() for ref in self.references},
            "findings": [finding.as_dict() for finding in self.findings],
        }


# =========================================================================== public functions


def score(definition: ChecklistDefinition, answers: Mapping[str, str]) -> ScoreResult:
    """Score ``answers`` (item ref -> answer; a missing ref is unanswered) against a version."""
    items = _items(definition)
    states = _states(definition, items, answers)
    points, full = _integer_points(definition.scoring.points)

    sections: list[SectionScore] = []
    section_tenths: dict[str, int | None] = {}
    total_num = total_den = 0
    start = 0
    for section in definition.sections:
        end = start + len(section.items)
        section_states = states[start:end]
        start = end
        num = den = 0
        for item, state in zip(section.items, section_states, strict=True):
            if state != _NOT_APPLICABLE:
                num += item.weight * points[state]
                den += item.weight * full
        tenths = _tenths(num, den)
        section_tenths[section.ref] = tenths
        counts = _counts(section_states)
        sections.append(
            SectionScore(
                ref=section.ref,
                title=section.title.en,
                title_ja=section.title.ja,
                score=_decimal(tenths),
                completion=_completion(counts),
                counts=counts,
            )
        )
        total_num += num
        total_den += den

    tenths = _tenths(total_num, total_den)
    band = _band_rating(tenths, definition.scoring.bands)
    caps = _caps(definition, items, states, section_tenths, band) if band is not None else ()
    rating = band
    for cap in caps:
        rating = _worse(rating, cap.max_rating)
    counts = _counts(states)
    return ScoreResult(
        slug=definition.slug,
        version=definition.version,
        score=_decimal(tenths),
        rating=rating,
        band_rating=band,
        provisional=counts.unanswered > 0,
        completion=_completion(counts),
        counts=counts,
        sections=tuple(sections),
        caps=caps,
        references=_reference_scores(items, states, points, full),
        findings=tuple(_drafts(items, states)),
    )


def findings(definition: ChecklistDefinition, answers: Mapping[str, str]) -> list[FindingDraft]:
    """A finding draft for every partial or non_compliant answer, in definition order."""
    items = _items(definition)
    return _drafts(items, _states(definition, items, answers))


def yields_finding(answer: str | None) -> bool:
    """Whether an answer is a gap that becomes a finding: partial or non_compliant."""
    return answer in _GAPS


def finding_severity(answer: str, critical: bool, weight: int) -> str:
    """The severity of a finding for this answer on an item, from ``SEVERITY_TABLE``."""
    for row_answer, critical_only, min_weight, severity in SEVERITY_TABLE:
        if answer == row_answer and (critical or not critical_only) and weight >= min_weight:
            return severity
    raise ValueError(f"answer {answer!r} does not yield a finding")


def submission_problems(
    definition: ChecklistDefinition,
    answers: Mapping[str, str],
    comments: Mapping[str, str],
) -> list[Problem]:
    """Why these answers cannot be submitted yet (empty when they can), in definition order."""
    items = _items(definition)
    problems: list[Problem] = []
    for item, state in zip(items, _states(definition, items, answers), strict=True):
        if state == _UNANSWERED:
            problems.append(Problem(item.ref, "unanswered", f"Item {item.ref} is unanswered."))
        elif needs_comment(state) and not (comments.get(item.ref) or "").strip():
            problems.append(
                Problem(
                    item.ref,
                    "comment_required",
                    f"Item {item.ref} is {state}: a comment explaining it is required.",
                )
            )
    return problems


# =========================================================================== answers


_MISSING: Any = object()  # marks a ref absent from the answers (None is a wrong answer)


def _items(definition: ChecklistDefinition) -> list[ItemDefinition]:
    """Every item in definition order (the definition's cached index keeps that order)."""
    return list(definition.item_index().values())


def _states(
    definition: ChecklistDefinition, items: Sequence[ItemDefinition], answers: Mapping[str, str]
) -> list[str]:
    """Each item's answer (or ``unanswered``) in definition order; refuses bad input."""
    states: list[str] = []
    found = 0
    for item in items:
        answer = answers.get(item.ref, _MISSING)
        if answer is _MISSING:
            states.append(_UNANSWERED)
            continue
        found += 1
        if answer not in item.answers:
            if answer not in values(AnswerStatus):
                raise ValueError(
                    f"item {item.ref}: unknown answer {answer!r}; "
                    f"expected one of {', '.join(values(AnswerStatus))}"
                )
            raise ValueError(
                f"item {item.ref}: answer {answer!r} is not allowed for this item "
                f"(allowed: {', '.join(item.answers)})"
            )
        states.append(answer)
    if found != len(answers):
        index = definition.item_index()
        unknown = sorted(str(ref) for ref in answers if ref not in index)
        label = "ref" if len(unknown) == 1 else "refs"
        raise ValueError(f"unknown item {label} in answers: {', '.join(map(repr, unknown))}")
    return states


# =========================================================================== arithmetic


def _integer_points(points: Mapping[str, float]) -> tuple[dict[str, int], int]:
    """Points as integers over a common scale, so sums and rounding are exact."""
    exact = {a: Fraction(str(p)) for a, p in {**DEFAULT_POINTS, **points}.items()}
    scale = math.lcm(*(exact[a].denominator for a in SCORED_ANSWERS))
    result = {str(a): int(exact[a] * scale) for a in SCORED_ANSWERS}
    result[ItemState.UNANSWERED] = 0
    return result, scale


def _tenths(num: int, den: int) -> int | None:
    """``100 * num / den`` in tenths, rounded half-up exactly; None when ``den`` is 0."""
    if den == 0:
        return None
    return (2000 * num + den) // (2 * den)


def _decimal(tenths: int | None) -> float | None:
    """Tenths as a one-decimal number (``850`` -> ``85.0``)."""
    return None if tenths is None else tenths / 10


def _counts(states: list[str]) -> Counts:
    """How many of these states are of each kind."""
    return Counts(*(states.count(state) for state in _STATES))


def _completion(counts: Counts) -> float:
    """Percent of items answered (not_applicable counts as answered), one decimal."""
    return _decimal(_tenths(counts.total - counts.unanswered, counts.total)) or 0.0


def _band_rating(tenths: int | None, bands: Mapping[str, float]) -> str | None:
    """The best rating whose minimum the rounded score reaches; E below D; None for no score."""
    if tenths is None:
        return None
    limits = {**DEFAULT_BANDS, **bands}
    for rating in _RATINGS[:-1]:
        if tenths >= Fraction(str(limits[rating])) * 10:
            return rating
    return _RATINGS[-1]


def _worse(a: str | None, b: str) -> str:
    """The worse of two ratings."""
    return b if a is None or _RATINGS.index(b) > _RATINGS.index(a) else a


# =========================================================================== caps


def _caps(
    definition: ChecklistDefinition,
    items: Sequence[ItemDefinition],
    states: Sequence[str],
    section_tenths: Mapping[str, int | None],
    band: str,
) -> tuple[CapResult, ...]:
    """Every triggered cap, in the order the version lists them."""
    triggered: list[tuple[CapRule, tuple[str, ...], str]] = []
    for cap in definition.scoring.caps:
        if cap.rule == CapKind.SECTION_BELOW:
            limit = Fraction(str(cap.threshold)) * 10
            below = [(ref, t) for ref, t in section_tenths.items() if t is not None and t < limit]
            if below:
                refs = tuple(ref for ref, _ in below)
                triggered.append((cap, refs, _section_sentence(below, cap)))
            continue
        if cap.rule == CapKind.CRITICAL_ANSWER:
            wanted = None
            noun = "Critical item"
        elif cap.rule == CapKind.ITEM_ANSWER:
            wanted = set(cap.items)
            noun = "Item"
        else:
            raise ValueError(f"unknown cap rule {cap.rule!r}")
        worst = ANSWER_RANK[cap.answer or ItemState.NON_COMPLIANT]
        hits = [
            (item.ref, state)
            for item, state in zip(items, states, strict=True)
            if (item.critical if wanted is None else item.ref in wanted)
            and ANSWER_RANK.get(state, -1) >= worst
        ]
        if hits:
            triggered.append((cap, tuple(r for r, _ in hits), _item_sentence(noun, hits, cap)))

    final = band
    for cap, _, _ in triggered:
        final = _worse(final, cap.max_rating)
    return tuple(
        CapResult(
            rule=cap.rule,
            items=refs,
            max_rating=cap.max_rating,
            applied=cap.max_rating == final and final != band,
            sentence=sentence,
        )
        for cap, refs, sentence in triggered
    )


def _item_sentence(noun: str, hits: Sequence[tuple[str, str]], cap: CapRule) -> str:
    """E.g. 'Critical items SM-4.2, SM-5.1 are non_compliant or unanswered: rating capped at D.'"""
    refs = ", ".join(ref for ref, _ in hits)
    found = {state for _, state in hits}
    states = _or_list(s for s in _STATES if s in found)
    if len(hits) == 1:
        return f"{noun} {refs} is {states}: rating capped at {cap.max_rating}."
    return f"{noun}s {refs} are {states}: rating capped at {cap.max_rating}."


def _section_sentence(below: Sequence[tuple[str, int]], cap: CapRule) -> str:
    """E.g. 'Section SM-2 scores 35.0, below the threshold of 40: rating capped at C.'"""
    limit = _number(cap.threshold)
    if len(below) == 1:
        ref, tenths = below[0]
        return (
            f"Section {ref} scores {tenths / 10}, below the threshold of {limit}: "
            f"rating capped at {cap.max_rating}."
        )
    listed = ", ".join(f"{ref} ({tenths / 10})" for ref, tenths in below)
    return (
        f"Sections {listed} score below the threshold of {limit}: "
        f"rating capped at {cap.max_rating}."
    )


def _or_list(words: Iterable[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _number(value: float | None) -> str:
    """40.0 -> '40', 42.5 -> '42.5'."""
    return f"{value:g}" if value is not None else "?"


# =========================================================================== references


def _reference_scores(
    items: Sequence[ItemDefinition], states: Sequence[str], points: Mapping[str, int], full: int
) -> tuple[ReferenceScore, ...]:
    """Per framework reference, the citing items and the score of the applicable ones."""
    # (framework, id) -> [citing refs, numerator, denominator], in order of first citation
    table: dict[tuple[str, str], list[Any]] = {}
    for item, state in zip(items, states, strict=True):
        applicable = state != _NOT_APPLICABLE
        num = item.weight * points[state] if applicable else 0
        den = item.weight * full if applicable else 0
        for framework, ids in item.references.items():
            for ref_id in ids:
                entry = table.get((framework, ref_id))
                if entry is None:
                    table[framework, ref_id] = [[item.ref], num, den]
                else:
                    entry[0].append(item.ref)
                    entry[1] += num
                    entry[2] += den
    return tuple(
        ReferenceScore(framework, ref_id, tuple(refs), _decimal(_tenths(num, den)))
        for (framework, ref_id), (refs, num, den) in table.items()
    )


# =========================================================================== findings


def _drafts(items: Sequence[ItemDefinition], states: Sequence[str]) -> list[FindingDraft]:
    """The finding drafts for these answers, in definition order."""
    return [
        _draft(item, state)
        for item, state in zip(items, states, strict=True)
        if yields_finding(state)
    ]


def _draft(item: ItemDefinition, answer: str) -> FindingDraft:
    """The finding draft for one partial or non_compliant answer."""
    return FindingDraft(
        ref=item.ref,
        section_ref=item.section_ref,
        answer=answer,
        severity=finding_severity(answer, item.critical, item.weight),
        weight=item.weight,
        critical=item.critical,
        title=_shorten(item.question.en),
    )


def _shorten(text: str, limit: int = TITLE_MAX) -> str:
    """The text, or its start cut at a word boundary with an ellipsis when over ``limit``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"
