"""The OpenAPI 3.1 description of the read API."""

from __future__ import annotations

from typing import Any

_PERSON_REF = {
    "name": "ref",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The person's case file id",
}
_ERRORS = {
    "401": {"description": "No valid API token"},
    "403": {"description": "The token's role has no access to case records (police analysts)"},
    "404": {"description": "Not on the token user's caseload (or does not exist)"},
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "OpenEM read API",
        "version": "1",
        "description": "People, orders, devices, violations, incidents, reviews and trails, for the people the "
        "token's user may see in the portal. Every read of a person's data is audited; trails need a reason.",
    },
    "components": {
        "securitySchemes": {
            "token": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "Token <token>; `openem api-token USER` issues one",
            }
        }
    },
    "security": [{"token": []}],
    "paths": {
        "/api/v1/people": {
            "get": {
                "summary": "The people you may see",
                "responses": {"200": {"description": "id, crn, name, rosh, practitioner for each"}, **_ERRORS},
            }
        },
        "/api/v1/people/{ref}": {
            "get": {
                "summary": "A person with orders, conditions and devices (the case file form, openem-cases/1)",
                "parameters": [_PERSON_REF],
                "responses": {"200": {"description": "the person"}, **_ERRORS},
            }
        },
        "/api/v1/people/{ref}/violations": {
            "get": {
                "summary": "Violations found by the engine (violations format)",
                "parameters": [
                    _PERSON_REF,
                    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                ],
                "responses": {"200": {"description": "violations, oldest first"}, **_ERRORS},
            }
        },
        "/api/v1/people/{ref}/incidents": {
            "get": {
                "summary": "Incidents (violations grouped into episodes), with every action taken on them and "
                "the enforcement decisions made",
                "parameters": [
                    _PERSON_REF,
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["open", "acknowledged", "cleared"]},
                    },
                ],
                "responses": {
                    "200": {"description": "incidents, oldest first"},
                    "400": {"description": "unknown status"},
                    **_ERRORS,
                },
            }
        },
        "/api/v1/people/{ref}/reviews": {
            "get": {
                "summary": "Supervision reviews of electronic monitoring held, and those due",
                "parameters": [_PERSON_REF],
                "responses": {"200": {"description": "reviews held, oldest first, and reviews due"}, **_ERRORS},
            }
        },
        "/api/v1/people/{ref}/assessments": {
            "get": {
                "summary": "Assessments before the order: proposal, status, decision, addresses and their checks",
                "parameters": [_PERSON_REF],
                "responses": {"200": {"description": "assessments, oldest first"}, **_ERRORS},
            }
        },
        "/api/v1/people/{ref}/trail": {
            "get": {
                "summary": "Positions in a period of at most 31 days; audited with the reason",
                "parameters": [
                    _PERSON_REF,
                    {
                        "name": "start",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "end",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {"name": "reason", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "positions"},
                    "400": {"description": "bad period or no reason"},
                    **_ERRORS,
                },
            }
        },
        "/api/v1/devices": {
            "get": {
                "summary": "Devices fitted to the people you may see",
                "responses": {"200": {"description": "devices"}, **_ERRORS},
            }
        },
        # Crime matching (docs/crime-hub.md): a police analyst's token sends its force's batches.
        "/api/v1/crime/batches": {
            "post": {
                "summary": "Send a crime batch (CSV as police send it) with its lawful basis and purpose",
                "parameters": [
                    {
                        "name": "lawful_basis",
                        "in": "query",
                        "required": True,
                        "schema": {"enum": ["detection", "investigation", "prosecution", "elimination"]},
                    },
                    {"name": "purpose", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "filename", "in": "query", "schema": {"type": "string"}},
                ],
                "requestBody": {"content": {"text/csv": {}, "multipart/form-data": {}}},
                "responses": {
                    "201": {"description": "kept: rows accepted, every problem with its row and column, status URL"},
                    "400": {"description": "no lawful basis, purpose or file"},
                    "401": {"description": "No valid API token"},
                    "403": {"description": "another force's file, or a token of another role"},
                    "422": {"description": "no row of the file could be used (the problems say why)"},
                },
            }
        },
        "/api/v1/crime/batches/{id}": {
            "get": {
                "summary": "A batch's status, its problems and the matches released to the force",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "the batch"},
                    "401": {"description": "No valid API token"},
                    "403": {"description": "not a police analyst's token"},
                    "404": {"description": "no such batch of the token's force"},
                },
            }
        },
    },
}
