"""OpenAPI 3.1 document built from the endpoint metadata and the wire models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from phantom_cli.client import models as m

from .errors import CODES

_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization") -> dict[str, Any]:
        schema = model.model_json_schema(mode=mode, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
        for name, sub in schema.pop("$defs", {}).items():
            self.components.setdefault(name, sub)
        name = schema.get("title", model.__name__)
        key = name if mode == "serialization" else f"{name}Input"
        if key in self.components and self.components[key] != schema:
            key = f"{model.__module__.replace('.', '_')}_{key}"
        self.components[key] = schema
        return {"$ref": f"#/components/schemas/{key}"}


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    req = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        prop.pop("title", None)
        if "$ref" in prop:
            prop = defs[prop["$ref"].rsplit("/", 1)[-1]]
        out.append({"name": name, "in": "query", "required": name in req, "schema": prop})
    return out


def build_openapi(routes: list[Any]) -> dict[str, Any]:
    from phantom_cli import __version__

    sch = _Schemas()
    envelope = sch.ref(m.ErrorEnvelope)
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "summary": "Liveness check (no key needed)",
                "operationId": "health",
                "security": [],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"status": {"type": "string"}, "version": {"type": "string"}},
                    "required": ["status"]}}}}},
            }
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
                "401": {"description": "UNAUTHORIZED", "content": {"application/json": {"schema": envelope}}},
            },
        }
    }
    for route in routes:
        meta = getattr(route, "phantom_meta", None)
        if meta is None:
            continue
        path = _PARAM.sub(r"{\1}", meta.path)
        op: dict[str, Any] = {
            "summary": meta.summary or route.name,
            "operationId": f"{meta.method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}",
            "parameters": [
                {"name": p, "in": "path", "required": True,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 128}}
                for p in _PARAM.findall(meta.path)
            ],
        }
        if meta.public:
            op["security"] = []
        if meta.query is not None:
            op["parameters"] += _query_params(meta.query)
        if meta.body is not None:
            needs = any(f.is_required() for f in meta.body.model_fields.values())
            op["requestBody"] = {"required": needs, "content": {"application/json": {"schema": sch.ref(meta.body, "validation")}}}
        responses: dict[str, Any] = {}
        if meta.media_type != "application/json":
            ok: dict[str, Any] = {"description": "ok", "content": {meta.media_type: {"schema": {"type": "string"}}}}
        elif meta.response is not None:
            schema = sch.ref(m.Page[meta.response]) if meta.paged else sch.ref(meta.response)
            ok = {"description": "ok", "content": {"application/json": {"schema": schema}}}
            if meta.query is not None and "stream" in meta.query.model_fields:
                # ?stream=true answers server-sent events (spec/api.md, streaming variant)
                ok["content"]["text/event-stream"] = {"schema": {
                    "type": "object",
                    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
                }}
        else:
            ok = {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}
        responses[str(meta.status)] = ok
        statuses = {400, 401, 404, 405, 429, 500, 503, *meta.errors}
        if not meta.public:
            statuses.add(403)
        for st in sorted(statuses):
            responses[str(st)] = {
                "description": CODES.get(st, "error"),
                "content": {"application/json": {"schema": envelope}},
            }
        op["responses"] = responses
        paths.setdefault(path, {})[meta.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Phantom API (embedded local backend)", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": sch.components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
