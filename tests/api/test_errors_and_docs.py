"""One JSON error shape under /api/v1; the OpenAPI document and the self-contained docs page."""

from __future__ import annotations

import json
import re

import pytest
from markupsafe import escape

from audit.api.blueprint import ApiBlueprint
from audit.services.subcontractors import register as subcontractor_service
from tests.api.conftest import ApiClient, error_of

# ------------------------------------------------------------------------------ errors


def test_unknown_url_and_method_answer_json(client, world):
    anonymous = ApiClient(client, None)
    body = error_of(anonymous.get("/api/v1/no-such-thing"), 404)
    assert body["status"] == "Not Found"
    response = anonymous.request("DELETE", "/api/v1/checklists")
    error_of(response, 405)
    assert "GET" in response.headers["Allow"]


def test_web_pages_keep_html_errors(client, world):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    response = client.delete("/auth/login")
    assert response.status_code == 405 and response.mimetype == "text/html"
    # CSRF still guards the pages although the API is exempt
    response = client.post("/auth/login", data={"email": "a@b.c", "password": "x"})
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_wrong_media_type_is_415_and_bad_json_is_400(as_user, world):
    api = as_user("auditor")
    error_of(
        api.post(
            "/api/v1/subcontractors",
            data="name=x",
            content_type="application/x-www-form-urlencoded",
        ),
        415,
    )
    body = error_of(
        api.post("/api/v1/subcontractors", data="{not json", content_type="application/json"),
        400,
    )
    assert "Invalid JSON" in body["message"]
    body = error_of(api.post("/api/v1/subcontractors", json=[1, 2]), 422)
    assert "body" in body["errors"]


def test_unexpected_failure_is_a_json_500_without_details(app, as_user, world, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(subcontractor_service, "create", broken)
    response = as_user("auditor").post(
        "/api/v1/subcontractors", json={"name": "X", "country": "JP", "tier": 1}
    )
    body = error_of(response, 500)
    assert "hunter2" not in response.get_data(as_text=True)
    assert "nothing was saved" in body["message"]


# ------------------------------------------------------------------------------ OpenAPI


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")  # no token needed
    assert response.status_code == 200 and response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def api_rules(app):
    for rule in app.url_map.iter_rules():
        blueprint = app.blueprints.get(rule.endpoint.rsplit(".", 1)[0])
        if isinstance(blueprint, ApiBlueprint):
            yield rule


def test_document_has_every_route_with_security_and_responses(app, spec):
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"],
        "type": "http",
        "scheme": "bearer",
    }
    rules = list(api_rules(app))
    assert len(rules) >= 18
    for rule in rules:
        path = openapi_path(rule.rule)
        assert path in spec["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][path].get(method.lower())
            assert operation, f"{method} {path}"
            assert operation["security"] == [{"bearerAuth": []}], f"{method} {path}"
            assert operation["x-kansa-scope"] in ("read", "write", "admin")
            codes = set(operation["responses"])
            assert {"401", "403"} <= codes, f"{method} {path}"
            assert any(code.startswith("2") for code in codes), f"{method} {path}"
            assert operation.get("summary"), f"{method} {path} has no summary"
            params = [p.get("$ref", "") for p in operation.get("parameters", [])]
            if any(p.endswith("/IF_MATCH") for p in params):
                assert {"412", "428"} <= codes, f"{method} {path}"


def test_writes_to_assessments_document_if_match(spec):
    guarded = [
        ("patch", "/api/v1/assessments/{assessment_id}"),
        ("delete", "/api/v1/assessments/{assessment_id}"),
        ("patch", "/api/v1/assessments/{assessment_id}/answers"),
        ("put", "/api/v1/assessments/{assessment_id}/answers/{ref}"),
        ("post", "/api/v1/assessments/{assessment_id}/submit"),
        ("post", "/api/v1/assessments/{assessment_id}/approve"),
        ("post", "/api/v1/assessments/{assessment_id}/return"),
    ]
    for method, path in guarded:
        operation = spec["paths"][path][method]
        assert {"412", "428"} <= set(operation["responses"]), (method, path)
    get = spec["paths"]["/api/v1/assessments/{assessment_id}"]["get"]
    assert "ETag" in get["responses"]["200"]["headers"]
    listing = spec["paths"]["/api/v1/assessments"]["get"]
    assert "X-Pagination" in listing["responses"]["200"]["headers"]
    upload = spec["paths"]["/api/v1/checklists"]["post"]
    assert upload["x-kansa-scope"] == "admin"
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert (
        spec["paths"]["/api/v1/checklists/{slug}/versions/{version}/score-preview"]["post"][
            "x-kansa-scope"
        ]
        == "read"
    )


def test_every_reference_resolves(spec):
    text = json.dumps(spec)
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node = spec
        for part in ref.split("/"):
            assert part in node, ref
            node = node[part]
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert {"code", "status", "message", "errors", "problems"} <= set(error)


def test_docs_page_is_self_contained(client, spec):
    response = client.get("/api/v1/docs")  # no token needed
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for path, item in spec["paths"].items():
        assert path in html, path
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                assert str(escape(item[method]["summary"])) in html
    links = re.findall(r'(?:src|href|action)\s*=\s*["\']([^"\']+)', html, flags=re.I)
    assert links
    outside = [u for u in links if re.match(r"(?:[a-z]+:)?//", u, flags=re.I)]
    assert outside == []
    assert "<script" not in html.lower()
    assert "@import" not in html and "url(" not in html
    for section in ("Authentication", "Scopes", "Errors", "Concurrency", "X-Pagination"):
        assert section in html


# ------------------------------------------------------------------------------ pins


def test_the_flask_smorest_hooks_kansa_overrides_are_still_called(app):
    """``KansaApi`` overrides two of flask-smorest's documented hooks, ``ERROR_SCHEMA`` and
    ``handle_http_exception``, and adds its document through apispec's ``extra_plugins``. An
    upgrade that renames them, or stops calling them, fails here before it changes a response.
    """
    import flask_smorest
    from werkzeug.exceptions import HTTPException

    from audit.api.errors import ErrorSchema
    from audit.api.spec import KansaApi, KansaDocs, api

    for hook in ("ERROR_SCHEMA", "handle_http_exception"):
        assert hasattr(flask_smorest.Api, hook), f"flask_smorest.Api.{hook} is gone"
    handler = app.error_handler_spec[None][None][HTTPException]
    assert handler.__func__ is KansaApi.handle_http_exception  # registered at init_app
    assert any(isinstance(plugin, KansaDocs) for plugin in api.spec.plugins)
    with app.app_context():
        document = api.spec.to_dict()
    error = document["components"]["schemas"]["Error"]
    assert set(error["properties"]) == set(ErrorSchema().fields)
    operation = document["paths"]["/api/v1/assessments"]["get"]
    assert operation["security"] == [{"bearerAuth": []}] and "x-kansa-scope" in operation


def test_the_two_private_flask_smorest_hooks_kansa_overrides_still_work(app, client):
    """``ApiBlueprint`` overrides two private methods of flask-smorest's Blueprint, as no public
    hook gives the same: ``_store_endpoint_docs`` (the one place a route's documentation passes
    with its view's name, for the ``operationId``) and ``_set_pagination_metadata`` (where the
    page numbers are known, for the ``Link`` header). An upgrade that renames either, or changes
    its signature, fails here by name before integrators lose their ids or links.
    """
    import inspect

    import flask_smorest

    from audit.api.blueprint import ApiBlueprint

    expected = {
        "_store_endpoint_docs": ["self", "endpoint", "obj", "parameters", "tags", "options"],
        "_set_pagination_metadata": ["self", "page_params", "result", "headers"],
    }
    for hook, parameters in expected.items():
        original = getattr(flask_smorest.Blueprint, hook, None)
        assert original is not None, f"flask_smorest.Blueprint.{hook} is gone"
        assert list(inspect.signature(original).parameters) == parameters, hook
        assert hook in vars(ApiBlueprint), f"ApiBlueprint no longer overrides {hook}"
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["paths"]["/api/v1/assessments"]["get"]["operationId"] == "listAssessments"
