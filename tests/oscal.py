"""Validation of exported OSCAL: NIST's JSON schemas (tests/data/) and compliance-trestle.

Both must accept a document: the schema is NIST's own statement of the format, trestle's
pydantic models are what many consumers load it with. See tests/data/README.md.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.poam import PlanOfActionAndMilestones

DATA = Path(__file__).resolve().parent / "data"
#: the OSCAL release the shipped schemas are of
SCHEMA_VERSION = "1.1.3"
SCHEMAS = {
    "assessment-results": "oscal_assessment-results_schema.json",
    "plan-of-action-and-milestones": "oscal_poam_schema.json",
}


@cache
def validator(model: str) -> jsonschema_rs.Draft7Validator:
    schema = json.loads((DATA / SCHEMAS[model]).read_text(encoding="utf-8"))
    assert schema["$id"].endswith(f"/{SCHEMA_VERSION}/" + schema["$id"].rsplit("/", 1)[1])
    return jsonschema_rs.Draft7Validator(schema, validate_formats=True)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """What NIST's JSON schema finds wrong with ``document`` (one root key), path by path."""
    (model,) = document
    return [
        f"{'/'.join(str(p) for p in e.instance_path)}: {e.message}"
        for e in validator(model).iter_errors(document)
    ]


def valid_assessment_results(document: dict[str, Any]) -> AssessmentResults:
    """The document, checked by the schema and loaded by trestle (either fails the test)."""
    assert list(document) == ["assessment-results"]
    assert document["assessment-results"]["metadata"]["oscal-version"] == SCHEMA_VERSION
    assert schema_errors(document) == []
    return AssessmentResults.model_validate(document["assessment-results"])


def valid_poam(document: dict[str, Any]) -> PlanOfActionAndMilestones:
    """The document, checked by the schema and loaded by trestle (either fails the test)."""
    assert list(document) == ["plan-of-action-and-milestones"]
    assert document["plan-of-action-and-milestones"]["metadata"]["oscal-version"] == SCHEMA_VERSION
    assert schema_errors(document) == []
    return PlanOfActionAndMilestones.model_validate(document["plan-of-action-and-milestones"])
