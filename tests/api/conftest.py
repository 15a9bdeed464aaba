"""Fixtures for the REST API tests: people, an open assessment, and clients holding tokens."""

from __future__ import annotations

import json

import pytest

from audit.extensions import db
from audit.models import User
from audit.services import tokens as token_service
from tests import factories

SO = "subcontractor-oversight"


class ApiClient:
    """The Flask test client with ``Authorization: Bearer <secret>`` on every request."""

    def __init__(self, client, secret: str | None) -> None:
        self.client = client
        self.secret = secret

    def request(self, method: str, path: str, *, etag: str | None = None, headers=None, **kw):
        sent = dict(headers or {})
        if self.secret is not None:
            sent.setdefault("Authorization", f"Bearer {self.secret}")
        if etag is not None:
            sent["If-Match"] = etag
        return self.client.open(path, method=method, headers=sent, **kw)

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw):
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def world(app, loaded_checklists):
    """Admin, two auditors, a reviewer and a viewer; an open assessment by 'auditor'."""
    with app.app_context():
        people = factories.team(db.session)
        assessment = factories.assessment(db.session, people)
        return {
            "assessment_id": assessment.id,
            "subcontractor_id": assessment.subcontractor_id,
            "version_id": assessment.checklist_version_id,
            **{role: getattr(people, role).id for role in people.__dataclass_fields__},
        }


@pytest.fixture
def make_token(app):
    """Create a token for a user (by id) through the service; returns its secret."""

    def make(user_id: int, scope: str = "write", expires_days: int | None = None) -> str:
        with app.app_context():
            user = db.session.get(User, user_id)
            _, secret = token_service.create(
                db.session, user, name=f"test {scope}", scope=scope, expires_days=expires_days
            )
            db.session.commit()
            return secret

    return make


@pytest.fixture
def as_user(client, world, make_token):
    """``as_user("auditor", "write")``: an ApiClient acting as that person with that scope."""

    def make(who: str, scope: str = "write") -> ApiClient:
        return ApiClient(client, make_token(world[who], scope))

    return make


@pytest.fixture
def anonymous(client) -> ApiClient:
    return ApiClient(client, None)


def error_of(response, code: int) -> dict:
    """Check the one error shape and return its body."""
    assert response.status_code == code, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    if code == 422:
        assert isinstance(body["errors"], dict) and body["errors"]
        assert all(isinstance(v, list) and v for v in body["errors"].values())
    else:
        assert "errors" not in body
    return body


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


def first_items(app, slug: str = SO, count: int = 3) -> list[str]:
    """The first item refs of a checklist version, in definition order."""
    from audit.services import checklists as service

    with app.app_context():
        version = factories.version(db.session, slug)
        return list(service.definition_for(version).item_index())[:count]


def all_items(app, slug: str = SO) -> list[str]:
    from audit.services import checklists as service

    with app.app_context():
        version = factories.version(db.session, slug)
        return list(service.definition_for(version).item_index())
