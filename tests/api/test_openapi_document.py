"""The OpenAPI document as a client generator reads it: an operationId, a summary and a
description on every operation; ids unique and stable; an example on every JSON body and
answer, valid against its own schema; links that name real operations and parameters; servers."""

from __future__ import annotations

import copy
import json
import re

import jsonschema_rs
import pytest

METHODS = ("get", "put", "post", "patch", "delete")

#: The operationIds clients are generated with today: renaming one breaks every generated
#: client, so a change here must be deliberate (and in the changelog).
PINNED = {
    ("get", "/api/v1/me"): "getMe",
    ("get", "/api/v1/checklists"): "listChecklists",
    ("post", "/api/v1/checklists"): "createChecklist",
    ("get", "/api/v1/checklists/{slug}"): "getChecklist",
    ("get", "/api/v1/checklists/{slug}/versions/{version}"): "getVersion",
    ("post", "/api/v1/checklists/{slug}/versions/{version}/score-preview"): "previewScore",
    ("get", "/api/v1/subcontractors"): "listSubcontractors",
    ("post", "/api/v1/subcontractors"): "createSubcontractor",
    ("get", "/api/v1/subcontractors/{subcontractor_id}"): "getSubcontractor",
    ("patch", "/api/v1/subcontractors/{subcontractor_id}"): "updateSubcontractor",
    ("delete", "/api/v1/subcontractors/{subcontractor_id}"): "deleteSubcontractor",
    ("get", "/api/v1/assessments"): "listAssessments",
    ("post", "/api/v1/assessments"): "createAssessment",
    ("get", "/api/v1/assessments/{assessment_id}"): "getAssessment",
    ("patch", "/api/v1/assessments/{assessment_id}"): "updateAssessment",
    ("delete", "/api/v1/assessments/{assessment_id}"): "deleteAssessment",
    ("post", "/api/v1/assessments/{assessment_id}/submit"): "submitAssessment",
    ("post", "/api/v1/assessments/{assessment_id}/approve"): "approveAssessment",
    ("post", "/api/v1/assessments/{assessment_id}/return"): "returnAssessment",
    ("get", "/api/v1/assessments/{assessment_id}/answers"): "getAnswers",
    ("patch", "/api/v1/assessments/{assessment_id}/answers"): "updateAnswers",
    ("put", "/api/v1/assessments/{assessment_id}/answers/{ref}"): "replaceAnswer",
    ("get", "/api/v1/assessments/{assessment_id}/score"): "getScore",
    ("get", "/api/v1/assessments/{assessment_id}/evidence"): "listAssessmentEvidence",
    ("post", "/api/v1/assessments/{assessment_id}/evidence"): "createAssessmentEvidence",
    ("get", "/api/v1/evidence/{evidence_id}"): "getEvidence",
    ("get", "/api/v1/evidence/{evidence_id}/download"): "downloadEvidence",
    ("get", "/api/v1/findings"): "listFindings",
    ("get", "/api/v1/findings/{finding_id}"): "getFinding",
    ("patch", "/api/v1/findings/{finding_id}"): "updateFinding",
    ("get", "/api/v1/assessments/{assessment_id}/report.pdf"): "getReport",
    ("get", "/api/v1/assessments/{assessment_id}/answers.csv"): "getAnswersCsv",
    ("get", "/api/v1/assessments/{assessment_id}/oscal"): "getOscal",
    ("get", "/api/v1/assessments/{assessment_id}/events"): "listAssessmentEvents",
    ("get", "/api/v1/events"): "listEvents",
    ("get", "/api/v1/users"): "listUsers",
    ("get", "/api/v1/users/{user_id}"): "getUser",
    ("get", "/api/v1/webhooks"): "listWebhooks",
    ("post", "/api/v1/webhooks"): "createWebhook",
    ("patch", "/api/v1/webhooks/{hook_id}"): "updateWebhook",
    ("get", "/api/v1/webhooks/deliveries"): "listDeliveries",
    ("post", "/api/v1/webhooks/deliveries/{delivery_id}/retry"): "retryDelivery",
}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.get_data(as_text=True))


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def as_json_schema(node):
    """OpenAPI 3.0's schema dialect as JSON Schema: ``nullable: true`` allows null."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "example"}
    if converted.pop("nullable", False):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


def validator(spec, schema):
    root = {
        **as_json_schema(copy.deepcopy(schema)),
        "components": as_json_schema(spec["components"]),
    }
    return jsonschema_rs.Draft7Validator(root, validate_formats=True)


def test_every_operation_has_an_id_a_summary_and_a_description(spec):
    seen: dict[str, tuple[str, str]] = {}
    for method, path, op in operations(spec):
        where = f"{method.upper()} {path}"
        assert re.fullmatch(r"[a-z][A-Za-z0-9]+", op.get("operationId", "")), where
        assert op["operationId"] not in seen, (where, seen.get(op["operationId"]))
        seen[op["operationId"]] = (method, path)
        assert op.get("summary", "").strip(), where
        assert op.get("description", "").strip(), where
        assert op["description"] != op["summary"], where
    # what clients were generated with stays as it was
    ids = {(m, p): op["operationId"] for m, p, op in operations(spec)}
    assert {key: ids.get(key) for key in PINNED} == PINNED


def test_servers_name_the_base_the_paths_start_from(spec):
    assert spec["servers"] and spec["servers"][0]["url"] == "/"
    assert all(path.startswith("/api/v1/") for path in spec["paths"])


def json_schemas(spec):
    """Every JSON request body and 2xx JSON answer: (where, schema)."""
    for method, path, op in operations(spec):
        where = f"{method.upper()} {path}"
        body = resolve(spec, op.get("requestBody", {}))
        for media, content in body.get("content", {}).items():
            if media == "application/json":
                yield f"{where} body", content["schema"]
        for code, response in op.get("responses", {}).items():
            response = resolve(spec, response)
            if str(code).startswith("2"):
                for media, content in response.get("content", {}).items():
                    if media == "application/json":
                        yield f"{where} {code}", content["schema"]


def example_of(spec, schema):
    schema = resolve(spec, schema) if "$ref" in schema else schema
    if "example" in schema:
        return schema["example"]
    if schema.get("type") == "array":
        item = example_of(spec, schema["items"])
        return None if item is None else [item]
    return None


def test_every_json_body_and_answer_has_an_example_valid_against_its_schema(spec):
    wrong, checked = [], 0
    for where, schema in json_schemas(spec):
        example = example_of(spec, schema)
        if example is None:
            wrong.append(f"{where}: no example")
            continue
        errors = [e.message for e in validator(spec, schema).iter_errors(example)]
        if errors:
            wrong.append(f"{where}: {errors}")
        checked += 1
    assert not wrong
    assert checked > 40


def test_every_component_example_is_valid(spec):
    wrong = []
    for name, schema in spec["components"]["schemas"].items():
        if "example" not in schema:
            # only the multipart upload schemas, whose one field is a binary file
            assert {p.get("format") for p in schema["properties"].values()} == {"binary"}, name
            continue
        errors = [e.message for e in validator(spec, schema).iter_errors(schema["example"])]
        if errors:
            wrong.append(f"{name}: {errors}")
    assert not wrong


def test_an_example_that_breaks_its_schema_is_caught(spec):
    """The validation above can fail: a wrong tier, a short secret, a bad date are refused."""
    components = spec["components"]["schemas"]
    for name, broken in (
        ("SubcontractorCreate", {**components["SubcontractorCreate"]["example"], "tier": 4}),
        ("WebhookIn", {**components["WebhookIn"]["example"], "secret": "short"}),
        ("AssessmentCreate", {**components["AssessmentCreate"]["example"], "due_date": None}),
        ("Return", {"comment": "   "}),
        ("EventOut", {**components["EventOut"]["example"], "hash": "abc"}),
    ):
        assert not validator(spec, components[name]).is_valid(broken), name


def test_the_constraints_the_services_enforce_are_documented(spec):
    schemas = spec["components"]["schemas"]
    tier = schemas["SubcontractorCreate"]["properties"]["tier"]
    assert tier["enum"] == [1, 2, 3]
    cadence = schemas["SubcontractorCreate"]["properties"]["audit_cadence_months"]
    assert (cadence["minimum"], cadence["maximum"]) == (1, 60)
    assert schemas["Return"]["required"] == ["comment"]
    assert schemas["Return"]["properties"]["comment"]["pattern"] == r"\S"
    assert "due_date" in schemas["AssessmentCreate"]["required"]
    assert "nullable" not in schemas["AssessmentCreate"]["properties"]["due_date"]
    assert schemas["AssessmentCreate"]["properties"]["auditor_ids"]["minItems"] == 1
    webhook = schemas["WebhookIn"]["properties"]
    assert webhook["url"]["format"] == "uri"
    assert (webhook["secret"]["minLength"], webhook["secret"]["maxLength"]) == (16, 200)
    assert webhook["events"]["minItems"] == 1
    return_op = spec["paths"]["/api/v1/assessments/{assessment_id}/return"]["post"]
    assert resolve(spec, return_op["requestBody"])["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Return"
    }


def test_links_name_real_operations_and_their_parameters(spec):
    by_id = {op["operationId"]: (path, op) for _, path, op in operations(spec)}
    count = 0
    for method, path, op in operations(spec):
        for code, response in op.get("responses", {}).items():
            for name, link in resolve(spec, response).get("links", {}).items():
                where = f"{method.upper()} {path} {code} {name}"
                assert link["operationId"] in by_id, where
                target_path, target = by_id[link["operationId"]]
                names = {
                    resolve(spec, p)["name"]
                    for p in [
                        *spec["paths"][target_path].get("parameters", []),
                        *target.get("parameters", []),
                    ]
                }
                for parameter, expression in link["parameters"].items():
                    assert parameter.split(".", 1)[-1] in names, (where, parameter)
                    assert expression.startswith("$response."), (where, expression)
                count += 1
    assert count >= 10
    created = spec["paths"]["/api/v1/assessments"]["post"]["responses"]["201"]["links"]
    assert created["getAssessment"]["parameters"] == {"assessment_id": "$response.body#/id"}


def test_the_events_document_how_to_recompute_a_hash(spec):
    events = next(t for t in spec["tags"] if t["name"] == "events")
    for words in ("sort_keys", "ensure_ascii=False", "SHA-256", "prev_hash", "64 zeros"):
        assert words in events["description"], words
