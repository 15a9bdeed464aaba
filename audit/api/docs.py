"""The API's human-readable reference at /api/v1/docs, drawn from the OpenAPI document.

A plain page rendered by Kansa's own template: no script or style from another host, so it
works where the servers have no outside network. Like /api/v1/openapi.json it needs no token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, render_template

from .errors import API_PREFIX

page = Blueprint("api_docs_page", __name__, url_prefix=API_PREFIX)

METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(spec: Mapping[str, Any], node: Any) -> Any:
    """Follow a local ``$ref`` (``#/components/...``) to what it names."""
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {})
        node = target
    return node


def schema_label(schema: Any) -> str:
    """A short name for a schema: its component name, ``Name[]`` for arrays, else its type."""
    if not isinstance(schema, Mapping):
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return schema_label(schema.get("items", {})) + "[]"
    if schema.get("format"):
        return f"{schema.get('type', 'object')} ({schema['format']})"
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    return str(schema.get("type", "object"))


def _content_schema(content: Mapping[str, Any] | None) -> tuple[str, str]:
    for media_type, body in (content or {}).items():
        return media_type, schema_label(body.get("schema"))
    return "", ""


def _operation(
    spec: Mapping[str, Any], path: str, method: str, op: Mapping[str, Any], shared: list[Any]
) -> dict[str, Any]:
    parameters = []
    for raw in [*shared, *op.get("parameters", [])]:
        param = _resolve(spec, raw)
        parameters.append(
            {
                "name": param.get("name", ""),
                "in": param.get("in", ""),
                "required": bool(param.get("required")),
                "type": schema_label(param.get("schema")),
                "description": param.get("description", ""),
            }
        )
    body = None
    if "requestBody" in op:
        request_body = _resolve(spec, op["requestBody"])
        media_type, label = _content_schema(request_body.get("content"))
        body = {
            "media_type": media_type,
            "schema": label,
            "required": bool(request_body.get("required")),
        }
    responses = []
    for code, raw in op.get("responses", {}).items():
        response = _resolve(spec, raw)
        media_type, label = _content_schema(response.get("content"))
        responses.append(
            {
                "code": str(code),
                "description": response.get("description", ""),
                "schema": label,
                "media_type": media_type,
                "headers": sorted((response.get("headers") or {}).keys()),
            }
        )
    responses.sort(key=lambda r: (r["code"] == "default", r["code"]))
    return {
        "method": method.upper(),
        "path": path,
        "anchor": f"{method}-{path}".replace("/", "-")
        .replace("<", "")
        .replace(">", "")
        .replace("{", "")
        .replace("}", "")
        .replace(".", "-"),
        "summary": op.get("summary", ""),
        "description": op.get("description", ""),
        "scope": op.get("x-kansa-scope", ""),
        "secured": bool(op.get("security")),
        "parameters": parameters,
        "body": body,
        "responses": responses,
    }


def reference(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Operations grouped by tag (in the document's tag order) and the schemas they use."""
    groups: dict[str, dict[str, Any]] = {
        tag["name"]: {"name": tag["name"], "description": tag.get("description", ""), "ops": []}
        for tag in spec.get("tags", [])
    }
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                op = item[method]
                for tag in op.get("tags", ["other"]):
                    group = groups.setdefault(tag, {"name": tag, "description": "", "ops": []})
                    group["ops"].append(_operation(spec, path, method, op, shared))
    schemas = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        schemas.append(
            {
                "name": name,
                "description": schema.get("description", ""),
                "fields": [
                    {
                        "name": field,
                        "type": schema_label(prop),
                        "required": field in required,
                        "nullable": bool(prop.get("nullable")),
                        "description": prop.get("description", ""),
                    }
                    for field, prop in schema.get("properties", {}).items()
                ],
            }
        )
    return {
        "groups": [g for g in groups.values() if g["ops"]],
        "schemas": schemas,
        "info": spec.get("info", {}),
        "schemes": spec.get("components", {}).get("securitySchemes", {}),
    }


@page.route("/docs")
def docs() -> str:
    """The reference page."""
    from .spec import api

    spec = api.spec.to_dict()
    return render_template(
        "api/docs.html", ref=reference(spec), spec_url=f"{API_PREFIX}/openapi.json"
    )
