"""The OpenAPI 3.1 description of the REST API, served at ``/hectornb/api/openapi.json``.

Written by hand next to the handlers (a test checks every route is described and the
document is valid), so it says what each call means in the astronomer's words.
"""

from __future__ import annotations

from .. import __version__
from ..reduce.engines import ENGINES

_ERROR = {
    "description": 'JSON error: {"error": message}',
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_ZIP = {"description": "a zip file", "content": {"application/zip": {}}}


def _json(description: str, schema: str | dict) -> dict:
    ref = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _op(
    summary: str,
    ok: dict,
    *,
    params: tuple = (),
    body: dict | None = None,
    errors: tuple[int, ...] = (403, 404, 422),
    status: str = "200",
) -> dict:
    op = {"summary": summary, "responses": {status: ok, **{str(e): _ERROR for e in errors}}}
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = {"required": True, "content": body}
    return op


def _q(name: str, description: str, schema: dict | None = None, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "required": required,
        "schema": schema or {"type": "string"},
    }


def _p(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


_JOB_ID = _p("job_id", "the request ID (UUID)")
_LIST = _p("name", "the target list's name")
_TARGET = _p("target", "the target's name")


def document() -> dict:
    """The OpenAPI document (paths relative to the server's base URL)."""
    frames_filters = tuple(
        _q(n, d)
        for n, d in (
            ("night_from", "first night, yymmdd"),
            ("night_to", "last night, yymmdd"),
            ("ndfclass", "frame class: MFOBJECT, MFARC, MFFFF, BIAS, DARK, …"),
            ("object", "substring of OBJECT"),
            ("grating", "GRATID, e.g. 580V"),
            ("arm", "blue or red"),
            ("programme", "AAOPRGID"),
        )
    )
    paths = {
        "/hectornb/api/": {
            "get": _op(
                "who you are, the version, the BADCLASS scheme",
                _json("information", {"type": "object"}),
                errors=(403,),
            )
        },
        "/hectornb/api/openapi.json": {
            "get": _op("this document", _json("OpenAPI 3.1", {"type": "object"}), errors=(403,))
        },
        "/hectornb/api/tokens": {
            "get": _op(
                "your API tokens (names and dates, never the values)",
                _json("tokens", {"type": "object"}),
                errors=(403,),
            ),
            "post": _op(
                "a new API token for a script; its value is shown only now (sign in "
                "to make one: a token cannot make tokens)",
                _json("the token", {"type": "object"}),
                status="201",
                body={
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}},
                            "required": ["name"],
                        }
                    }
                },
            ),
        },
        "/hectornb/api/tokens/{token_id}": {
            "parameters": [_p("token_id", "the token's ID")],
            "delete": {
                "summary": "revoke a token",
                "responses": {"204": {"description": "revoked"}, "403": _ERROR, "404": _ERROR},
            },
        },
        "/hectornb/api/targets/lists": {
            "get": _op("the stored target lists", _json("lists", {"type": "object"})),
            "post": _op(
                "import a target file (the body is the file; rejected whole with "
                "every error and its line number)",
                _json("the import", {"type": "object"}),
                params=(
                    _q("filename", "the file's name (.csv or .txt)", required=True),
                    _q("name", "the list's name (default: the file's stem)"),
                    _q("overwrite", "replace a list of that name", {"type": "boolean"}),
                ),
                body={"text/csv": {}, "text/plain": {}},
                status="201",
            ),
        },
        "/hectornb/api/targets/lists/{name}": {
            "parameters": [_LIST],
            "delete": {
                "summary": "delete a list (its owner only)",
                "responses": {"204": {"description": "deleted"}, "403": _ERROR, "404": _ERROR},
            },
        },
        "/hectornb/api/targets/lists/{name}/targets": {
            "parameters": [_LIST],
            "get": _op(
                "one page of targets",
                _json("a page", {"type": "object"}),
                params=(
                    _q("badclass", "all, unclassified, gt0 or 0–8"),
                    _q("name", "name filter: substring, or a regular expression"),
                    _q("regex", "the name filter is a regular expression", {"type": "boolean"}),
                    _q("offset", "first target", {"type": "integer"}),
                    _q("limit", "targets per page", {"type": "integer"}),
                ),
            ),
        },
        "/hectornb/api/targets/lists/{name}/targets/{target}/badclass": {
            "parameters": [_LIST, _TARGET],
            "put": _op(
                "set your BADCLASS of a target (0–8, or null to clear)",
                _json("the target", {"type": "object"}),
                body={
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "badclass": {
                                    "type": ["integer", "null"],
                                    "minimum": 0,
                                    "maximum": 8,
                                }
                            },
                        }
                    }
                },
            ),
        },
        "/hectornb/api/targets/lists/{name}/targets/{target}/history": {
            "parameters": [_LIST, _TARGET],
            "get": _op(
                "every classification of a target: who, when, what",
                _json("history", {"type": "object"}),
            ),
        },
        "/hectornb/api/targets/lists/{name}/undo": {
            "parameters": [_LIST],
            "post": _op(
                "undo your last classification in the list",
                _json("what was undone", {"type": "object"}),
            ),
        },
        "/hectornb/api/targets/lists/{name}/locate": {
            "parameters": [_LIST],
            "get": _op(
                "where a target is among the filtered targets (its index from 0)",
                _json("the index", {"type": "object"}),
                params=(
                    _q("target", "the target's name", required=True),
                    _q("badclass", "all, unclassified, gt0 or 0–8"),
                    _q("name", "name filter"),
                    _q("regex", "the name filter is a regular expression", {"type": "boolean"}),
                ),
            ),
        },
        "/hectornb/api/targets/lists/{name}/progress": {
            "parameters": [_LIST],
            "get": _op(
                "your progress through the list and the target you classified last",
                _json("progress", {"type": "object"}),
            ),
        },
        "/hectornb/api/targets/lists/{name}/export.csv": {
            "parameters": [_LIST],
            "get": _op(
                "the list with its classifications as CSV",
                {"description": "CSV", "content": {"text/csv": {}}},
                params=(_q("per_user", "one column per classifier", {"type": "boolean"}),),
            ),
        },
        "/hectornb/api/reduce/frames": {
            "get": _op(
                "raw frames of the archive you may reduce",
                _json("frames", "Frames"),
                params=frames_filters,
            ),
        },
        "/hectornb/api/reduce/frames/download": {
            "get": _op(
                "raw frames as a zip",
                _ZIP,
                params=(_q("path", "a frame's path; repeat for several", required=True),),
            ),
        },
        "/hectornb/api/reduce/options": {
            "get": _op(
                "the reduction options (2dFdr names), their defaults and the form's short names",
                _json("options", {"type": "object"}),
                errors=(403,),
            ),
        },
        "/hectornb/api/reduce/engines": {
            "get": _op(
                "the engines this platform can run now (NAME[@VERSION], the default first),"
                " as a request's engine names them, and why those it has none of cannot run"
                " (unavailable: name to reason)",
                _json("engines", {"type": "object"}),
                errors=(403,),
            ),
        },
        "/hectornb/api/reduce/jobs": {
            "get": _op(
                "your reduction requests",
                _json(
                    "requests",
                    {
                        "type": "object",
                        "properties": {
                            "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}
                        },
                    },
                ),
                params=(_q("days", "of the last days (default 7)", {"type": "number"}),),
            ),
            "post": _op(
                'submit a reduction request ("Make it so!")',
                _json("the request", "Job"),
                body={"application/json": {"schema": {"$ref": "#/components/schemas/Submit"}}},
                status="201",
            ),
        },
        "/hectornb/api/reduce/jobs/{job_id}": {
            "parameters": [_JOB_ID],
            "get": _op(
                "a request's status, plan (calibrations chosen) and steps",
                _json("the request", "Job"),
            ),
        },
        "/hectornb/api/reduce/jobs/{job_id}/events": {
            "parameters": [_JOB_ID],
            "get": _op(
                "a request's events (progress), after a given one",
                _json("events", {"type": "object"}),
                params=(_q("after", "the last event seen", {"type": "integer"}),),
            ),
        },
        "/hectornb/api/reduce/jobs/{job_id}/cancel": {
            "parameters": [_JOB_ID],
            "post": _op("stop a request", _json("the request", "Job")),
        },
        "/hectornb/api/reduce/jobs/{job_id}/download": {
            "parameters": [_JOB_ID],
            "get": _op(
                "a finished request's files with the log of every command",
                _ZIP,
                params=(
                    _q(
                        "what",
                        "reduced, raw (reduced and raw) or all",
                        {"enum": ["reduced", "raw", "all"]},
                    ),
                ),
                errors=(403, 404, 409, 422),
            ),
        },
        "/hectornb/api/reduce/jobs/{job_id}/products": {
            "parameters": [_JOB_ID],
            "get": _op(
                "the request's products (object frames, combined, spliced): name and size",
                _json("products", {"type": "object"}),
                errors=(403, 404),
            ),
        },
        "/hectornb/api/reduce/jobs/{job_id}/products/{name}": {
            "parameters": [_JOB_ID, _p("name", "a product's name, as the list gives it")],
            "get": _op(
                "one product, a 2dfdr-format FITS file",
                {"description": "FITS", "content": {"application/fits": {}}},
                errors=(403, 404),
            ),
        },
        "/hectornb/api/reduce/frames/fibres": {
            "get": _op(
                "a raw frame's fibre table (the archive grid's VIEW)",
                _json("rows", {"type": "object"}),
                params=(
                    _q("path", "the frame's path in the archive", required=True),
                    _q("targets", "only the programme fibres", {"type": "boolean"}),
                ),
                errors=(403, 404, 422),
            ),
        },
    }
    from .obslog_api import openapi_parts

    obslog_paths, obslog_schemas = openapi_parts()
    paths.update(obslog_paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hectornb REST API",
            "version": __version__,
            "description": "Target lists and classifications (Classify), reductions "
            "(Reduce, Pipeline as a Web Service) and the observing log "
            "(Obslog). The acting user is the one the server "
            "authenticated.",
        },
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`token <the server's token>`, or "
                    "`token hnb_…`: an API token made "
                    "with POST /hectornb/api/tokens",
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "errors": {
                            "type": "array",
                            "description": "Obslog: every bad field",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "field": {"type": "string"},
                                    "reason": {"type": "string"},
                                },
                            },
                        },
                    },
                    "required": ["error"],
                },
                **obslog_schemas,
                "Frames": {
                    "type": "object",
                    "properties": {
                        "frames": {"type": "array", "items": {"type": "object"}},
                        "n": {"type": "integer"},
                    },
                },
                "Submit": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "frames": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "object frames: paths or file names",
                        },
                        "night_from": {"type": "string"},
                        "night_to": {"type": "string"},
                        "options": {
                            "type": "object",
                            "description": "2dFdr option names or the "
                            "form's (BIAS, DARK, COSMIC, SKYSCR, PCASKY, TELCOR, RWSS)",
                        },
                        "engine": {
                            "type": "string",
                            "description": "NAME or NAME@VERSION: "
                            + ", ".join(e.form for e in ENGINES.values()),
                        },
                        "email": {"type": "string", "format": "email"},
                    },
                },
                "Job": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "status": {
                            "enum": [
                                "queued",
                                "running",
                                "done",
                                "partial",
                                "failed",
                                "cancelling",
                                "cancelled",
                            ]
                        },
                        "steps_done": {
                            "type": "integer",
                            "description": "steps that ended, done, failed or skipped (each"
                            " step's own status is in `steps`)",
                        },
                        "steps_total": {"type": "integer"},
                        "n_frames": {"type": "integer"},
                        "options": {"type": "object"},
                        "message": {"type": "string"},
                        "links": {"type": "object"},
                    },
                },
            },
        },
    }
