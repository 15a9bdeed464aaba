"""Hostile input on the API: refused with a clear JSON error, nothing saved lost."""

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import error_of
from tests.conftest import examples


def saved(api, aid):
    return {
        a["ref"]: (a["status"], a["comment"])
        for a in api.get(f"/api/v1/assessments/{aid}/answers").get_json()["answers"]
    }


def seed_answer(api, aid):
    etag = api.get(f"/api/v1/assessments/{aid}").headers["ETag"]
    response = api.put(
        f"/api/v1/assessments/{aid}/answers/SO-1.1",
        etag=etag,
        json={"status": "partial", "comment": "kept"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def raw(api, aid, body: bytes, content_type="application/json"):
    etag = api.get(f"/api/v1/assessments/{aid}").headers["ETag"]
    return api.patch(
        f"/api/v1/assessments/{aid}/answers",
        etag=etag,
        data=body,
        headers={"Content-Type": content_type},
    )


def test_deeply_nested_json_is_refused(as_user, world):
    api = as_user("auditor")
    aid = world["assessment_id"]
    seed_answer(api, aid)
    body = b'{"answers": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = raw(api, aid, body)
    assert 400 <= response.status_code < 500
    assert response.get_json()["message"]
    assert saved(api, aid) == {"SO-1.1": ("partial", "kept")}


def test_huge_json_is_refused_with_413(app, as_user, world):
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    api = as_user("auditor")
    aid = world["assessment_id"]
    seed_answer(api, aid)
    body = json.dumps(
        {"answers": [{"ref": "SO-1.2", "status": "compliant", "comment": "x" * 200_000}]}
    ).encode()
    error_of(raw(api, aid, body), 413)
    assert saved(api, aid) == {"SO-1.1": ("partial", "kept")}


def test_invalid_utf8_json_is_refused(as_user, world):
    api = as_user("auditor")
    aid = world["assessment_id"]
    seed_answer(api, aid)
    response = raw(api, aid, b'{"answers": [{"ref": "SO-1.2", "status": "\xff\xfe"}]}')
    assert response.status_code == 400
    assert "JSON" in response.get_json()["message"] or "UTF-8" in response.get_json()["message"]
    assert saved(api, aid) == {"SO-1.1": ("partial", "kept")}


def test_malformed_json_is_refused(as_user, world):
    api = as_user("auditor")
    aid = world["assessment_id"]
    response = raw(api, aid, b'{"answers": [')
    assert response.status_code == 400 and response.get_json()["message"]


def test_yaml_tags_in_an_uploaded_checklist_are_refused(tmp_path, as_user):
    marker = tmp_path / "pwned"
    body = (f"!!python/object/apply:os.system ['touch {marker}']\n").encode()
    response = as_user("admin", "admin").post(
        "/api/v1/checklists",
        data={"file": (io.BytesIO(body), "evil.yaml")},
        content_type="multipart/form-data",
    )
    error = error_of(response, 422)
    assert "YAML" in json.dumps(error)
    assert not marker.exists()


def test_html_in_text_fields_is_stored_as_text_not_markup(as_user, world):
    api = as_user("auditor")
    aid = world["assessment_id"]
    etag = api.get(f"/api/v1/assessments/{aid}").headers["ETag"]
    script = "<script>alert(1)</script>"
    api.put(
        f"/api/v1/assessments/{aid}/answers/SO-1.1",
        etag=etag,
        json={"status": "partial", "comment": script},
    )
    assert saved(api, aid)["SO-1.1"] == ("partial", script)  # JSON carries it as data


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
ANSWER = st.fixed_dictionaries(
    {
        "ref": st.one_of(
            st.sampled_from(["SO-1.1", "SO-1.2", "SO-9.9", ""]), st.text(max_size=20), st.integers()
        ),
        "status": st.one_of(
            st.sampled_from(
                ["compliant", "partial", "non_compliant", "not_applicable", "bogus", None]
            ),
            JSONISH,
        ),
        "comment": st.one_of(st.text(max_size=100), JSONISH),
    }
)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.fixed_dictionaries({"answers": st.lists(ANSWER, max_size=4)}),
        JSONISH,
    ),
    etag_kind=st.sampled_from(["current", "current", "stale", "junk", "none"]),
)
def test_fuzzed_answer_writes_never_crash_or_lose_answers(as_user, world, body, etag_kind):
    api = as_user("auditor")
    aid = world["assessment_id"]
    before = saved(api, aid)
    current = api.get(f"/api/v1/assessments/{aid}").headers["ETag"]
    etag = {"current": current, "stale": '"a1-r0"', "junk": "not an etag", "none": None}[etag_kind]
    response = api.patch(f"/api/v1/assessments/{aid}/answers", etag=etag, json=body)
    assert response.status_code < 500, response.get_data(as_text=True)
    after = saved(api, aid)
    if response.status_code >= 400:
        assert after == before  # a refused write changes nothing
        assert response.get_json()["message"]
