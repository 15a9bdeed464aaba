"""Checklist pages: published versions, and one version in English or Japanese."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from audit.checklists import FRAMEWORK_LABELS, parse_bytes
from audit.extensions import db
from audit.services import checklists
from tests.conftest import DEMO_PASSWORD

SLUG = "subcontractor-oversight"


@pytest.fixture
def viewer(client, auth, make_user):
    make_user("viewer@example.com", "viewer", DEMO_PASSWORD)
    assert auth.login("viewer@example.com").status_code == 302
    return client


@pytest.fixture
def shipped(app, loaded_checklists):
    """The published versions as (slug, version, definition, content hash)."""
    with app.app_context():
        return [
            (c.slug, v.version, checklists.definition_for(v), v.content_hash)
            for c, v in checklists.versions(db.session)
        ]


def test_list_shows_every_published_version(viewer, shipped):
    body = viewer.get("/checklists/").get_data(as_text=True)
    assert len(shipped) >= 3
    for slug, version, definition, content_hash in shipped:
        assert f'href="/checklists/{slug}/{version}"' in body
        assert f'<code title="SHA-256 {content_hash}">{content_hash[:12]}</code>' in body
        assert str(escape(definition.title.en)) in body
        row = body.split(f'href="/checklists/{slug}/{version}"', 1)[1].split("</tr>", 1)[0]
        assert f"<td>{definition.item_count}</td>" in row
        assert f"<td>{definition.effective_date}</td>" in row
        assert re.search(r"<td>\d{4}-\d{2}-\d{2}</td>", row)  # published date
    assert '<html lang="en">' in body


def test_list_without_checklists(viewer):
    body = viewer.get("/checklists/").get_data(as_text=True)
    assert "No checklist is published yet" in body


def test_version_page_in_english(viewer, shipped):
    slug, version, definition, content_hash = next(s for s in shipped if s[0] == SLUG)
    response = viewer.get(f"/checklists/{slug}/{version}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert '<html lang="en">' in body
    assert content_hash in body
    for section in definition.sections:
        assert f'id="{section.ref}"' in body
        assert str(escape(section.title.en)) in body
    for item in definition.items():
        row = body.split(f'<tr id="{item.ref}">', 1)[1].split("</tr>", 1)[0]
        assert str(escape(item.question.en)) in row
        assert str(escape(item.guidance.en)) in row
        assert f"<td>{item.weight}</td>" in row
        assert ("badge-critical" in row) == item.critical
        assert ", ".join(a.replace("_", " ") for a in item.answers) in row
        refs = row.split('class="refs', 1)[1]
        for framework, ids in item.references.items():
            assert FRAMEWORK_LABELS[framework] in refs
            for ref in ids:
                assert f"<code>{escape(ref)}</code>" in refs
    assert 'href="/checklists/subcontractor-oversight/1.0.0?lang=ja"' in body


def test_version_page_in_japanese(viewer, shipped):
    slug, version, definition, _ = next(s for s in shipped if s[0] == SLUG)
    body = viewer.get(f"/checklists/{slug}/{version}?lang=ja").get_data(as_text=True)
    assert '<html lang="ja">' in body
    assert str(escape(definition.title.ja)) in body
    first = next(definition.items())
    assert first.question.ja and str(escape(first.question.ja)) in body
    assert str(escape(first.question.en)) not in body
    for section in definition.sections:
        assert str(escape(section.title.get("ja"))) in body
    for item in definition.items():
        assert str(escape(item.question.get("ja"))) in body  # English where ja is missing
    assert 'href="/checklists/subcontractor-oversight/1.0.0?lang=en"' in body
    assert '<strong aria-current="true" lang="ja">日本語</strong>' in body


def test_japanese_falls_back_to_english_marked_as_such(app, viewer):
    with app.app_context():
        source = (
            "slug: tiny\nversion: 1.0.0\ntitle: {en: Tiny, ja: 小}\n"
            "sections:\n  - ref: T-1\n    title: Only English\n    items:\n"
            "      - ref: T-1.1\n        question: {en: 'Is it so?'}\n"
            "        guidance: Look.\n        weight: 2\n"
            "        references: {appi: [Art. 25]}\n"
        )
        definition = parse_bytes(source.encode("utf-8"), "tiny.yaml")
        checklists.publish(db.session, definition, "tiny.yaml")
        db.session.commit()
    body = viewer.get("/checklists/tiny/1.0.0?lang=ja").get_data(as_text=True)
    assert '<span lang="en">Is it so?</span>' in body
    assert '<span lang="en">Only English</span>' in body
    assert "小" in body


@pytest.mark.parametrize("lang", ["fr", "", "JA", "<script>"])
def test_unknown_language_is_english(viewer, shipped, lang):
    response = viewer.get(f"/checklists/{SLUG}/1.0.0", query_string={"lang": lang})
    assert response.status_code == 200
    assert '<html lang="en">' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/checklists/no-such-checklist/1.0.0",
        f"/checklists/{SLUG}/9.9.9",
        f"/checklists/{SLUG}/1.0",
        f"/checklists/{SLUG}/",
    ],
)
def test_unknown_slug_or_version_is_404(viewer, shipped, path):
    assert viewer.get(path).status_code == 404


def test_checklist_pages_need_sign_in(client, shipped):
    for path in ("/checklists/", f"/checklists/{SLUG}/1.0.0"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login")
