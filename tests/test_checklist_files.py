"""Checklist files: every malformed file is refused with its precise message; good files parse.

Each refusal is asserted whole: ``<file>: <field path>: <problem>``. The files are written into a
temporary ``lists/`` folder and the working folder is moved there, so the file is named
``lists/<slug>/<version>.yaml`` exactly as a person running the command would see it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from audit.checklists import (
    DEFAULT_BANDS,
    DEFAULT_CAPS,
    DEFAULT_POINTS,
    FRAMEWORKS,
    ChecklistError,
    Text,
    parse_file,
)
from audit.vocabulary import AnswerStatus, values
from tests.conftest import ROOT

SLUG = "demo-list"
VERSION = "1.0.0"
SHIPPED = sorted((ROOT / "checklists").glob("*/*.yaml"))
ALL_ANSWERS = "compliant, partial, non_compliant, not_applicable"
KNOWN_FRAMEWORKS = ", ".join(FRAMEWORKS)


def minimal() -> dict[str, Any]:
    """A small valid checklist: two sections, three items, only required fields."""
    return {
        "slug": SLUG,
        "version": VERSION,
        "title": {"en": "Demo checklist"},
        "sections": [
            {
                "ref": "S-1",
                "title": {"en": "First section"},
                "items": [
                    {
                        "ref": "S-1.1",
                        "question": {"en": "Is there a register?"},
                        "guidance": {"en": "Look at the register."},
                        "weight": 3,
                        "references": {"appi": ["Art. 25"]},
                    },
                    {
                        "ref": "S-1.2",
                        "question": {"en": "Is the register reviewed?"},
                        "guidance": {"en": "Look at the review minutes."},
                        "weight": 2,
                        "references": {"ppc_gl": ["3-4-4"]},
                    },
                ],
            },
            {
                "ref": "S-2",
                "title": {"en": "Second section"},
                "items": [
                    {
                        "ref": "S-2.1",
                        "question": {"en": "Are contracts signed?"},
                        "guidance": {"en": "Read the contracts."},
                        "weight": 4,
                        "references": {"iso27001_2022": ["A.5.20"]},
                    }
                ],
            },
        ],
    }


@pytest.fixture
def lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``lists/`` under a temporary working folder; returns the folder."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "lists"
    folder.mkdir()
    return folder


def write(
    folder: Path,
    content: dict[str, Any] | bytes | str,
    slug: str = SLUG,
    version: str = VERSION,
) -> Path:
    """Write a checklist file ``<folder>/<slug>/<version>.yaml`` (a dict is dumped as YAML)."""
    path = folder / slug / f"{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = yaml.safe_dump(content, sort_keys=False, allow_unicode=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


# --------------------------------------------------------------------------- the refusal corpus

Mutation = Callable[[dict[str, Any]], None]


def drop(*path: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for key in path[:-1]:
            doc = doc[key]
        del doc[path[-1]]

    return mutate


def put(value: Any, *path: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(doc)

    return mutate


ITEM = ("sections", 0, "items", 1)  # S-1.2
ITEM_PATH = "sections[0].items[1]"


def caps(*rules: dict[str, Any]) -> Mutation:
    return put({"caps": list(rules)}, "scoring")


# (id, mutation of minimal(), expected message after "lists/demo-list/1.0.0.yaml: ")
SCHEMA_CASES = [
    ("missing-slug", drop("slug"), "slug: required field is missing"),
    ("missing-version", drop("version"), "version: required field is missing"),
    ("missing-title", drop("title"), "title: required field is missing"),
    ("missing-sections", drop("sections"), "sections: required field is missing"),
    ("empty-sections", put([], "sections"), "sections: a checklist needs at least one section"),
    (
        "missing-item-question",
        drop(*ITEM, "question"),
        f"{ITEM_PATH}.question: required field is missing",
    ),
    (
        "missing-item-guidance",
        drop(*ITEM, "guidance"),
        f"{ITEM_PATH}.guidance: required field is missing",
    ),
    (
        "missing-item-references",
        drop(*ITEM, "references"),
        f"{ITEM_PATH}.references: required field is missing",
    ),
    (
        "missing-item-weight",
        drop(*ITEM, "weight"),
        f"{ITEM_PATH}.weight: required field is missing",
    ),
    ("title-without-en", put({"ja": "デモ"}, "title"), "title: 'en' text is required"),
    ("title-blank-en", put({"en": "  ", "ja": "デモ"}, "title"), "title: 'en' text is required"),
    (
        "section-title-without-en",
        put({"ja": "第一"}, "sections", 1, "title"),
        "sections[1].title: 'en' text is required",
    ),
    (
        "question-without-en",
        put({"ja": "質問"}, *ITEM, "question"),
        f"{ITEM_PATH}.question: 'en' text is required",
    ),
    (
        "text-unknown-language",
        put({"en": "Demo", "fr": "Démo"}, "title"),
        "title: unknown language 'fr'; use 'en' and 'ja'",
    ),
    (
        "duplicate-item-ref-other-section",
        put("S-1.1", "sections", 1, "items", 0, "ref"),
        "sections[1].items[0].ref: duplicate item ref 'S-1.1' (first at sections[0].items[0])",
    ),
    (
        "duplicate-item-ref-same-section",
        put("S-1.1", *ITEM, "ref"),
        f"{ITEM_PATH}.ref: duplicate item ref 'S-1.1' (first at sections[0].items[0])",
    ),
    (
        # both problems on one item: the duplicate is named, not lost behind the second problem
        "duplicate-item-ref-and-answers-not-subset",
        both(
            put(["compliant", "non_compliant"], "answers"),
            put("S-1.1", *ITEM, "ref"),
            put(["compliant", "partial"], *ITEM, "answers"),
        ),
        f"{ITEM_PATH}.ref: duplicate item ref 'S-1.1' (first at sections[0].items[0])",
    ),
    (
        "duplicate-section-ref",
        put("S-1", "sections", 1, "ref"),
        "sections[1].ref: duplicate section ref 'S-1'",
    ),
    ("weight-0", put(0, *ITEM, "weight"), f"{ITEM_PATH}.weight: must be 1..5"),
    ("weight-6", put(6, *ITEM, "weight"), f"{ITEM_PATH}.weight: must be 1..5"),
    ("weight-string", put("3", *ITEM, "weight"), f"{ITEM_PATH}.weight: Not a valid integer."),
    ("weight-float", put(2.5, *ITEM, "weight"), f"{ITEM_PATH}.weight: Not a valid integer."),
    ("weight-bool", put(True, *ITEM, "weight"), f"{ITEM_PATH}.weight: Not a valid integer."),
    ("weight-null", put(None, *ITEM, "weight"), f"{ITEM_PATH}.weight: must not be empty"),
    (
        "version-not-matching-file-name",
        put("1.0.1", "version"),
        "version: '1.0.1' does not match the file name '1.0.0.yaml'",
    ),
    (
        "slug-not-matching-folder",
        put("other-list", "slug"),
        "slug: 'other-list' does not match the folder 'demo-list'",
    ),
    (
        "slug-not-a-slug",
        put("Demo_List", "slug"),
        "slug: must be lower-case words joined by '-'",
    ),
    (
        "unknown-answer-file-level",
        put(["compliant", "maybe"], "answers"),
        f"answers[1]: unknown answer 'maybe'; allowed: {ALL_ANSWERS}",
    ),
    (
        "unknown-answer-item-level",
        put(["compliant", "maybe"], *ITEM, "answers"),
        f"{ITEM_PATH}.answers[1]: unknown answer 'maybe'; allowed: {ALL_ANSWERS}",
    ),
    (
        "empty-answers",
        put([], "answers"),
        "answers: must list at least one answer",
    ),
    (
        "item-answers-not-a-subset",
        both(
            put(["compliant", "non_compliant"], "answers"),
            put(["compliant", "partial"], *ITEM, "answers"),
        ),
        f"{ITEM_PATH}.answers: must be a subset of the checklist's answers",
    ),
    (
        "unknown-framework",
        put({"appi": ["Art. 25"], "gdpr": ["Art. 28"]}, *ITEM, "references"),
        f"{ITEM_PATH}.references: unknown framework 'gdpr'; known: {KNOWN_FRAMEWORKS}",
    ),
    (
        "empty-reference-mapping",
        put({}, *ITEM, "references"),
        f"{ITEM_PATH}.references: at least one reference is required",
    ),
    (
        "empty-reference-list",
        put({"appi": []}, *ITEM, "references"),
        f"{ITEM_PATH}.references: appi: must be a non-empty list of non-empty strings",
    ),
    (
        "blank-reference-id",
        put({"appi": ["  "]}, *ITEM, "references"),
        f"{ITEM_PATH}.references: appi: must be a non-empty list of non-empty strings",
    ),
    (
        "references-not-a-mapping",
        put(["appi:Art. 25"], *ITEM, "references"),
        f"{ITEM_PATH}.references: must map a framework to a list of ids, e.g. appi: [Art. 25]",
    ),
    ("unknown-field-item-typo", put(3, *ITEM, "wieght"), f"{ITEM_PATH}.wieght: unknown field"),
    ("unknown-field-top-typo", put("Demo", "titel"), "titel: unknown field"),
    (
        "unknown-field-section",
        put("x", "sections", 1, "note"),
        "sections[1].note: unknown field",
    ),
    (
        "bad-subject",
        put("vendor", *ITEM, "subject"),
        f"{ITEM_PATH}.subject: must be one of: subcontractor, entrusting_org, both",
    ),
    (
        "cap-item-answer-missing-items",
        caps({"rule": "item_answer", "answer": "partial", "max_rating": "C"}),
        "scoring.caps[0].items: required for rule item_answer",
    ),
    (
        "cap-critical-answer-missing-answer",
        caps({"rule": "critical_answer", "max_rating": "C"}),
        "scoring.caps[0].answer: required for rule critical_answer",
    ),
    (
        "cap-section-below-missing-threshold",
        caps({"rule": "section_below", "max_rating": "C"}),
        "scoring.caps[0].threshold: required for rule section_below",
    ),
    (
        "cap-critical-answer-extra-threshold",
        caps({"rule": "critical_answer", "answer": "partial", "threshold": 40, "max_rating": "C"}),
        "scoring.caps[0].threshold: not used by rule critical_answer",
    ),
    (
        "cap-section-below-extra-items",
        caps({"rule": "section_below", "threshold": 40, "items": ["S-1.1"], "max_rating": "C"}),
        "scoring.caps[0].items: not used by rule section_below",
    ),
    (
        "cap-missing-max-rating",
        caps({"rule": "critical_answer", "answer": "partial"}),
        "scoring.caps[0].max_rating: required field is missing",
    ),
    (
        "cap-unknown-rule",
        caps({"rule": "weight_below", "max_rating": "C"}),
        "scoring.caps[0].rule: must be one of: critical_answer, item_answer, section_below",
    ),
    (
        "cap-item-answer-unknown-ref",
        caps({"rule": "item_answer", "answer": "partial", "items": ["S-9.9"], "max_rating": "C"}),
        "scoring.caps[0].items: unknown item ref 'S-9.9'",
    ),
    (
        # the first unknown ref of the first bad cap is the one named
        "cap-item-answer-several-unknown-refs",
        caps(
            {"rule": "critical_answer", "answer": "partial", "max_rating": "C"},
            {
                "rule": "item_answer",
                "answer": "partial",
                "items": ["S-1.1", "S-8.8", "S-9.9"],
                "max_rating": "C",
            },
            {"rule": "item_answer", "answer": "partial", "items": ["S-7.7"], "max_rating": "D"},
        ),
        "scoring.caps[1].items: unknown item ref 'S-8.8'",
    ),
    (
        "bands-increasing",
        put({"bands": {"A": 80, "B": 85}}, "scoring"),
        "scoring.bands: thresholds must not increase from A to D",
    ),
    (
        "bands-increasing-against-defaults",
        put({"bands": {"D": 60}}, "scoring"),
        "scoring.bands: thresholds must not increase from A to D",
    ),
    (
        "bands-unknown-rating",
        put({"bands": {"E": 10}}, "scoring"),
        "scoring.bands.E.key: bands are for A, B, C, D",
    ),
    (
        "points-partial-above-compliant",
        put({"points": {"compliant": 0.8, "partial": 0.9}}, "scoring"),
        "scoring.points: must not rank partial above compliant or non_compliant above partial",
    ),
    (
        "points-out-of-range",
        put({"points": {"compliant": 2}}, "scoring"),
        "scoring.points.compliant.value: must be 0..1",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [pytest.param(m, e, id=i) for i, m, e in SCHEMA_CASES]
)
def test_schema_refusals(lists: Path, mutate: Mutation, expected: str) -> None:
    doc = minimal()
    mutate(doc)
    path = write(lists, doc)
    with pytest.raises(ChecklistError) as refused:
        parse_file(path)
    assert str(refused.value) == f"lists/{SLUG}/{VERSION}.yaml: {expected}"


def test_the_corpus_base_is_valid(lists: Path) -> None:
    """Every refusal above comes from its one mutation, not from the base document."""
    definition = parse_file(write(lists, minimal()))
    assert [i.ref for i in definition.items()] == ["S-1.1", "S-1.2", "S-2.1"]


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.0.0", "1.0.0-rc1", "1.0.0.0"])
def test_bad_version_strings(lists: Path, version: str) -> None:
    doc = minimal()
    doc["version"] = version
    path = write(lists, doc, version=version)
    with pytest.raises(ChecklistError) as refused:
        parse_file(path)
    assert str(refused.value) == (
        f"lists/{SLUG}/{version}.yaml: version: must be a semantic version like 1.0.0"
    )


NOT_A_MAPPING = "the document must be a mapping of checklist fields"

# (id, raw bytes, expected message after the file name)
RAW_CASES = [
    (
        "duplicate-top-level-key",
        b"slug: demo-list\nversion: 1.0.0\nslug: demo-list\n",
        "YAML error at line 3, column 1: duplicate key 'slug'",
    ),
    (
        "duplicate-nested-key",
        b"slug: demo-list\ntitle:\n  en: Demo\n  ja: A\n  en: Again\n",
        "YAML error at line 5, column 3: duplicate key 'en'",
    ),
    (
        "yaml-syntax-error",
        b"slug: demo-list\ntitle: {en: [unclosed\nversion: 1.0.0\n",
        "YAML error at line 3, column 8: expected ',' or ']', but got ':'",
    ),
    (
        "yaml-tab-indent",
        b"slug: demo-list\n\tversion: 1.0.0\n",
        "YAML error at line 2, column 1: found character '\\t' that cannot start any token",
    ),
    ("document-is-a-list", b"- slug\n- version\n", NOT_A_MAPPING),
    ("document-is-a-string", b"just some text\n", NOT_A_MAPPING),
    ("document-is-empty", b"", NOT_A_MAPPING),
    (
        "invalid-utf8",
        b"slug: demo-list\ntitle: caf\xe9\n",
        "not valid UTF-8 (byte 0xe9 at offset 26)",
    ),
    (
        "python-name-tag",
        b"slug: !!python/name:os.system\n",
        "YAML error at line 1, column 7: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), [pytest.param(r, e, id=i) for i, r, e in RAW_CASES])
def test_raw_file_refusals(lists: Path, raw: bytes, expected: str) -> None:
    path = write(lists, raw)
    with pytest.raises(ChecklistError) as refused:
        parse_file(path)
    assert str(refused.value) == f"lists/{SLUG}/{VERSION}.yaml: {expected}"


def _payload(marker: Path) -> bytes:
    return (
        f'slug: !!python/object/apply:os.system ["echo hi > {marker}"]\nversion: 1.0.0\n'
    ).encode()


def test_python_object_tag_is_refused_and_never_runs(lists: Path, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    path = write(lists, _payload(marker))
    with pytest.raises(ChecklistError) as refused:
        parse_file(path)
    assert str(refused.value) == (
        f"lists/{SLUG}/{VERSION}.yaml: YAML error at line 1, column 7: could not determine a "
        "constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'"
    )
    assert not marker.exists(), "the YAML tag ran a command"


def test_the_python_tag_payload_is_live(tmp_path: Path) -> None:
    """Control for the test above: an unsafe loader does run the payload and create the file."""
    marker = tmp_path / "PWNED"
    yaml.unsafe_load(_payload(marker).decode())
    assert marker.read_text().strip() == "hi"


def test_file_over_the_size_limit(lists: Path) -> None:
    path = write(lists, minimal())
    size = path.stat().st_size
    with pytest.raises(ChecklistError) as refused:
        parse_file(path, max_bytes=size - 1)
    assert str(refused.value) == (
        f"lists/{SLUG}/{VERSION}.yaml: file is {size} bytes, over the {size - 1} byte limit"
    )
    assert parse_file(path, max_bytes=size).slug == SLUG  # exactly at the limit is fine


def test_missing_file_is_named(lists: Path) -> None:
    with pytest.raises(ChecklistError) as refused:
        parse_file(lists / SLUG / "9.9.9.yaml")
    assert str(refused.value) == (
        f"lists/{SLUG}/9.9.9.yaml: cannot read file (No such file or directory)"
    )


def test_file_must_end_in_yaml(lists: Path) -> None:
    path = write(lists, minimal())
    renamed = path.rename(path.with_suffix(".yml"))
    with pytest.raises(ChecklistError) as refused:
        parse_file(renamed)
    assert str(refused.value) == f"lists/{SLUG}/1.0.0.yml: checklist files end in .yaml"


# --------------------------------------------------------------------------- good files


def test_minimal_file_gets_every_default(lists: Path) -> None:
    definition = parse_file(write(lists, minimal()))
    assert (definition.slug, definition.version) == (SLUG, VERSION)
    assert definition.title == Text(en="Demo checklist", ja=None)
    assert definition.description is None
    assert definition.effective_date is None
    assert definition.answers == values(AnswerStatus)
    assert dict(definition.scoring.points) == DEFAULT_POINTS
    assert dict(definition.scoring.bands) == DEFAULT_BANDS
    assert [c.as_dict() for c in definition.scoring.caps] == list(DEFAULT_CAPS)
    assert definition.item_count == 3
    item = definition.item("S-1.2")
    assert item.section_ref == "S-1"
    assert item.critical is False
    assert item.subject == "subcontractor"
    assert item.answers == values(AnswerStatus)
    assert dict(item.references) == {"ppc_gl": ("3-4-4",)}
    assert item.reference_keys() == ["ppc_gl:3-4-4"]


def test_item_answers_follow_the_file_answers_in_canonical_order(lists: Path) -> None:
    doc = minimal()
    doc["answers"] = ["non_compliant", "compliant", "partial"]
    doc["sections"][0]["items"][0]["answers"] = ["non_compliant", "compliant"]
    definition = parse_file(write(lists, doc))
    assert definition.answers == ("compliant", "partial", "non_compliant")
    assert definition.item("S-1.1").answers == ("compliant", "non_compliant")
    assert definition.item("S-1.2").answers == ("compliant", "partial", "non_compliant")


def test_bare_string_text_is_english(lists: Path) -> None:
    doc = minimal()
    doc["title"] = "Demo checklist"
    doc["sections"][0]["title"] = "First section"
    doc["sections"][0]["items"][0]["question"] = "Is there a register?"
    definition = parse_file(write(lists, doc))
    assert definition.title == Text(en="Demo checklist")
    assert definition.sections[0].title == Text(en="First section")
    assert definition.item("S-1.1").question == Text(en="Is there a register?")
    # and it means the same as the explicit mapping
    assert definition.content_hash == parse_file(write(lists, minimal())).content_hash


def test_japanese_is_optional_and_falls_back_to_english(lists: Path) -> None:
    doc = minimal()
    doc["title"] = {"en": "Demo checklist", "ja": "デモ チェックリスト"}
    doc["sections"][0]["items"][0]["question"] = {"en": "Register?", "ja": ""}
    definition = parse_file(write(lists, doc))
    assert definition.title.get("ja") == "デモ チェックリスト"
    assert definition.title.get("en") == "Demo checklist"
    assert definition.sections[1].title.ja is None
    assert definition.sections[1].title.get("ja") == "Second section"
    assert definition.item("S-1.1").question == Text(en="Register?", ja=None)
    assert definition.as_dict()["title"] == {"en": "Demo checklist", "ja": "デモ チェックリスト"}
    assert definition.as_dict()["sections"][1]["title"] == {"en": "Second section"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_shipped_checklists(path: Path) -> None:
    definition = parse_file(path)
    assert (definition.slug, definition.version) == (path.parent.name, path.stem)
    assert 25 <= definition.item_count <= 45
    assert definition.title.ja
    assert all(section.title.ja for section in definition.sections)
    items = list(definition.items())
    assert len({i.ref for i in items}) == len(items)
    for item in items:
        assert item.reference_keys(), item.ref
        assert item.guidance.en.strip(), item.ref
        assert 1 <= item.weight <= 5
    assert any(item.critical for item in items)


def test_three_checklists_are_shipped() -> None:
    assert [p.parent.name for p in SHIPPED] == [
        "safety-management",
        "security-governance",
        "subcontractor-oversight",
    ]


# --------------------------------------------------------------------------- content hash

RESTYLED = """\
# the same checklist as minimal(), written differently
sections:
- items:
  - {ref: S-1.1, weight: 3, references: {appi: [Art. 25]}, guidance: Look at the register.,
     question: {en: 'Is there a register?'}, critical: false, subject: subcontractor}
  - references:
      ppc_gl:
        - "3-4-4"
    weight:   2
    guidance:
      en: >-
        Look at the
        review minutes.
    question: "Is the register reviewed?"
    ref: S-1.2
    answers: [not_applicable, non_compliant, partial, compliant]
  ref: S-1
  title: First section
- {ref: S-2, title: {en: Second section}, items: [{ref: S-2.1, question: "Are contracts signed?",
   guidance: {en: Read the contracts.}, weight: 4, references: {iso27001_2022: [A.5.20]}}]}
title:    {en: "  Demo checklist  "}
version: "1.0.0"
answers: [compliant, partial, non_compliant, not_applicable]
scoring:
  points: {compliant: 1, partial: 0.5, non_compliant: 0}
  bands: {D: 40, C: 55, B: 70, A: 85}
  caps:
    - {max_rating: D, answer: non_compliant, rule: critical_answer}
    - {rule: critical_answer, answer: partial, max_rating: C}
slug: demo-list
"""


def test_content_hash_is_stable_across_reparse(lists: Path) -> None:
    path = write(lists, minimal())
    first, second = parse_file(path), parse_file(path)
    assert first.content_hash == second.content_hash
    assert len(first.content_hash) == 64
    assert first.canonical_json() == second.canonical_json()


def test_same_meaning_gives_same_hash(lists: Path, tmp_path: Path) -> None:
    plain = parse_file(write(lists, minimal()))
    restyled = parse_file(write(tmp_path / "other", RESTYLED))
    assert restyled.as_dict() == plain.as_dict()
    assert restyled.content_hash == plain.content_hash


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_shipped_file_redumped_in_another_style_keeps_its_hash(path: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    flow = yaml.safe_dump(data, sort_keys=True, default_flow_style=True, allow_unicode=True)
    block = yaml.safe_dump(data, sort_keys=True, default_flow_style=False, width=40)
    original = parse_file(path)
    for n, text in enumerate((flow, block)):
        copy_path = write(tmp_path / f"style{n}", text, original.slug, original.version)
        assert copy_path.read_text(encoding="utf-8") != path.read_text(encoding="utf-8")
        assert parse_file(copy_path).content_hash == original.content_hash


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(put(4, *ITEM, "weight"), id="weight"),
        pytest.param(put(True, *ITEM, "critical"), id="critical"),
        pytest.param(put({"en": "Is the register reviewed yearly?"}, *ITEM, "question"), id="text"),
        pytest.param(put({"en": "Demo checklist", "ja": "デモ"}, "title"), id="added-ja"),
        pytest.param(put({"ppc_gl": ["3-4-4", "3-4-5"]}, *ITEM, "references"), id="reference"),
        pytest.param(put({"bands": {"A": 90}}, "scoring"), id="band"),
        pytest.param(put("2025-04-01", "effective_date"), id="effective-date"),
    ],
)
def test_a_change_of_meaning_changes_the_hash(
    lists: Path, tmp_path: Path, change: Mutation
) -> None:
    before = parse_file(write(lists, minimal()))
    doc = minimal()
    change(doc)
    after = parse_file(write(tmp_path / "changed", doc))
    assert after.content_hash != before.content_hash


def test_from_dict_rebuilds_the_same_definition(lists: Path) -> None:
    for path in [write(lists, minimal()), *SHIPPED]:
        definition = parse_file(path)
        stored = copy.deepcopy(definition.as_dict())
        rebuilt = type(definition).from_dict(stored)
        assert rebuilt == definition
        assert rebuilt.content_hash == definition.content_hash
