"""Publishing checklist versions into the database: idempotent, immutable, all-or-nothing."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlmodel import Session, select

from audit.checklists import ChecklistError, parse_file
from audit.extensions import db
from audit.models import (
    AuditEvent,
    Checklist,
    ChecklistItem,
    ChecklistSection,
    ChecklistVersion,
    User,
)
from audit.services import assessments
from audit.services import checklists as service
from audit.services.subcontractors import register as subcontractors
from tests.conftest import ROOT

TABLES = (Checklist, ChecklistVersion, ChecklistSection, ChecklistItem, AuditEvent)
SLUGS = ("safety-management", "security-governance", "subcontractor-oversight")
SO = "subcontractor-oversight"


@pytest.fixture
def lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped ``checklists/`` in a temporary working folder, free to change."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "checklists", tmp_path / "checklists")
    return tmp_path / "checklists"


def read(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dump(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: session.execute(
            sa.select(sa.func.count()).select_from(model)
        ).scalar_one()
        for model in TABLES
    }


def snapshot(app) -> dict[str, Any]:
    """Everything the publishing tables hold, read afresh from the database."""
    engine = db.engine_for(app)
    result: dict[str, Any] = {}
    with engine.connect() as conn:
        for model in TABLES:
            table = model.__table__
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            result[table.name] = [
                json.dumps(tuple(row), default=str, sort_keys=True, ensure_ascii=False)
                for row in rows
            ]
    return result


def stored(slug: str, version: str) -> tuple[ChecklistVersion, list, list]:
    """A version with its sections and items, read in a new session (not the identity map)."""
    with Session(db.engine) as fresh:
        row = service.find_version(fresh, slug, version)
        assert row is not None, f"{slug} {version} is not stored"
        sections = fresh.exec(
            select(ChecklistSection)
            .where(ChecklistSection.version_id == row.id)
            .order_by(ChecklistSection.position)
        ).all()
        items = fresh.exec(
            select(ChecklistItem, ChecklistSection.ref)
            .join(ChecklistSection, ChecklistSection.id == ChecklistItem.section_id)
            .where(ChecklistItem.version_id == row.id)
            .order_by(ChecklistSection.position, ChecklistItem.position)
        ).all()
        fresh.expunge_all()
        return row, list(sections), list(items)


# --------------------------------------------------------------------------- loading


def test_first_load_publishes_every_shipped_version(session, lists: Path) -> None:
    results = service.load_paths(session, [lists])
    assert [(r.version.content["slug"], r.version.version, r.created) for r in results] == [
        (slug, "1.0.0", True) for slug in SLUGS
    ]
    assert [r.source for r in results] == [f"checklists/{s}/1.0.0.yaml" for s in SLUGS]
    total_items = sum(parse_file(lists / s / "1.0.0.yaml").item_count for s in SLUGS)
    assert counts(session) == {
        "checklist": 3,
        "checklist_version": 3,
        "checklist_section": sum(len(parse_file(lists / s / "1.0.0.yaml").sections) for s in SLUGS),
        "checklist_item": total_items,
        "audit_event": 3,
    }
    events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert {e.action for e in events} == {"checklist_version.published"}
    assert [(e.after["slug"], e.after["version"]) for e in events] == [(s, "1.0.0") for s in SLUGS]
    for event, result in zip(events, results, strict=True):
        assert event.object_id == str(result.version.id)
        assert event.after["content_hash"] == result.version.content_hash
        assert event.actor == "system"


def test_loading_twice_is_idempotent(app, session, lists: Path) -> None:
    service.load_paths(session, [lists])
    before, rows_before = counts(session), snapshot(app)
    again = service.load_paths(session, [lists])
    assert [r.created for r in again] == [False, False, False]
    assert [r.version.version for r in again] == ["1.0.0"] * 3
    assert counts(session) == before
    assert snapshot(app) == rows_before


def test_load_with_an_actor_records_who_published(session, lists: Path, make_user) -> None:
    admin = session.get(User, make_user("admin@kansa.example", "admin"))
    service.load_paths(session, [lists / SO], actor=admin)
    row, _, _ = stored(SO, "1.0.0")
    assert row.published_by_id == admin.id
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "checklist_version.published")
    ).one()
    assert (event.actor_id, event.actor) == (admin.id, "admin@kansa.example")


def test_definition_for_a_stored_version_equals_the_file(session, lists: Path) -> None:
    service.load_paths(session, [lists])
    for slug in SLUGS:
        from_file = parse_file(lists / slug / "1.0.0.yaml")
        row, _, _ = stored(slug, "1.0.0")
        from_db = service.definition_for(row)
        assert row.content_hash == from_file.content_hash
        assert from_db.content_hash == from_file.content_hash
        assert from_db.as_dict() == from_file.as_dict()
        assert from_db == from_file
        assert row.content == from_file.as_dict()


def test_sections_and_items_rows_match_the_file(session, lists: Path) -> None:
    service.load_paths(session, [lists])
    for slug in SLUGS:
        definition = parse_file(lists / slug / "1.0.0.yaml")
        row, sections, items = stored(slug, "1.0.0")
        assert (row.version, row.sort_key) == ("1.0.0", "000001.000000.000000")
        assert (row.title_en, row.title_ja) == (definition.title.en, definition.title.ja)
        assert row.effective_date == definition.effective_date
        assert row.item_count == definition.item_count == len(items)
        assert row.source == f"checklists/{slug}/1.0.0.yaml"
        assert row.published_at.tzinfo is not None
        assert [(s.ref, s.position, s.title_en, s.title_ja) for s in sections] == [
            (s.ref, n, s.title.en, s.title.ja) for n, s in enumerate(definition.sections)
        ]
        expected = [
            (
                section.ref,
                n,
                item.ref,
                item.weight,
                item.critical,
                item.subject,
                item.question.en,
                item.question.ja,
                item.guidance.en,
                item.guidance.ja,
                list(item.answers),
                {fw: list(ids) for fw, ids in item.references.items()},
            )
            for section in definition.sections
            for n, item in enumerate(section.items)
        ]
        actual = [
            (
                section_ref,
                item.position,
                item.ref,
                item.weight,
                item.critical,
                item.subject,
                item.question_en,
                item.question_ja,
                item.guidance_en,
                item.guidance_ja,
                item.answers,
                item.references,
            )
            for item, section_ref in items
        ]
        assert actual == expected
        assert any(item.critical for item, _ in items)
        with Session(db.engine) as fresh:
            checklist = fresh.exec(select(Checklist).where(Checklist.slug == slug)).one()
            assert (checklist.title_en, checklist.title_ja) == (
                definition.title.en,
                definition.title.ja,
            )


def test_minimal_file_round_trips_through_the_database(session, tmp_path: Path) -> None:
    """A file with no optional fields: nulls and defaults survive storage."""
    path = dump(
        tmp_path / "tiny" / "0.1.0.yaml",
        {
            "slug": "tiny",
            "version": "0.1.0",
            "title": "Tiny",
            "sections": [
                {
                    "ref": "T",
                    "title": "T",
                    "items": [
                        {
                            "ref": "T.1",
                            "question": "Q",
                            "guidance": "G",
                            "weight": 1,
                            "references": {"case_basis": ["x"]},
                        }
                    ],
                }
            ],
        },
    )
    [result] = service.load_paths(session, [path])
    row, sections, items = stored("tiny", "0.1.0")
    definition = parse_file(path)
    assert row.content["description"] is None and row.content["effective_date"] is None
    assert row.title_ja is None and sections[0].title_ja is None
    assert items[0][0].question_ja is None
    assert service.definition_for(row).content_hash == definition.content_hash
    assert result.version.content_hash == definition.content_hash


# --------------------------------------------------------------------------- immutability


def so_file(lists: Path) -> Path:
    return lists / SO / "1.0.0.yaml"


def change_weight(data: dict[str, Any], s: int = 0, i: int = 1) -> str:
    item = data["sections"][s]["items"][i]
    item["weight"] = 1 if item["weight"] != 1 else 2
    return item["ref"]


def test_changed_weight_under_a_published_version_is_refused(app, session, lists: Path) -> None:
    service.load_paths(session, [lists])
    before, rows_before = counts(session), snapshot(app)
    data = read(so_file(lists))
    ref = change_weight(data)
    dump(so_file(lists), data)
    with pytest.raises(ChecklistError) as refused:
        service.load_paths(session, [lists])
    assert str(refused.value) == (
        f"checklists/{SO}/1.0.0.yaml: {SO} 1.0.0 is already published with different content "
        f"(first difference: item {ref} (weight)); published versions are immutable, so save "
        "the change as a new version such as 1.0.1 or 1.1.0"
    )
    assert ref == "SO-1.2"
    session.rollback()
    assert counts(session) == before
    assert snapshot(app) == rows_before
    row, _, _ = stored(SO, "1.0.0")
    assert row.content_hash == parse_file(ROOT / "checklists" / SO / "1.0.0.yaml").content_hash


def _retitle(data: dict[str, Any]) -> str:
    data["title"]["en"] += " (revised)"
    return "title"


def _requestion(data: dict[str, Any]) -> str:
    item = data["sections"][1]["items"][0]
    item["question"]["en"] += " Really?"
    return f"item {item['ref']} (question)"


def _critical(data: dict[str, Any]) -> str:
    item = data["sections"][0]["items"][2]
    item["critical"] = not item.get("critical", False)
    return f"item {item['ref']} (critical)"


def _reference(data: dict[str, Any]) -> str:
    item = data["sections"][0]["items"][0]
    item["references"]["appi"] = ["Art. 26"]
    return f"item {item['ref']} (references)"


def _drop_last_item(data: dict[str, Any]) -> str:
    items = data["sections"][0]["items"]
    ref = items.pop()["ref"]
    return f"item {ref} (removed)"


def _add_item(data: dict[str, Any]) -> str:
    items = data["sections"][-1]["items"]
    extra = dict(items[-1], ref="SO-NEW")
    items.append(extra)
    return "item SO-NEW (added)"


def _scoring(data: dict[str, Any]) -> str:
    data["scoring"]["bands"]["A"] = 90
    return "scoring"


def _section_title(data: dict[str, Any]) -> str:
    data["sections"][1]["title"]["en"] += " (revised)"
    return f"section {data['sections'][1]['ref']}"


@pytest.mark.parametrize(
    "change",
    [
        _retitle,
        _requestion,
        _critical,
        _reference,
        _drop_last_item,
        _add_item,
        _scoring,
        _section_title,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_first_difference_is_named(app, session, lists: Path, change) -> None:
    service.load_paths(session, [lists / SO])
    rows_before = snapshot(app)
    data = read(so_file(lists))
    where = change(data)
    dump(so_file(lists), data)
    with pytest.raises(ChecklistError, match="already published with different content") as refused:
        service.load_paths(session, [lists / SO])
    assert f"(first difference: {where});" in str(refused.value)
    session.rollback()
    assert snapshot(app) == rows_before


def test_a_restyled_but_identical_file_is_not_a_change(app, session, lists: Path) -> None:
    service.load_paths(session, [lists])
    rows_before = snapshot(app)
    data = read(so_file(lists))
    so_file(lists).write_text(
        yaml.safe_dump(data, sort_keys=True, default_flow_style=True, allow_unicode=True),
        encoding="utf-8",
    )
    results = service.load_paths(session, [lists])
    assert [r.created for r in results] == [False, False, False]
    assert snapshot(app) == rows_before


def test_one_bad_file_in_a_folder_loads_nothing(app, session, tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    good = read(ROOT / "checklists" / SO / "1.0.0.yaml")
    dump(folder / SO / "1.0.0.yaml", good)
    bad = read(ROOT / "checklists" / "safety-management" / "1.0.0.yaml")
    bad["sections"][0]["items"][0]["weight"] = 9
    dump(folder / "safety-management" / "1.0.0.yaml", bad)
    rows_before = snapshot(app)
    with pytest.raises(ChecklistError) as refused:
        service.load_paths(session, [folder])
    assert str(refused.value) == (
        f"{folder}/safety-management/1.0.0.yaml: sections[0].items[0].weight: must be 1..5"
    )
    session.rollback()
    assert counts(session) == dict.fromkeys(counts(session), 0)
    assert snapshot(app) == rows_before


def test_every_refused_file_is_listed_one_line_each(session, tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    for slug in SLUGS:
        data = read(ROOT / "checklists" / slug / "1.0.0.yaml")
        if slug != SO:
            data["title"] = {"ja": "英語なし"}
        dump(folder / slug / "1.0.0.yaml", data)
    with pytest.raises(ChecklistError) as refused:
        service.load_paths(session, [folder])
    assert str(refused.value).splitlines() == [
        f"{folder}/safety-management/1.0.0.yaml: title: 'en' text is required",
        f"{folder}/security-governance/1.0.0.yaml: title: 'en' text is required",
    ]
    session.rollback()
    assert counts(session)["checklist_version"] == 0


def test_a_good_new_file_next_to_a_changed_published_one_loads_nothing(
    app, session, lists: Path
) -> None:
    service.load_paths(session, [lists / SO])
    rows_before = snapshot(app)
    data = read(so_file(lists))
    change_weight(data)
    dump(so_file(lists), data)
    with pytest.raises(ChecklistError, match=rf"^checklists/{SO}/1\.0\.0\.yaml: {SO} 1\.0\.0 is"):
        service.load_paths(session, [lists])  # the two other checklists are new and valid
    session.rollback()
    assert snapshot(app) == rows_before
    assert service.find_version(session, "safety-management", "1.0.0") is None


def test_the_same_version_in_two_places_is_refused(session, lists: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    shutil.copytree(lists / SO, other / SO)
    with pytest.raises(ChecklistError) as refused:
        service.load_paths(session, [lists / SO, other / SO])
    assert str(refused.value) == (
        f"elsewhere/{SO}/1.0.0.yaml: {SO} 1.0.0 is also defined in checklists/{SO}/1.0.0.yaml"
    )
    session.rollback()
    assert counts(session)["checklist_version"] == 0


def test_an_empty_or_missing_folder_is_refused(session, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ChecklistError) as refused:
        service.load_paths(session, [tmp_path / "empty"])
    assert str(refused.value) == f"{tmp_path / 'empty'}: no checklist files (*.yaml) found"
    with pytest.raises(ChecklistError) as refused:
        service.load_paths(session, [tmp_path / "missing"])
    assert str(refused.value) == f"{tmp_path / 'missing'}: no such file or folder"


# --------------------------------------------------------------------------- new versions


def add_version(lists: Path, version: str = "1.1.0") -> tuple[Path, str, int]:
    """Write ``<version>.yaml`` of subcontractor-oversight with one weight changed."""
    data = read(so_file(lists))
    data["version"] = version
    ref = change_weight(data)
    path = dump(lists / SO / f"{version}.yaml", data)
    return path, ref, data["sections"][0]["items"][1]["weight"]


def test_a_new_version_file_is_a_new_version_and_the_old_one_stays(
    app, session, lists: Path
) -> None:
    service.load_paths(session, [lists])
    old_row, _, old_items = stored(SO, "1.0.0")
    old_snapshot = snapshot(app)
    path, ref, new_weight = add_version(lists)
    results = service.load_paths(session, [lists])
    assert [(r.version.content["slug"], r.version.version, r.created) for r in results] == [
        ("safety-management", "1.0.0", False),
        ("security-governance", "1.0.0", False),
        (SO, "1.0.0", False),
        (SO, "1.1.0", True),
    ]
    new_row, _, new_items = stored(SO, "1.1.0")
    again, _, again_items = stored(SO, "1.0.0")
    assert (again.id, again.content_hash, again.content) == (
        old_row.id,
        old_row.content_hash,
        old_row.content,
    )
    assert [(i.id, i.weight) for i, _ in again_items] == [(i.id, i.weight) for i, _ in old_items]
    assert new_row.id != old_row.id and new_row.checklist_id == old_row.checklist_id
    assert new_row.content_hash == parse_file(path).content_hash != old_row.content_hash
    assert {i.ref: i.weight for i, _ in new_items}[ref] == new_weight
    assert {i.ref: i.weight for i, _ in old_items}[ref] != new_weight
    assert not {i.id for i, _ in new_items} & {i.id for i, _ in old_items}
    versions = [(c.slug, v.version) for c, v in service.versions(session)]
    assert versions[-2:] == [(SO, "1.0.0"), (SO, "1.1.0")]
    # the rows of 1.0.0 are untouched: only rows were added
    now = snapshot(app)
    for table, rows in old_snapshot.items():
        assert now[table][: len(rows)] == rows, table


def test_versions_sort_semantically(session, lists: Path) -> None:
    for version in ("1.10.0", "1.2.0", "1.9.1"):
        add_version(lists, version)
    service.load_paths(session, [lists / SO])
    assert [v.version for c, v in service.versions(session) if c.slug == SO] == [
        "1.0.0",
        "1.2.0",
        "1.9.1",
        "1.10.0",
    ]


def test_an_assessment_stays_pinned_to_its_version(session, lists: Path, make_user) -> None:
    service.load_paths(session, [lists])
    auditor = session.get(User, make_user("auditor@kansa.example", "auditor"))
    reviewer = session.get(User, make_user("reviewer@kansa.example", "reviewer"))
    company = subcontractors.create(
        session, auditor, {"name": "Aozora Cloud Operations K.K.", "country": "JP", "tier": 1}
    )
    v1, _, _ = stored(SO, "1.0.0")
    assessment = assessments.create(
        session,
        auditor,
        subcontractor_id=company.id,
        checklist_version_id=v1.id,
        auditor_ids=[auditor.id],
        reviewer_id=reviewer.id,
        due_date=date(2027, 3, 31),
    )
    session.commit()
    assessment_id = assessment.id
    old_weight = parse_file(so_file(lists)).item("SO-1.2").weight

    _, ref, new_weight = add_version(lists)
    service.load_paths(session, [lists])
    v2, _, _ = stored(SO, "1.1.0")

    with Session(db.engine) as fresh:
        pinned = assessments.get(fresh, assessment_id)
        assert pinned.checklist_version_id == v1.id != v2.id
        definition = assessments.definition(fresh, pinned)
        assert definition.version == "1.0.0"
        assert definition.item(ref).weight == old_weight != new_weight
        assert assessments.item_ids(fresh, pinned.checklist_version_id) == {
            item.ref: item.id
            for item in fresh.exec(
                select(ChecklistItem).where(ChecklistItem.version_id == v1.id)
            ).all()
        }


def test_only_admins_publish_uploads(app, make_user):
    from audit.services import Forbidden
    from audit.services.checklists import publish_upload

    raw = (ROOT / "checklists" / "safety-management" / "1.0.0.yaml").read_bytes()
    auditor_id = make_user("uploader@example.com", "auditor")
    admin_id = make_user("chief@example.com", "admin")
    with app.app_context():
        from audit.models import ChecklistVersion, User

        session = db.session
        with pytest.raises(Forbidden):
            publish_upload(session, raw, "1.0.0.yaml", session.get(User, auditor_id))
        with pytest.raises(Forbidden):
            publish_upload(session, raw, "1.0.0.yaml", None)
        assert session.exec(select(ChecklistVersion)).all() == []
        made = publish_upload(session, raw, "1.0.0.yaml", session.get(User, admin_id))
        assert made.created and made.version.version == "1.0.0"
