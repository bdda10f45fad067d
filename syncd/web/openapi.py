"""The OpenAPI 3.0 document of the HTTP interface, served at /api/openapi.json.

It describes the JSON API (syncd.web.api) and the operations endpoints (syncd.web.ops: health,
readiness, metrics, sync status, resync, quarantine). tests/test_openapi.py runs schemathesis
against the live app to keep it true: no 5xx, and every response's status, content type and
body as documented here.
"""

from __future__ import annotations

import functools
from typing import Any

from connectors.base import FAILURES
from reconcile.compare import Severity
from reconcile.flags import Flag
from reconcile.model import StopKind
from syncd.outbox import FAILURE_KINDS, OUTCOMES
from syncd.outbox import STATES as OUTBOX_STATES
from syncd.queue import ACTIONS
from syncd.queue_states import ACTIVE_STATES, STATES
from syncd.web import data
from syncd.web.auth import ROLES

Schema = dict[str, Any]

KINDS = list(data.KINDS)
SIDE_FIELDS = list(data.SIDE_FIELDS)
FLAGS = [flag.value for flag in Flag]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROBLEM = "application/problem+json"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


STRING: Schema = {"type": "string"}
PORTAL_FAILURE: Schema = {
    "type": "string",
    "enum": list(FAILURES),
    "description": "Why the portal failed, in a word (the pages say it in the reader's language)",
}
PORTAL_FAILURE_OR_NULL: Schema = {**PORTAL_FAILURE, "enum": [*FAILURES, None], "nullable": True}
# A query parameter given empty is refused (leave it out instead): free text needs a character.
WORDS: Schema = {"type": "string", "minLength": 1}
TEXT_OR_NULL: Schema = {"type": "string", "nullable": True}
TIME: Schema = {"type": "string", "description": "ISO 8601 time with its offset"}
TIME_OR_NULL: Schema = {**TIME, "nullable": True}
A_DAY: Schema = {"type": "string", "format": "date", "example": "2024-07-01"}  # in answers
DAY: Schema = {  # in requests: what the server takes
    "type": "string",
    "format": "date",
    "pattern": data.whole_pattern(data.DAY),
    "example": "2024-07-01",
    "description": "A day YYYY-MM-DD of the years 1970-2100",
}
REASON: Schema = {"type": "string", "minLength": 1, "pattern": "\\S", "description": "Not blank"}
MANUAL_VALUE: Schema = {
    "type": "string",
    "pattern": data.whole_pattern(data.MANUAL_VALUE),
    "description": "FIELD=VALUE: status=1..10, channel=1..3, a *_at time with its offset "
    "(received_at=2024-07-01T08:30:00+07:00), or a procedure_code or field_code in the portals' "
    "code format",
    "example": "status=10",
}
NO_VALUE: Schema = {
    "type": "string",
    "nullable": True,
    "enum": [None],
    "description": "Only for manual",
}
ANY_OBJECT: Schema = {"type": "object", "additionalProperties": True}
COUNT: Schema = {"type": "integer", "minimum": 0}
PASSWORD: Schema = {"type": "string", "minLength": 10}


def obj(properties: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **extra}
    schema["required"] = list(properties) if required is None else required
    if not schema["required"]:
        del schema["required"]
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def json_body(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ok(description: str, schema: Schema) -> dict[str, Any]:
    return {"description": description, "content": json_body(schema)}


REASON_BODY: Schema = {
    "type": "object",
    "properties": {"reason": {"type": "string", "pattern": r"\S"}},
    "required": ["reason"],
    "additionalProperties": False,
}


def problem(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def path(name: str, description: str, schema: Schema | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema or STRING,
        "description": description,
    }


def operation(
    summary: str,
    role: str | None,
    responses: dict[str, Any],
    *,
    tag: str,
    parameters: list[dict[str, Any]] | None = None,
    body: Schema | None = None,
    description: str = "",
    errors: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One operation; `role` None: public. Protected ones answer 401 and 403 too."""
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": dict(responses)}
    notes = [description] if description else []
    if role is None:
        op["security"] = []
    else:
        notes.append(f"Needs the `{role}` role (or above).")
        op["responses"]["401"] = problem("Unauthorized")
        op["responses"]["403"] = problem("Forbidden")
    codes = {"400": "BadRequest", "404": "NotFound", "409": "Conflict"}
    for code in errors:
        op["responses"][code] = problem(codes[code])
    if notes:
        op["description"] = " ".join(notes)
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": True, "content": json_body(body)}
    return op


def _schemas() -> dict[str, Schema]:
    resolution = obj(
        {
            "action": {
                "type": "string",
                "description": f"{', '.join(ACTIONS)}, mark_migrated, unmark_migrated, "
                "or syncd's own",
            },
            "value": TEXT_OR_NULL,
            "reason": STRING,
            "by": STRING,
            "at": TIME,
            "overrides": nullable({"type": "object", "additionalProperties": STRING}),
        },
        required=["action", "reason", "by", "at"],
        nullable=True,
        description="How the mismatch was resolved; null while open or claimed",
    )
    event = obj(
        {
            "at": TIME,
            "event": STRING,
            "by": STRING,
            "state": {"type": "string", "enum": list(STATES)},
            "city": TEXT_OR_NULL,
            "national": TEXT_OR_NULL,
            "action": STRING,
            "value": TEXT_OR_NULL,
            "reason": STRING,
        },
        required=["at", "event", "by", "state"],
    )
    mismatch = obj(
        {
            "id": {
                "type": "string",
                "description": "<dossier key>~<kind> (no character a URL escapes)",
            },
            "code": STRING,
            "key": {"type": "string", "description": "The dossier's key"},
            "kind": {"type": "string", "enum": KINDS},
            "severity": {"type": "string", "enum": [s.value for s in Severity]},
            "city": {**TEXT_OR_NULL, "description": "The city's value as shown"},
            "national": {**TEXT_OR_NULL, "description": "The national portal's value as shown"},
            "detail": TEXT_OR_NULL,
            "auto_resolvable": {"type": "boolean"},
            "city_code": TEXT_OR_NULL,
            "national_code": TEXT_OR_NULL,
            "present": {"type": "boolean", "description": "Still detected"},
            "state": {"type": "string", "enum": list(STATES)},
            "detected_at": TIME,
            "last_seen_at": TIME,
            "resolution": ref("Resolution"),
            "claimed_by": TEXT_OR_NULL,
            "claimed_at": TIME_OR_NULL,
            "history": array(ref("HistoryEvent")),
        },
        required=["id", "key", "kind", "state", "detected_at", "history"],
    )
    side = obj(
        {
            "field": {"type": "string", "enum": SIDE_FIELDS},
            "city": TEXT_OR_NULL,
            "national": TEXT_OR_NULL,
            "corrected": TEXT_OR_NULL,
            "differs": {"type": "boolean", "description": "The city and national values differ"},
        }
    )
    detail = {
        "allOf": [
            ref("Mismatch"),
            obj(
                {
                    "fields": {
                        **array(STRING),
                        "description": "The corrected record's fields the kind is about",
                    },
                    "sides": array(ref("SideRow")),
                }
            ),
        ]
    }
    dossier = obj(
        {
            "source": {"type": "string", "enum": ["city", "national"]},
            "code": STRING,
            "procedure_code": STRING,
            "field_code": STRING,
            "channel": {"type": "integer", "minimum": 1, "maximum": 3},
            "status": {"type": "integer", "minimum": 1, "maximum": 10},
            "native_status": TEXT_OR_NULL,
            "received_at": TIME,
            "updated_at": TIME,
            "due_at": TIME_OR_NULL,
            "finished_at": TIME_OR_NULL,
            "returned_at": TIME_OR_NULL,
            "apology_at": TIME_OR_NULL,
            "alt_codes": array(STRING),
            "pauses": array(
                obj(
                    {
                        "kind": {"type": "string", "enum": [k.value for k in StopKind]},
                        "requested_at": TIME,
                        "resumed_at": TIME_OR_NULL,
                        "due_before": TIME_OR_NULL,
                    },
                    description="A stop of the clock: a supplement request, a fee request, "
                    "processing stopped; due_before: the due date when it began",
                )
            ),
            "digitised": {"type": "boolean"},
        },
        description="A dossier as one system records it (no personal data)",
    )
    audit_side = {
        "type": "object",
        "additionalProperties": True,
        "nullable": True,
        "description": "For a mismatch: {state, resolution, claimed_by}; null on detection",
    }
    audit_entry = obj(
        {
            "entry": {"type": "string", "description": "The audit stream's entry id"},
            "at": TIME,
            "who": STRING,
            "action": {
                "type": "string",
                "description": "detect, auto_resolve, reopen, claim, resolve, publish, "
                "user_add, user_remove, user_password, user_role, user_logout, resync",
            },
            "id": {
                "type": "string",
                "description": 'A mismatch id, "report:<period>" or "user:<name>"',
            },
            "key": {**TEXT_OR_NULL, "description": "The dossier's key (mismatches only)"},
            "before": audit_side,
            "after": audit_side,
        }
    )
    flags = obj(
        {
            "flags": array({"type": "string", "enum": FLAGS}),
            "due": TEXT_OR_NULL,
            "days_late": {"type": "integer"},
            "field": TEXT_OR_NULL,
        },
        required=["flags"],
        nullable=True,
    )
    dossier_detail = obj(
        {
            "key": STRING,
            "city": array(ref("Dossier")),
            "national": array(ref("Dossier")),
            "corrected": nullable(ref("Dossier")),
            "excluded": {**TEXT_OR_NULL, "description": "Why it is left out of the counts"},
            "match": nullable(
                obj(
                    {
                        "city": TEXT_OR_NULL,
                        "national": TEXT_OR_NULL,
                        "method": TEXT_OR_NULL,
                    },
                    required=[],
                )
            ),
            "flags": ref("Flags"),
            "overrides": {"type": "object", "additionalProperties": STRING},
            "mismatches": array(ref("Mismatch")),
            "history": array(ref("AuditEntry")),
        }
    )
    overdue_row = obj(
        {
            "code": STRING,
            "field": STRING,
            "due": TEXT_OR_NULL,
            "flags": array({"type": "string", "enum": FLAGS}),
            "days_late": {"type": "integer"},
            "procedure": STRING,
            "received": STRING,
            "status": {"type": "integer"},
            "apology": TEXT_OR_NULL,
        }
    )
    cells = {"type": "object", "additionalProperties": {"type": "integer"}}
    portal = obj(
        {
            "last_success_at": TIME_OR_NULL,
            "last_error": TEXT_OR_NULL,
            "last_error_kind": PORTAL_FAILURE_OR_NULL,
            "last_error_at": TIME_OR_NULL,
            "recent_errors": array(
                obj({"at": TIME, "error": STRING, "kind": PORTAL_FAILURE}, required=["at", "error"])
            ),
            "lag_seconds": {"type": "number", "nullable": True},
            "cursor": nullable(obj({"updated_at": TIME, "code": STRING})),
            "circuit": {"type": "string", "enum": ["closed", "open", "half_open", "unknown"]},
            "quarantined": {"type": "integer", "minimum": 0},
            "complete": {
                "type": "boolean",
                "description": "Its last poll read its whole feed: absence on it is judged",
            },
            "last_complete_at": TIME_OR_NULL,
            "waiting": {
                "type": "integer",
                "minimum": 0,
                "description": "Dossiers whose absence on it waits for its complete read",
            },
            "late_updates": {
                "type": "integer",
                "minimum": 0,
                "description": "Records the re-reads found that polling had missed",
            },
            "rereads": {
                "type": "object",
                "additionalProperties": TIME_OR_NULL,
                "description": "When each scheduled re-read (recent, deep, full) last finished",
            },
            "poller": {
                **TEXT_OR_NULL,
                "description": "The process polling it (holder of its lease), null if none",
            },
            "resync": obj(
                {
                    "started_at": TIME_OR_NULL,
                    "finished_at": TIME_OR_NULL,
                    "error": TEXT_OR_NULL,
                    "error_kind": PORTAL_FAILURE_OR_NULL,
                },
                required=[],
            ),
        },
        required=["last_success_at", "last_error", "lag_seconds", "circuit", "quarantined"],
    )
    quarantined = obj(
        {
            "id": {
                "type": "string",
                "description": '"<portal>:<code>" (one entry per record), or "<portal>:~<hash>"'
                " for a record whose code could not be read",
            },
            "at": {**TIME, "description": "When the record was last seen malformed"},
            "first_at": {**TIME, "description": "When it was first seen malformed"},
            "seen": {"type": "integer", "minimum": 1, "description": "Times it was seen"},
            "attempts": {"type": "integer", "minimum": 0, "description": "Retries made"},
            "next_retry_at": {
                **TIME_OR_NULL,
                "description": "When it is fetched again by code (null: no code to fetch by)",
            },
            "portal": STRING,
            "code": TEXT_OR_NULL,
            "reason": {**STRING, "description": "Why, as stored (English)"},
            "reason_code": {
                **TEXT_OR_NULL,
                "description": "The reason's code (missing, not_date, bad_code ...), null for "
                "a reason of no known form",
            },
            "reason_text": {**STRING, "description": "Why, in the interface's language"},
            "updated_at": TIME_OR_NULL,
            "raw": {"description": "The rejected record, personal fields removed"},
        },
        required=["id", "at", "first_at", "seen", "attempts", "portal", "reason"],
    )
    poller = obj({"stalled": {"type": "boolean"}, "last_success_at": TIME_OR_NULL}, required=[])
    return {
        "Problem": obj(
            {
                "type": STRING,
                "title": STRING,
                "status": {"type": "integer"},
                "detail": STRING,
            },
            required=["title", "status"],
            description="An error (RFC 9457)",
        ),
        "Resolution": resolution,
        "HistoryEvent": event,
        "Mismatch": mismatch,
        "MismatchDetail": detail,
        "SideRow": side,
        "MismatchList": obj(
            {
                "items": array(ref("Mismatch")),
                "total": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
            }
        ),
        "Dossier": dossier,
        "DossierDetail": dossier_detail,
        "Flags": flags,
        "AuditEntry": audit_entry,
        "Overdue": obj(
            {
                "as_of": A_DAY,
                "field": TEXT_OR_NULL,
                "flag": STRING,
                "dossiers": array(overdue_row),
            }
        ),
        "Report": {
            **obj(
                {
                    "schema": STRING,
                    "form": STRING,
                    "period": obj(
                        {
                            "label": STRING,
                            "start": A_DAY,
                            "end": A_DAY,
                            "cutoff_day": {"type": "integer"},
                        }
                    ),
                    "generated_at": TIME,
                    "version": nullable(
                        obj(
                            {
                                "number": {"type": "integer"},
                                "published_at": TIME,
                                "by": TEXT_OR_NULL,
                                "forced": nullable(
                                    obj({"reason": STRING, "overridden": array(STRING)})
                                ),
                            },
                            required=["number", "published_at"],
                        )
                    ),
                    "trust": nullable(ref("Trust")),
                    "corrected": ANY_OBJECT,
                    "raw": ANY_OBJECT,
                    "indicators": ANY_OBJECT,
                    "differences": array(ANY_OBJECT),
                    "ledger": ANY_OBJECT,
                    "restatement": nullable(ANY_OBJECT),
                }
            ),
            "description": 'Form 06/VPCP/KSTT as JSON (schema "syncd-report/3", see README; '
            'a version published before /3 has no "trust")',
        },
        "Trust": obj(
            {
                "provisional": {"type": "boolean", "description": "The period has not ended"},
                "period_ends_at": TIME,
                "portals": {
                    "type": "object",
                    "additionalProperties": obj(
                        {
                            "last_complete_at": TIME_OR_NULL,
                            "read_since_end": {"type": "boolean"},
                            "failures_since": array(
                                obj(
                                    {
                                        "at": STRING,
                                        "error": STRING,
                                        "kind": {"type": "string", "enum": [*FAILURES, ""]},
                                    },
                                    required=["at", "error"],
                                )
                            ),
                        }
                    ),
                },
                "quarantined": obj(
                    {
                        "count": {"type": "integer", "minimum": 0},
                        "codes": array(STRING),
                        "without_code": {"type": "integer", "minimum": 0},
                        "limited": {"type": "boolean"},
                    }
                ),
                "dead_letters": obj(
                    {"count": {"type": "integer", "minimum": 0}, "codes": array(STRING)}
                ),
                "empty": {"type": "boolean"},
                "issues": array(
                    {
                        "type": "string",
                        "description": "provisional, never_read:<portal>, "
                        "not_read_since_end:<portal>, failed_polls:<portal>, quarantined, "
                        "dead_letters, empty (all but failed_polls stop publishing)",
                    }
                ),
            },
            description="How far the report can be trusted (README, Report)",
        ),
        "ReportVersions": obj(
            {
                "period": STRING,
                "versions": array(
                    obj({"number": {"type": "integer"}, "published_at": TIME, "totals": cells})
                ),
            }
        ),
        "Published": obj({"period": STRING, "version": {"type": "integer"}, "published_at": TIME}),
        "User": obj({"name": STRING, "role": {"type": "string", "enum": list(ROLES)}}),
        "UserChanged": obj(
            {"name": STRING, "role": {"type": "string", "enum": list(ROLES)}, "ended": COUNT}
        ),
        "Credential": obj(
            {
                "kind": {"type": "string", "enum": ["session", "token"]},
                "id": {"type": "string", "description": "The start of the secret's SHA-256"},
                "created": TIME,
                "expires": {**TIME_OR_NULL, "description": "Sessions: when it ends"},
                "label": {"type": "string", "description": "Tokens: the administrator's label"},
            }
        ),
        "Me": obj(
            {
                "name": STRING,
                "role": {"type": "string", "enum": list(ROLES)},
                "via": {"type": "string", "enum": ["token", "cookie"]},
            }
        ),
        "BulkResult": obj(
            {
                "resolved": array(STRING),
                "failed": array(obj({"id": STRING, "error": STRING})),
            }
        ),
        "SyncStatus": obj(
            {
                "portals": obj({"city": portal, "national": portal}, required=[]),
                "dead_letters": {"type": "integer", "minimum": 0},
                "retrying": {"type": "integer", "minimum": 0},
            },
        ),
        "QuarantineEntry": quarantined,
        "OutboxEntry": obj(
            {
                "key": STRING,
                "code": {**STRING, "description": "The national record written"},
                "codes": array(STRING),
                "action": {"type": "string", "enum": ["create", "update"]},
                "changes": {
                    "type": "object",
                    "additionalProperties": array(TEXT_OR_NULL),
                    "description": "field -> [what the portal had, what is written]",
                },
                "reasons": array(STRING),
                "state": {"type": "string", "enum": list(OUTBOX_STATES)},
                "attempts": {"type": "integer", "minimum": 0},
                "created_at": TIME_OR_NULL,
                "last_at": TIME_OR_NULL,
                "next_at": TIME_OR_NULL,
                "last_error": TEXT_OR_NULL,
                "last_error_kind": {
                    "type": "string",
                    "enum": [*FAILURE_KINDS, None],
                    "nullable": True,
                    "description": "Why the last attempt failed, in a word",
                },
                "answer": {**TEXT_OR_NULL, "description": "The portal's last answer (JSON)"},
            },
            required=["key", "code", "action", "changes", "state", "attempts"],
        ),
        "Outbox": obj(
            {
                "mode": {"type": "string", "enum": ["push", "dry_run"]},
                "held": nullable(obj({"at": TIME, "reason": STRING})),
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "entries": array(ref("OutboxEntry")),
            },
            required=["mode", "held", "counts", "entries"],
        ),
        "PushLogEntry": obj(
            {
                "id": STRING,
                "at": TIME,
                "key": STRING,
                "code": STRING,
                "action": STRING,
                "outcome": {"type": "string", "enum": list(OUTCOMES)},
                "changes": {**STRING, "description": "JSON: field -> [before, after]"},
                "answer": STRING,
                "by": STRING,
            },
            required=["id", "at", "key", "outcome"],
        ),
        "FailedDossier": obj(
            {
                "code": STRING,
                "error": STRING,
                "attempts": {"type": "integer", "minimum": 1},
                "first_at": TIME,
                "last_at": TIME,
                "next_at": {**TIME, "description": "The next attempt (those to be retried)"},
            },
            required=["code", "error", "attempts", "first_at", "last_at"],
        ),
        "Readiness": obj(
            {
                "ready": {"type": "boolean"},
                "redis": {"type": "boolean"},
                "pollers": obj({"city": poller, "national": poller}, required=[]),
            },
            required=["ready"],
        ),
    }


def _paths() -> dict[str, Any]:
    mismatch_id = path(
        "id",
        'A mismatch id "<dossier key>~<kind>"; the older form "<dossier key>|<kind>" (with '
        '"|" sent as %7C) is accepted too',
        {"type": "string", "pattern": "^(?!bulk-resolve$)[^/]+$"},
    )
    filters = [
        query("kind", {"type": "string", "enum": KINDS}, "Kind of mismatch"),
        query("state", {"type": "string", "enum": list(STATES)}, "State"),
        query("field", WORDS, "The dossier's field code (from its corrected record)"),
        query("since", DAY, "Detected on or after this local day"),
        query("until", DAY, "Detected on or before this local day"),
    ]
    page = [
        query("limit", {"type": "integer", "minimum": 0, "maximum": 500, "default": 50}, "Page"),
        query(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0},
            "Skip this many",
        ),
    ]
    others = [a for a in ACTIONS if a != "manual"]
    resolution = {
        "oneOf": [
            obj(
                {"action": {"type": "string", "enum": ["manual"]}, "value": MANUAL_VALUE},
                required=["action", "value"],
            ),
            obj(
                {"action": {"type": "string", "enum": others}, "value": NO_VALUE},
                required=["action"],
            ),
        ]
    }
    resolve_body = {
        "allOf": [obj({"reason": REASON}), resolution],
        "description": "manual needs `value`; the other actions take none",
    }
    filters_body = obj(
        {
            "kind": {"type": "string", "enum": KINDS},
            "state": {"type": "string", "enum": list(ACTIVE_STATES)},
            "field": {"type": "string", "minLength": 1},
            "since": DAY,
            "until": DAY,
        },
        required=[],
        anyOf=[{"required": [name]} for name in ("kind", "state", "field", "since", "until")],
    )
    bulk_body = {
        "allOf": [filters_body, obj({"reason": REASON}), resolution],
        "description": "At least one filter (kind, state, field, since, until) is required; "
        "manual needs `value`, the other actions take none",
    }
    period = path(
        "period",
        "Reporting period YYYY-MM, years 1970-2100",
        {"type": "string", "pattern": data.whole_pattern(data.PERIOD), "example": "2024-07"},
    )
    audit_params = [
        query(
            "since",
            {"type": "string", "pattern": data.whole_pattern(data.SINCE)},
            "From this audit entry id (1720000000000-0), day (2024-07-01) or time "
            "(2024-07-01T08:30:00, Vietnam time unless an offset follows) on, oldest first",
        ),
        query("who", WORDS, "Only this user's actions (syncd for the daemon's own)"),
        query("key", WORDS, "Only entries about this dossier"),
    ]
    mismatch_response = ok("The mismatch after the change", ref("Mismatch"))
    csv_content = {"text/csv": {"schema": STRING}}
    return {
        "/api/openapi.json": {
            "get": operation(
                "This document",
                None,
                {"200": ok("The OpenAPI document", ANY_OBJECT)},
                tag="meta",
            )
        },
        "/api/v1/me": {
            "get": operation(
                "Who the caller is", "viewer", {"200": ok("The caller", ref("Me"))}, tag="meta"
            )
        },
        "/api/v1/mismatches": {
            "get": operation(
                "List mismatches",
                "viewer",
                {"200": ok("A page of mismatches, oldest detection first", ref("MismatchList"))},
                tag="mismatches",
                parameters=filters + page,
                errors=("400",),
            )
        },
        "/api/v1/mismatches/bulk-resolve": {
            "post": operation(
                "Resolve every open or claimed mismatch of a filter the same way",
                "operator",
                {"200": ok("What was resolved and what could not be", ref("BulkResult"))},
                tag="mismatches",
                body=bulk_body,
                errors=("400",),
            )
        },
        "/api/v1/mismatches/{id}": {
            "get": operation(
                "One mismatch with both sides field by field",
                "viewer",
                {"200": ok("The mismatch", ref("MismatchDetail"))},
                tag="mismatches",
                parameters=[mismatch_id],
                errors=("404",),
            )
        },
        "/api/v1/mismatches/{id}/claim": {
            "post": operation(
                "Claim an open mismatch",
                "operator",
                {"200": mismatch_response},
                tag="mismatches",
                parameters=[mismatch_id],
                errors=("404", "409"),
            )
        },
        "/api/v1/mismatches/{id}/resolve": {
            "post": operation(
                "Resolve an open or claimed mismatch",
                "operator",
                {"200": mismatch_response},
                tag="mismatches",
                parameters=[mismatch_id],
                body=resolve_body,
                description="accept_city / accept_national write that side's values to the "
                "corrected record, manual writes `value`, ignore only closes it.",
                errors=("400", "404", "409"),
            )
        },
        "/api/v1/mismatches/{id}/reopen": {
            "post": operation(
                "Reopen a claimed or resolved mismatch",
                "operator",
                {"200": mismatch_response},
                tag="mismatches",
                parameters=[mismatch_id],
                body=obj({"reason": REASON}),
                errors=("400", "404", "409"),
            )
        },
        "/api/v1/dossiers/{key}": {
            "get": operation(
                "One dossier: both sides, the corrected record, flags, mismatches, history",
                "viewer",
                {"200": ok("The dossier", ref("DossierDetail"))},
                tag="dossiers",
                parameters=[path("key", "The dossier's key (its code)")],
                errors=("404",),
            )
        },
        "/api/v1/dossiers/{key}/migrated": {
            "post": operation(
                "Mark or unmark a dossier as migrated from the old system",
                "operator",
                {"200": ok("The dossier's migrated mismatch, resolved", ref("Mismatch"))},
                tag="dossiers",
                parameters=[path("key", "The dossier's key (its code)")],
                body=obj(
                    {
                        "migrated": {"type": "boolean"},
                        "reason": {"type": "string", "minLength": 1},
                    }
                ),
                description="An operator's verdict overrides the engine's migration evidence "
                "(true: left out of the counts; false: counted), audited with its reason. "
                "Reopening the dossier's `migrated` mismatch withdraws it.",
                errors=("400", "404"),
            )
        },
        "/api/v1/overdue": {
            "get": operation(
                "Dossiers overdue, due soon or finished late",
                "viewer",
                {"200": ok("The flagged dossiers", ref("Overdue"))},
                tag="dossiers",
                parameters=[
                    query("as_of", DAY, "At the end of this local day (default: today)"),
                    query("field", WORDS, "Only this field code"),
                    query(
                        "flag",
                        {"type": "string", "enum": [*FLAGS, "all"], "default": "all"},
                        "Only this flag",
                    ),
                ],
                errors=("400",),
            )
        },
        "/api/v1/reports/{period}": {
            "get": operation(
                "A period's form 06/VPCP/KSTT as JSON, CSV or XLSX",
                "viewer",
                {
                    "200": {
                        "description": "The report (computed now, or a published version)",
                        "content": {
                            "application/json": {"schema": ref("Report")},
                            "text/csv": {"schema": STRING},
                            XLSX: {"schema": {"type": "string", "format": "binary"}},
                        },
                    }
                },
                tag="reports",
                parameters=[
                    period,
                    query(
                        "format",
                        {"type": "string", "enum": ["json", "csv", "xlsx"], "default": "json"},
                        "Format",
                    ),
                    query(
                        "version",
                        {"type": "integer", "minimum": 1, "maximum": 10**6},
                        "A published version",
                    ),
                    query(
                        "figures",
                        {"type": "string", "enum": ["corrected", "city", "national"]},
                        "CSV only: which figures",
                    ),
                    query("lang", {"type": "string", "enum": ["vi", "en"]}, "CSV and XLSX"),
                ],
                errors=("400", "404"),
            )
        },
        "/api/v1/reports/{period}/versions": {
            "get": operation(
                "The published versions of a period's report",
                "viewer",
                {"200": ok("Versions, oldest first", ref("ReportVersions"))},
                tag="reports",
                parameters=[period],
                errors=("400",),
            )
        },
        "/api/v1/reports/{period}/publish": {
            "post": {
                **operation(
                    "Publish the period's report as its next version",
                    "admin",
                    {"201": ok("The version published", ref("Published"))},
                    tag="reports",
                    parameters=[period],
                    description="Refused with 409 (the detail says why) while the report is "
                    "not fit to be published: the period has not ended, a portal was not read "
                    "completely since it ended, quarantined records or dead letters could "
                    "belong to it, or it has no dossier at all; unless the body is "
                    '`{"force": true, "reason": "..."}`, whose reason the audit trail and the '
                    "published version keep. A body is optional.",
                    errors=("400", "409"),
                ),
                "requestBody": {
                    "required": False,
                    "content": json_body(
                        {
                            "oneOf": [
                                obj(
                                    {"force": {"type": "boolean", "enum": [False]}},
                                    required=[],
                                    additionalProperties=False,
                                ),
                                obj(
                                    {
                                        "force": {"type": "boolean", "enum": [True]},
                                        "reason": {"type": "string", "pattern": r"\S"},
                                    },
                                    required=["force", "reason"],
                                    additionalProperties=False,
                                ),
                            ]
                        }
                    ),
                },
            }
        },
        "/api/v1/audit": {
            "get": operation(
                "The audit trail",
                "viewer",
                {"200": ok("Entries, oldest first", obj({"items": array(ref("AuditEntry"))}))},
                tag="audit",
                parameters=[
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                        "The last this many (the first with since)",
                    ),
                    *audit_params,
                ],
                errors=("400",),
            )
        },
        "/api/v1/audit.csv": {
            "get": operation(
                "The audit trail as CSV",
                "viewer",
                {"200": {"description": "CSV, one entry a row", "content": csv_content}},
                tag="audit",
                parameters=[
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 100000, "default": 10000},
                        "The last this many (the first with since)",
                    ),
                    *audit_params,
                ],
                errors=("400",),
            )
        },
        "/api/v1/users": {
            "get": operation(
                "Users and their roles",
                "admin",
                {"200": ok("Users", obj({"items": array(ref("User"))}))},
                tag="users",
            ),
            "post": operation(
                "Add a user",
                "admin",
                {"201": ok("The user", ref("User"))},
                tag="users",
                body=obj(
                    {
                        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{1,63}$"},
                        "role": {"type": "string", "enum": list(ROLES)},
                        "password": PASSWORD,
                    }
                ),
                errors=("400", "409"),
            ),
        },
        "/api/v1/users/{name}": {
            "patch": operation(
                "Set a user's role or password",
                "admin",
                {"200": ok("The user, and how many sessions and tokens ended", ref("UserChanged"))},
                tag="users",
                parameters=[path("name", "User name")],
                body=obj(
                    {
                        "role": {"type": "string", "enum": list(ROLES)},
                        "password": PASSWORD,
                    },
                    required=[],
                    additionalProperties=False,
                    minProperties=1,
                ),
                description="Every session and token the user had ends. Not one's own account "
                "(409): the answer would end the credential of the request itself.",
                errors=("400", "404", "409"),
            ),
            "delete": operation(
                "Remove a user and their tokens",
                "admin",
                {"204": {"description": "Removed"}},
                tag="users",
                parameters=[path("name", "User name")],
                errors=("404", "409"),
            ),
        },
        "/api/v1/users/{name}/logout": {
            "post": operation(
                "End every session and token of a user (not one's own: 409)",
                "admin",
                {"200": ok("How many ended", obj({"name": STRING, "ended": COUNT}))},
                tag="users",
                parameters=[path("name", "User name")],
                errors=("404", "409"),
            ),
        },
        "/api/v1/users/{name}/sessions": {
            "get": operation(
                "A user's live sessions and tokens (never the secrets)",
                "admin",
                {
                    "200": ok(
                        "Oldest first",
                        obj({"name": STRING, "items": array(ref("Credential"))}),
                    )
                },
                tag="users",
                parameters=[path("name", "User name")],
                errors=("404",),
            ),
        },
        # --- syncd.web.ops -----------------------------------------------------------------
        "/healthz": {
            "get": operation(
                "Liveness",
                None,
                {"200": ok("The process answers", obj({"status": {"type": "string"}}))},
                tag="operations",
            )
        },
        "/readyz": {
            "get": operation(
                "Readiness: Redis reachable and no poller stalled",
                None,
                {
                    "200": ok("Ready", ref("Readiness")),
                    "503": ok("Not ready", ref("Readiness")),
                },
                tag="operations",
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics",
                None,
                {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": {"text/plain": {"schema": STRING}},
                    }
                },
                tag="operations",
            )
        },
        "/api/v1/sync/status": {
            "get": operation(
                "Each portal's sync state",
                "viewer",
                {"200": ok("Sync status", ref("SyncStatus"))},
                tag="operations",
            )
        },
        "/api/v1/sync/resync": {
            "post": operation(
                "Read a portal again from a day (or from the beginning)",
                "admin",
                {
                    "202": ok("Started", obj({"started": {"type": "boolean"}})),
                    "503": problem("Unavailable"),
                },
                tag="operations",
                body=obj(
                    {
                        "portal": {"type": "string", "enum": ["city", "national"]},
                        "since": nullable(DAY),
                    },
                    required=["portal"],
                    additionalProperties=False,
                ),
                description="Runs in the background; the sync status shows its progress. "
                "503 when this server has no connection to the portals.",
                errors=("400", "409"),
            )
        },
        "/api/v1/deadletters": {
            "get": operation(
                "Dossiers whose reconciliation failed: dead letters, and those to be retried",
                "viewer",
                {
                    "200": ok(
                        "Newest failure first",
                        obj(
                            {
                                "dead": array(ref("FailedDossier")),
                                "retrying": array(ref("FailedDossier")),
                            }
                        ),
                    )
                },
                tag="operations",
            )
        },
        "/api/v1/deadletters/retry": {
            "post": operation(
                "Reconcile dead letters again now",
                "admin",
                {"202": ok("Queued", obj({"queued": {"type": "integer", "minimum": 0}}))},
                tag="operations",
                body={
                    "oneOf": [
                        obj(
                            {
                                "codes": {
                                    **array({"type": "string", "minLength": 1}),
                                    "minItems": 1,
                                }
                            },
                            required=["codes"],
                            additionalProperties=False,
                        ),
                        obj(
                            {"all": {"type": "boolean", "enum": [True]}},
                            required=["all"],
                            additionalProperties=False,
                        ),
                    ]
                },
                description="Each code must be a dead letter (404 otherwise). They stay dead "
                "letters until a reconciliation of them succeeds.",
                errors=("400", "404"),
            )
        },
        "/api/v1/writeback": {
            "get": operation(
                "The write-back outbox: what waits to be pushed to the national portal",
                "viewer",
                {"200": ok("The outbox", ref("Outbox"))},
                tag="operations",
                parameters=[
                    query("state", {"type": "string", "enum": list(OUTBOX_STATES)}, "Only these")
                ],
                errors=("400",),
            )
        },
        "/api/v1/writeback/log": {
            "get": operation(
                "What left the outbox, newest first",
                "viewer",
                {"200": ok("Push log", obj({"items": array(ref("PushLogEntry"))}))},
                tag="operations",
                parameters=[
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                        "At most this many",
                    )
                ],
                errors=("400",),
            )
        },
        "/api/v1/writeback/release": {
            "post": operation(
                "Let a burst held by the burst guard be pushed (audited)",
                "admin",
                {"200": ok("Released", obj({"released": {"type": "boolean"}}))},
                tag="operations",
                body=REASON_BODY,
                errors=("400",),
            )
        },
        "/api/v1/writeback/{key}/retry": {
            "post": operation(
                "Push this entry at the next drain, whatever its backoff",
                "operator",
                {"202": ok("Due now", obj({"queued": {"type": "integer", "minimum": 0}}))},
                tag="operations",
                parameters=[path("key", "A dossier key in the outbox")],
                errors=("404",),
            )
        },
        "/api/v1/writeback/{key}/cancel": {
            "post": operation(
                "Take an entry out of the outbox for good (audited)",
                "operator",
                {"200": ok("Cancelled", obj({"cancelled": STRING}))},
                tag="operations",
                parameters=[path("key", "A dossier key in the outbox")],
                body=REASON_BODY,
                description="That very plan is not made again (a different one is); the "
                "dossier's mismatch goes back to the operators.",
                errors=("400", "404"),
            )
        },
        "/api/v1/quarantine": {
            "get": operation(
                "Records the connectors rejected (personal fields removed)",
                "viewer",
                {
                    "200": ok(
                        "Newest first, and how many each portal has",
                        obj(
                            {
                                "items": array(ref("QuarantineEntry")),
                                "counts": {
                                    "type": "object",
                                    "additionalProperties": {"type": "integer"},
                                },
                            }
                        ),
                    )
                },
                tag="operations",
                parameters=[
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                        "At most this many",
                    ),
                    query("portal", {"type": "string", "enum": ["city", "national"]}, "Portal"),
                ],
                errors=("400",),
            )
        },
    }


def _responses() -> dict[str, Any]:
    def one(description: str) -> dict[str, Any]:
        return {"description": description, "content": {PROBLEM: {"schema": ref("Problem")}}}

    return {
        "BadRequest": one("Bad input: the detail says what"),
        "Unauthorized": one("No credentials, or an unknown or revoked token"),
        "Forbidden": one("The role is not enough, or a cookie caller sent no CSRF token"),
        "NotFound": one("No such thing"),
        "Conflict": one("The record's state does not allow this"),
        "Unavailable": one("Not possible in this process now"),
    }


@functools.cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "syncd",
            "version": "1",
            "description": "Sync and reconciliation of administrative-procedure dossiers between "
            "the city one-stop system and the National Public Service Portal: the mismatch "
            "queue, dossiers, deadlines, reports, the audit trail, users, and operations. "
            "Errors are application/problem+json. Callers authenticate with an API token "
            "(`Authorization: Bearer`) or the pages' session cookie; a cookie caller must send "
            "the session's CSRF token in `X-CSRF-Token` on every request that changes anything.",
        },
        "security": [{"bearerToken": []}, {"sessionCookie": []}],
        "tags": [
            {"name": name}
            for name in (
                "mismatches",
                "dossiers",
                "reports",
                "audit",
                "users",
                "operations",
                "meta",
            )
        ],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "responses": _responses(),
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (`syncd users token NAME`)",
                },
                "sessionCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "syncd_session",
                    "description": "The pages' session (log in at /login); needs X-CSRF-Token "
                    "on requests that change anything",
                },
            },
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (shared: do not modify it)."""
    return _document()
