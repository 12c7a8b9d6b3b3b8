"""The OpenAPI 3.1 description of the regulator API, served at ``/api/v1/openapi.json``.

The tests validate every response of the API against this document, so it cannot drift from
what the endpoints answer.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from dd_toolkit.engine.disclosure import WORKING_GROUP_COLUMNS
from dd_toolkit.records.models import ReviewStatus
from dd_toolkit.web.inputs import MAX_CYCLE, MAX_ID, MAX_PAGE

# The bounds of every parameter, shared with the code that checks them (routes.py): a value the
# document allows is answered, one it does not is refused with 400 in the error shape.
MIN_CYCLE = 1
COUNTRY = re.compile(r"[A-Z]{2}")

VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _response(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{name}"}


NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "title", "message"],
                "additionalProperties": False,
                "properties": {
                    "status": {"type": "integer", "minimum": 400, "maximum": 599},
                    "title": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "ReviewStatus": {
        "type": "string",
        "enum": [s.value for s in ReviewStatus],
        "description": "Where the regulator's review of this submission stands.",
    },
    "SubmissionSummary": {
        "type": "object",
        "description": "A submission as addressed to the regulator of one jurisdiction (a recipient).",
        "required": [
            "id",
            "jurisdiction",
            "status",
            "status_label",
            "previous_id",
            "organisation_name",
            "cycle",
            "version",
            "submitted_at",
            "sha256",
            "methodology",
            "verified",
            "links",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "description": "The recipient id, used in the URLs."},
            "jurisdiction": {"type": "string", "pattern": "^[A-Z]{2}$"},
            "status": _ref("ReviewStatus"),
            "status_label": {"type": "string"},
            "previous_id": {
                "type": ["integer", "null"],
                "description": "The recipient of the earlier version this one answers, if any.",
            },
            "organisation_name": {"type": "string"},
            "cycle": {"type": "integer"},
            "version": {"type": "integer", "minimum": 1},
            "submitted_at": {"type": "string", "format": "date-time"},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "methodology": {"type": "string", "description": "The scoring methodology, as id@version."},
            "verified": {
                "type": "boolean",
                "description": "False when the last `dd-toolkit verify` found the submission tampered with; "
                "it is then left out of indicator reports and benchmarks.",
            },
            "links": {
                "type": "object",
                "required": ["self", "html"],
                "additionalProperties": False,
                "properties": {
                    "self": {"type": "string", "format": "uri-reference"},
                    "html": {"type": "string", "format": "uri-reference"},
                },
            },
        },
    },
    "BenchmarkRow": {
        "type": "object",
        "required": list(WORKING_GROUP_COLUMNS),
        "additionalProperties": False,
        "properties": {
            "release": {"type": "integer"},
            "cycle": {"type": "integer"},
            "group_id": {"type": "string"},
            "group_label": {"type": "string"},
            "metric": {"type": "string"},
            "companies": {"type": ["integer", "null"]},
            "p25": {"type": ["number", "null"]},
            "median": {"type": ["number", "null"]},
            "p75": {"type": ["number", "null"]},
            "share": {"type": ["number", "null"]},
            "status": {"type": "string", "enum": ["shown", "withheld"]},
            "reason": {"type": ["string", "null"]},
        },
    },
    "BenchmarkRelease": {
        "type": "object",
        "required": ["release", "cycle", "rows"],
        "additionalProperties": False,
        "properties": {
            "release": {
                "type": "object",
                "required": ["number", "published_at", "final", "cycles", "companies", "rules"],
                "properties": {
                    "number": {"type": "integer"},
                    "published_at": {"type": "string", "format": "date"},
                    "final": {"type": "boolean"},
                    "cycles": {"type": "array", "items": {"type": "integer"}},
                    "companies": {"type": ["integer", "null"]},
                    "rules": {"type": "object"},
                },
            },
            "cycle": {"type": "integer"},
            "rows": {"type": "array", "items": _ref("BenchmarkRow")},
        },
    },
    "SubmissionList": {
        "type": "object",
        "required": ["items", "count", "total", "page", "pages"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": _ref("SubmissionSummary")},
            "count": {"type": "integer", "minimum": 0, "description": "Items on this page."},
            "total": {"type": "integer", "minimum": 0, "description": "Items on every page."},
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
        },
    },
    "Evidence": {
        "type": "object",
        "required": ["url", "description"],
        "properties": {"url": {"type": "string"}, "description": {"type": "string"}},
    },
    "Answer": {
        "type": "object",
        "required": [
            "value",
            "not_applicable",
            "justification",
            "comment",
            "evidence",
            "meta",
            "updated_by",
            "updated_at",
        ],
        "properties": {
            "value": {
                "description": "By answer type: maturity 0-4; yes|partial|no; an option "
                "value; a list of option values; a number; text; a date."
            },
            "not_applicable": {"type": "boolean"},
            "justification": {"type": "string"},
            "comment": {"type": "string"},
            "evidence": {"type": "array", "items": _ref("Evidence")},
            "meta": {"type": "object"},
            "updated_by": NULLABLE_STRING,
            "updated_at": NULLABLE_STRING,
        },
    },
    "IndicatorResult": {
        "type": "object",
        "required": ["id", "label", "applies", "met", "reason", "components"],
        "properties": {
            "id": {"type": "string"},
            "label": {"type": "string"},
            "applies": {"type": "boolean"},
            "met": {"type": ["boolean", "null"]},
            "reason": {"type": "string", "description": "Why, in English, as frozen at submission."},
            "components": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "label", "met", "reason"],
                    "properties": {
                        "id": {"type": "string"},
                        "label": {"type": "string"},
                        "met": {"type": "boolean"},
                        "reason": {"type": "string", "description": "Why, in English, as frozen at submission."},
                        "trace": _ref("ConditionTrace"),
                    },
                },
            },
            # When the indicator does not apply: how the condition it needs was decided.
            "trace": _ref("ConditionTrace"),
        },
    },
    "ConditionTrace": {
        "type": ["object", "null"],
        "description": "How a condition was decided, frozen beside the English reason (absent from cards frozen "
        "before it was kept): a group of conditions {group: all|any|none, holds, items}, or one condition "
        "{subject: profile|answer|risk, name, operator, operand, holds} with, for an answer, the value read "
        "(null: no answer).",
        "properties": {
            "group": {"type": "string", "enum": ["all", "any", "none"]},
            "holds": {"type": "boolean"},
            "items": {"type": "array", "items": {"type": "object"}, "description": "Conditions of a group."},
            "subject": {"type": "string"},
            "name": {"type": "string"},
            "operator": {"type": "string"},
            "operand": {},
            "value": {},
        },
    },
    "CapResult": {
        "type": "object",
        "required": ["id", "label", "band", "modules", "question_ids", "reason"],
        "properties": {
            "id": {"type": "string", "description": "'critical' or a cap id of the methodology."},
            "label": {"type": "string"},
            "band": {"type": "string"},
            "modules": {"type": "array", "items": {"type": "string"}},
            "question_ids": {"type": "array", "items": {"type": "string"}},
            "reason": {"type": "string", "description": "What was answered, in English, as frozen at submission."},
            "answers_read": {
                "type": ["array", "null"],
                "description": "What was answered to each question the cap reads (absent from cards frozen "
                "before it was kept).",
                "items": {
                    "type": "object",
                    "required": ["question", "state", "value"],
                    "properties": {
                        "question": {"type": "string"},
                        "state": {"type": "string", "enum": ["answered", "no_answer", "not_asked", "not_applicable"]},
                        "value": {},
                    },
                },
            },
        },
    },
    "ScoreCard": {
        "type": "object",
        "description": "The score card computed at submission and frozen with it.",
        "required": [
            "methodology",
            "questionnaires",
            "overall",
            "band",
            "modules",
            "lenses",
            "indicators",
            "practices",
            "questions",
            "scored_questions",
            "unanswered_questions",
        ],
        "properties": {
            "methodology": {"type": "object", "additionalProperties": {"type": "string"}},
            "questionnaires": {"type": "object", "additionalProperties": {"type": "string"}},
            "overall": {"type": ["number", "null"]},
            "band": NULLABLE_STRING,
            "modules": {"type": "array", "items": {"type": "object"}},
            "lenses": {"type": "array", "items": {"type": "object"}},
            "indicators": {"type": "array", "items": _ref("IndicatorResult")},
            "practices": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "questions": {"type": "array", "items": {"type": "object"}},
            "scored_questions": {"type": "integer"},
            "unanswered_questions": {"type": "integer"},
            # Since methodology 2027.1; a card frozen before has none of these.
            "band_before_cap": NULLABLE_STRING,
            "capped_by": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The caps that lowered the overall band ('critical' or a cap id).",
            },
            "caps": {"type": "array", "items": _ref("CapResult"), "description": "Every cap whose condition holds."},
            "coverage": {
                "type": ["number", "null"],
                "description": "Share (0-1) of the applicable weight that is answered; not applicable is not answered.",
            },
            "confidence": {**NULLABLE_STRING, "description": "Confidence level from the answers' evidence strengths."},
            "not_applicable": {
                "type": "array",
                "items": {"type": "object"},
                "description": "Questions that apply but are marked not applicable, with the justification.",
            },
        },
    },
    "Snapshot": {
        "type": "object",
        "description": "The frozen snapshot of a submitted assessment (the portable assessment "
        "file without 'submission' and 'exported_at'). Its SHA-256 is taken over "
        "its canonical JSON: keys sorted, no spaces, UTF-8, non-ASCII kept.",
        "required": ["format", "format_version", "organisation", "assessment", "answers", "score_card"],
        "properties": {
            "format": {"const": "dd-toolkit/assessment"},
            "format_version": {"type": "integer"},
            "organisation": {
                "type": "object",
                "required": [
                    "name",
                    "hq_country",
                    "countries",
                    "service_types",
                    "features",
                    "size_band",
                    "under18_users",
                    "description",
                ],
                "properties": {
                    "name": {"type": "string"},
                    "hq_country": NULLABLE_STRING,
                    "countries": {"type": "array", "items": {"type": "string"}},
                    "service_types": {"type": "array", "items": {"type": "string"}},
                    "features": {"type": "array", "items": {"type": "string"}},
                    "size_band": NULLABLE_STRING,
                    "under18_users": NULLABLE_STRING,
                    "age_groups": {"type": "array", "items": {"type": "string"}},
                    "description": {"type": "string"},
                },
            },
            "assessment": {
                "type": "object",
                "required": ["cycle", "version", "status", "questionnaires", "created_at", "submitted_at"],
                "properties": {
                    "cycle": {"type": "integer"},
                    "version": {"type": "integer"},
                    "status": {"const": "submitted"},
                    "questionnaires": {"type": "object", "additionalProperties": {"type": "string"}},
                    "created_at": {"type": "string"},
                    "submitted_at": {"type": "string"},
                },
            },
            "answers": {"type": "object", "additionalProperties": _ref("Answer")},
            "score_card": _ref("ScoreCard"),
        },
    },
    "SubmissionDetail": {
        "type": "object",
        "required": ["recipient", "snapshot", "sha256", "integrity_verified"],
        "additionalProperties": False,
        "properties": {
            "recipient": _ref("SubmissionSummary"),
            "snapshot": _ref("Snapshot"),
            "sha256": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
                "description": "The SHA-256 recorded at submission.",
            },
            "integrity_verified": {
                "type": "boolean",
                "description": "Whether the stored snapshot still hashes to the recorded SHA-256, and the last "
                "`dd-toolkit verify` found the submission intact.",
            },
        },
    },
    "IndicatorRow": {
        "type": "object",
        "required": [
            "service_type",
            "indicator",
            "label",
            "institutions",
            "meeting",
            "not_met",
            "not_applicable",
            "companies",
        ],
        "additionalProperties": False,
        "properties": {
            "service_type": {
                "type": "string",
                "description": "'all', or one service type of the RPA Focus Area 7 typology.",
            },
            "indicator": {
                "type": "string",
                "description": "An indicator ('RPA:7.2.1') or one of its components ('RPA:7.2.1/identification').",
            },
            "label": {"type": "string"},
            "institutions": {
                "type": "integer",
                "minimum": 0,
                "description": "Institutions the indicator applies to.",
            },
            "meeting": {
                "type": "integer",
                "minimum": 0,
                "description": "Institutions meeting it.",
            },
            "not_met": {
                "type": "integer",
                "minimum": 0,
                "description": "Institutions it applies to that do not meet it.",
            },
            "not_applicable": {
                "type": "integer",
                "minimum": 0,
                "description": "Institutions it does not apply to: counted apart, never as not meeting it.",
            },
            "companies": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The institutions meeting it.",
            },
        },
    },
    "IndicatorReport": {
        "type": "object",
        "required": ["jurisdiction", "cycle", "institutions", "rows"],
        "additionalProperties": False,
        "properties": {
            "jurisdiction": {"type": "string", "pattern": "^[A-Z]{2}$"},
            "cycle": {"type": "integer"},
            "institutions": {
                "type": "integer",
                "minimum": 0,
                "description": "Institutions whose latest submission of the cycle is addressed to the jurisdiction.",
            },
            "rows": {"type": "array", "items": _ref("IndicatorRow")},
            "note": {
                "type": "string",
                "description": "How institutions an indicator does not apply to are counted (not applicable).",
            },
        },
    },
}

RESPONSES: dict[str, Any] = {
    "BadRequest": _json(_ref("Error"), "A query parameter is missing or not valid."),
    "Unauthorized": {
        **_json(_ref("Error"), "No API token, or one that is unknown or revoked."),
        "headers": {
            "WWW-Authenticate": {
                "description": "The Bearer challenge.",
                "schema": {"type": "string", "pattern": "^Bearer "},
            },
        },
    },
    "Forbidden": _json(
        _ref("Error"),
        "The token's account may not read this: a regulator's token reads submissions and indicators, "
        "a working-group token the benchmark.",
    ),
    "NotFound": _json(
        _ref("Error"),
        "No such submission, or one not addressed to the token's jurisdictions (the two are not told apart).",
    ),
    "TooManyRequests": {
        **_json(_ref("Error"), "Too many requests from this address; the limit is shared by the whole API."),
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            },
        },
    },
}

# Every error of the API, whatever the path or method (an unknown path, an undeclared method,
# a server error included), is answered with the Error shape; these are the ones every operation
# can give besides its own.
COMMON_ERRORS = {"429": _response("TooManyRequests")}

CYCLE_PARAMETER = {
    "name": "cycle",
    "in": "query",
    "schema": {"type": "integer", "minimum": MIN_CYCLE, "maximum": MAX_CYCLE},
}
PER_PAGE = 100  # submissions per page of the list


def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Child-rights DD toolkit: regulator API",
            "version": VERSION,
            "description": (
                "Read-only access for a regulator's own systems to the assessments companies "
                "submitted to the regulator's jurisdictions, and to the RPA indicator counts. "
                "Authenticate with an API token created on the API tokens page: "
                "`Authorization: Bearer <token>`. A token sees what its regulator account sees "
                "and nothing more. Every error, on any path under /api/v1 and for any method, is "
                "answered in JSON with the Error schema and its HTTP status: a parameter outside "
                "its documented range or pattern is a 400, an unknown path a 404, an undeclared "
                "method a 405 with an Allow header, too many requests a 429 with Retry-After."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "security": [{"bearerToken": []}],
        "paths": {
            "/api/v1/submissions": {
                "get": {
                    "operationId": "listSubmissions",
                    "summary": "Submissions addressed to the token's jurisdictions",
                    "description": "One item per jurisdiction a submission is addressed to, "
                    f"most recently updated first, {PER_PAGE} to a page.",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": _ref("ReviewStatus")},
                        {**CYCLE_PARAMETER, "description": "Only submissions of this cycle."},
                        {
                            "name": "page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                        },
                    ],
                    "responses": {
                        "200": _json(_ref("SubmissionList"), "The submissions."),
                        "400": _response("BadRequest"),
                        "401": _response("Unauthorized"),
                        "403": _response("Forbidden"),
                        **COMMON_ERRORS,
                    },
                },
            },
            "/api/v1/submissions/{recipient_id}": {
                "get": {
                    "operationId": "getSubmission",
                    "summary": "One submission's frozen snapshot, with its hash",
                    "parameters": [
                        {
                            "name": "recipient_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                        },
                    ],
                    "responses": {
                        "200": _json(_ref("SubmissionDetail"), "The submission."),
                        "401": _response("Unauthorized"),
                        "403": _response("Forbidden"),
                        "404": _response("NotFound"),
                        **COMMON_ERRORS,
                    },
                },
            },
            "/api/v1/indicators": {
                "get": {
                    "operationId": "getIndicators",
                    "summary": "RPA indicator counts for one jurisdiction and cycle",
                    "description": "The figures of the RPA indicator report: among the "
                    "institutions whose latest submission of the cycle is "
                    "addressed to the jurisdiction, how many meet RPA 7.2.1 (and "
                    "each component), 7.3.1 where it applies, and 7.4.1, overall "
                    "and by service type.",
                    "parameters": [
                        {
                            "name": "country",
                            "in": "query",
                            "required": True,
                            "description": "One of the token's jurisdictions (ISO code); any other is not found.",
                            "schema": {"type": "string", "pattern": f"^{COUNTRY.pattern}$"},
                        },
                        {**CYCLE_PARAMETER, "required": True},
                    ],
                    "responses": {
                        "200": _json(_ref("IndicatorReport"), "The counts."),
                        "400": _response("BadRequest"),
                        "401": _response("Unauthorized"),
                        "403": _response("Forbidden"),
                        "404": _response("NotFound"),
                        **COMMON_ERRORS,
                    },
                },
            },
            "/api/v1/benchmark": {
                "get": {
                    "operationId": "getBenchmark",
                    "summary": "A published benchmark release (working-group tokens)",
                    "description": "The working group's figures for one cycle of a release: each peer "
                    "group's size and, for a shown group, its quartiles and shares. A withheld figure "
                    "has the status 'withheld', its reason, and no number.",
                    "parameters": [
                        {
                            "name": "release",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                            "description": "Release number; default: the latest.",
                        },
                        {**CYCLE_PARAMETER, "description": "Cycle; default: the latest in the release."},
                    ],
                    "responses": {
                        "200": _json(_ref("BenchmarkRelease"), "The figures."),
                        "400": _response("BadRequest"),
                        "401": _response("Unauthorized"),
                        "403": _response("Forbidden"),
                        "404": _response("NotFound"),
                        **COMMON_ERRORS,
                    },
                },
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **COMMON_ERRORS,
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token of a regulator account.",
                },
            },
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }


_DOCUMENT = _document()


def document() -> dict[str, Any]:
    """The OpenAPI document (a copy: callers may change it freely)."""
    return copy.deepcopy(_DOCUMENT)
