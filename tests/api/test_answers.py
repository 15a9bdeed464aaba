"""Answers over the API: read all, write one or many, all or nothing, guarded by ETags."""

from __future__ import annotations

import pytest

from audit.extensions import db
from audit.models import Assessment
from audit.services import assessments as svc
from tests.api.conftest import all_items, error_of


def answers_in_db(app, assessment_id: int) -> dict[str, tuple[str, str]]:
    with app.app_context():
        assessment = db.session.get(Assessment, assessment_id)
        return {
            ref: (a.status, a.comment)
            for ref, a in svc.answers_by_ref(db.session, assessment).items()
        }


def revision(app, assessment_id: int) -> int:
    with app.app_context():
        return db.session.get(Assessment, assessment_id).revision


@pytest.fixture
def url(world) -> str:
    return f"/api/v1/assessments/{world['assessment_id']}/answers"


def test_read_write_one_and_many(app, as_user, world, url):
    api = as_user("auditor")
    refs = all_items(app)
    first = api.get(url)
    assert first.status_code == 200
    assert first.get_json()["answers"] == [] and first.get_json()["revision"] == 1
    etag = first.headers["ETag"]

    one = api.put(f"{url}/{refs[1]}", json={"status": "partial", "comment": " gaps "}, etag=etag)
    assert one.status_code == 200, one.get_json()
    assert one.get_json()["answers"][0] == {
        **one.get_json()["answers"][0],
        "ref": refs[1],
        "status": "partial",
        "comment": "gaps",
    }
    etag = one.headers["ETag"]
    assert etag == f'"a{world["assessment_id"]}-r2"'

    many = api.patch(
        url,
        json={
            "answers": [
                {"ref": refs[0], "status": "compliant"},
                {"ref": refs[1], "status": None},
                {"ref": refs[2], "status": "non_compliant", "comment": "no register"},
            ]
        },
        etag=etag,
    )
    assert many.status_code == 200, many.get_json()
    listed = many.get_json()["answers"]
    assert [a["ref"] for a in listed] == [refs[0], refs[2]]  # checklist order, refs[1] cleared
    assert answers_in_db(app, world["assessment_id"]) == {
        refs[0]: ("compliant", ""),
        refs[2]: ("non_compliant", "no register"),
    }
    assert revision(app, world["assessment_id"]) == 3
    # answers share the assessment's ETag
    assert (
        as_user("viewer", "read")
        .get(f"/api/v1/assessments/{world['assessment_id']}")
        .headers["ETag"]
        == many.headers["ETag"]
    )
    assert api.get(url, headers={"If-None-Match": many.headers["ETag"]}).status_code == 304


def test_missing_or_stale_if_match_writes_nothing(app, as_user, world, url):
    api = as_user("auditor")
    ref = all_items(app)[0]
    error_of(api.put(f"{url}/{ref}", json={"status": "compliant"}), 428)
    error_of(api.patch(url, json={"answers": [{"ref": ref, "status": "compliant"}]}), 428)
    error_of(api.put(f"{url}/{ref}", json={"status": "compliant"}, etag='"a1-r0"'), 412)
    error_of(api.put(f"{url}/{ref}", json={"status": "compliant"}, etag='"other"'), 412)
    assert answers_in_db(app, world["assessment_id"]) == {}
    assert revision(app, world["assessment_id"]) == 1
    # someone else saves in between: the first client's ETag is now stale
    etag = api.get(url).headers["ETag"]
    other = as_user("admin")
    assert other.put(f"{url}/{ref}", json={"status": "partial"}, etag=etag).status_code == 200
    body = error_of(api.put(f"{url}/{ref}", json={"status": "compliant"}, etag=etag), 412)
    assert "out of date" in body["message"]
    assert answers_in_db(app, world["assessment_id"]) == {ref: ("partial", "")}
    # If-Match: * means "whatever is stored now", as RFC 9110 has it
    assert api.put(f"{url}/{ref}", json={"status": "compliant"}, etag="*").status_code == 200
    assert answers_in_db(app, world["assessment_id"]) == {ref: ("compliant", "")}


def test_race_between_check_and_write_is_caught_by_the_service(
    app, as_user, world, url, monkeypatch
):
    """If-Match matched, then someone saved: the compare-and-set refuses with 412."""
    api = as_user("auditor")
    ref = all_items(app)[0]
    etag = api.get(url).headers["ETag"]
    real = svc.save_answers

    def someone_saves_first(session, actor, assessment, inputs, expected):
        session.execute(
            Assessment.__table__.update()
            .where(Assessment.__table__.c.id == assessment.id)
            .values(revision=Assessment.__table__.c.revision + 1)
        )
        session.commit()
        return real(session, actor, assessment, inputs, expected)

    monkeypatch.setattr(svc, "save_answers", someone_saves_first)
    body = error_of(api.put(f"{url}/{ref}", json={"status": "compliant"}, etag=etag), 412)
    assert "nothing was saved" in body["message"]
    assert answers_in_db(app, world["assessment_id"]) == {}


def test_a_refused_answer_saves_none_and_names_the_ref(app, as_user, world, url):
    api = as_user("auditor")
    refs = all_items(app)
    with app.app_context():
        from audit.services import checklists as checklist_service
        from tests import factories

        definition = checklist_service.definition_for(
            factories.version(db.session, "subcontractor-oversight")
        )
        restricted = next(i.ref for i in definition.items() if "not_applicable" not in i.answers)
    etag = api.get(url).headers["ETag"]
    body = error_of(
        api.patch(
            url,
            json={
                "answers": [
                    {"ref": refs[0], "status": "compliant"},
                    {"ref": restricted, "status": "not_applicable"},
                ]
            },
            etag=etag,
        ),
        422,
    )
    assert list(body["errors"]) == [restricted]
    body = error_of(
        api.patch(
            url,
            json={
                "answers": [
                    {"ref": refs[0], "status": "compliant"},
                    {"ref": "ZZ-9", "status": "compliant"},
                ]
            },
            etag=etag,
        ),
        422,
    )
    assert list(body["errors"]) == ["ZZ-9"]
    body = error_of(
        api.patch(
            url,
            json={
                "answers": [
                    {"ref": refs[0], "status": "compliant"},
                    {"ref": refs[0], "status": "partial"},
                ]
            },
            etag=etag,
        ),
        422,
    )
    assert list(body["errors"]) == [refs[0]]
    # the service names the item whose answer it refuses, with the answers it allows
    body = error_of(
        api.patch(url, json={"answers": [{"ref": refs[0], "status": "great"}]}, etag=etag), 422
    )
    assert list(body["errors"]) == [refs[0]]
    assert "'great' is not an allowed answer (allowed: compliant" in body["errors"][refs[0]][0]
    body = error_of(api.patch(url, json={"answers": []}, etag=etag), 422)
    assert list(body["errors"]) == ["answers"]
    body = error_of(api.put(f"{url}/{refs[0]}", json={"comment": "x"}, etag=etag), 422)
    assert list(body["errors"]) == ["status"]
    body = error_of(
        api.put(f"{url}/{refs[0]}", json={"status": "partial", "comment": "x" * 10_001}, etag=etag),
        422,
    )
    assert body["errors"] == {refs[0]: [f"item {refs[0]}: comment is over 10,000 characters"]}
    assert answers_in_db(app, world["assessment_id"]) == {}
    assert revision(app, world["assessment_id"]) == 1


def test_who_may_write_answers(app, as_user, world, url):
    ref = all_items(app)[0]
    for who, scope, code in (
        ("auditor2", "write", 403),  # not assigned
        ("reviewer", "write", 403),
        ("viewer", "admin", 403),
        ("auditor", "read", 403),  # the right person, the wrong scope
    ):
        api = as_user(who, scope)
        etag = api.get(url).headers["ETag"]
        error_of(api.put(f"{url}/{ref}", json={"status": "compliant"}, etag=etag), code)
    assert answers_in_db(app, world["assessment_id"]) == {}
    admin = as_user("admin")
    assert (
        admin.put(
            f"{url}/{ref}", json={"status": "compliant"}, etag=admin.get(url).headers["ETag"]
        ).status_code
        == 200
    )


def test_live_score(app, as_user, world, url):
    api = as_user("auditor")
    refs = all_items(app)
    score = api.get(f"/api/v1/assessments/{world['assessment_id']}/score").get_json()
    assert score["score"] == 0.0 and score["provisional"] is True
    api.patch(
        url,
        json={"answers": [{"ref": r, "status": "compliant"} for r in refs]},
        etag=api.get(url).headers["ETag"],
    )
    score = (
        as_user("viewer", "read")
        .get(f"/api/v1/assessments/{world['assessment_id']}/score")
        .get_json()
    )
    assert score["score"] == 100.0 and score["rating"] == "A" and score["provisional"] is False
    assert score["counts"]["compliant"] == len(refs)
