"""The Obslog REST API under ``/hectornb/api/obslog/``: the collections (targets, stars,
tiles, runs, logs), each listed with filters, read, created, edited as a new version,
deleted softly and restored, with the history of every record.

Errors are JSON: 422 names every bad field with its reason
(``{"error", "errors": [{"field", "reason"}]}``), 409 a write that raced another (send the
version you edited as ``If-Match``) or a duplicate id, 403 a write by someone who is not an
observer, 404 an unknown record.
"""

from __future__ import annotations

import datetime as dt

from tornado import web

from ..obslog import COLLECTIONS, ObslogStore
from .handlers import HectornbAPIHandler, nul_in


class _ObslogHandler(HectornbAPIHandler):
    def query(self) -> dict[str, list[str]]:
        """The query arguments as the store's filters (the server's token left out)."""
        query = {
            k: [v.decode("utf-8", "replace") for v in vs]
            for k, vs in self.request.query_arguments.items()
            if k != "token"
        }
        where = nul_in(query)
        if where is not None:
            raise web.HTTPError(422, f"{where.split('[')[0]}: a NUL character is no filter")
        return query

    def expected_version(self) -> int | None:
        """The version an edit is based on, from ``If-Match`` (``"3"`` or ``3``)."""
        raw = self.request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/")
        if not raw:
            return None
        try:
            return int(raw.strip('"'))
        except ValueError:
            self._payload = {
                "error": "If-Match must be the record's version number",
                "errors": [{"field": "If-Match", "reason": "not a version"}],
            }
            raise web.HTTPError(422) from None


class CollectionsHandler(_ObslogHandler):
    @web.authenticated
    async def get(self):
        observer = await self.run(ObslogStore().is_observer, self.user)
        self.write_json(
            {
                "observer": observer,
                "collections": [
                    {
                        "name": c.name,
                        "key": c.key,
                        "description": c.description,
                        "fields": [
                            {
                                "name": f.name,
                                "kind": f.kind,
                                "unit": f.unit,
                                "description": f.description,
                                "required": f.required,
                                "choices": list(f.choices),
                                "filter": f.search,
                            }
                            for f in c.fields
                        ],
                    }
                    for c in COLLECTIONS.values()
                ],
            }
        )


class RecordsHandler(_ObslogHandler):
    @web.authenticated
    async def get(self, name: str):
        self.write_json(await self.run(ObslogStore().list, name, self.query()))

    @web.authenticated
    async def post(self, name: str):
        record = await self.run(ObslogStore().create, name, self.json_body(), self.user)
        self.set_header("ETag", f'"{record["version"]}"')
        self.write_json(record, status=201)


class RecordHandler(_ObslogHandler):
    @web.authenticated
    async def get(self, name: str, record_id: str):
        version = self.get_query_argument("version", "")
        if version and not version.isdigit():
            raise web.HTTPError(422, "version must be a whole number")
        record = await self.run(
            ObslogStore().get, name, record_id, int(version) if version else None
        )
        self.set_header("ETag", f'"{record["version"]}"')
        self.write_json(record)

    @web.authenticated
    async def patch(self, name: str, record_id: str):
        record = await self.run(
            ObslogStore().update,
            name,
            record_id,
            self.json_body(),
            self.user,
            self.expected_version(),
        )
        self.set_header("ETag", f'"{record["version"]}"')
        self.write_json(record)

    @web.authenticated
    async def delete(self, name: str, record_id: str):
        record = await self.run(
            ObslogStore().delete, name, record_id, self.user, self.expected_version()
        )
        self.write_json(record)


class RestoreHandler(_ObslogHandler):
    @web.authenticated
    async def post(self, name: str, record_id: str):
        record = await self.run(
            ObslogStore().restore, name, record_id, self.user, self.expected_version()
        )
        self.write_json(record)


class HistoryHandler(_ObslogHandler):
    @web.authenticated
    async def get(self, name: str, record_id: str):
        self.write_json({"history": await self.run(ObslogStore().history, name, record_id)})


class RelatedHandler(_ObslogHandler):
    @web.authenticated
    async def get(self, name: str, record_id: str):
        self.write_json(await self.run(ObslogStore().related, name, record_id))


class ExportHandler(_ObslogHandler):
    @web.authenticated
    async def get(self, name: str):
        text = await self.run(ObslogStore().export_csv, name, self.query())
        self.set_header("Content-Disposition", f'attachment; filename="{name}.csv"')
        self.finish(text, set_content_type="text/csv; charset=utf-8")


class ReportHandler(_ObslogHandler):
    @web.authenticated
    async def get(self, night: str):
        import tempfile
        from pathlib import Path

        from ..obslog.report import night_report

        try:
            dt.date.fromisoformat(night)
        except ValueError:
            raise web.HTTPError(422, f"the night is a date YYYY-MM-DD, not {night!r}") from None
        with tempfile.TemporaryDirectory(prefix="hnb-report-") as tmp:
            path = await self.run(night_report, night, Path(tmp) / f"night-{night}.pdf")
            data = path.read_bytes()
        self.set_header("Content-Disposition", f'attachment; filename="night-{night}.pdf"')
        self.finish(data, set_content_type="application/pdf")


def obslog_handlers(u) -> list[tuple]:
    names = "(" + "|".join(COLLECTIONS) + ")"
    record = r"([^/]+)"
    return [
        (u("hectornb/api/obslog/?"), CollectionsHandler),
        (u(r"hectornb/api/obslog/reports/([^/]+)\.pdf"), ReportHandler),
        (u(f"hectornb/api/obslog/{names}/?"), RecordsHandler),
        (u(f"hectornb/api/obslog/{names}\\.csv"), ExportHandler),
        (u(f"hectornb/api/obslog/{names}/{record}"), RecordHandler),
        (u(f"hectornb/api/obslog/{names}/{record}/restore"), RestoreHandler),
        (u(f"hectornb/api/obslog/{names}/{record}/history"), HistoryHandler),
        (u(f"hectornb/api/obslog/{names}/{record}/related"), RelatedHandler),
    ]


_JSON_TYPES = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "text": {"type": "string"},
    "date": {"type": "string", "format": "date"},
    "time": {"type": "string", "format": "date-time"},
    "bool": {"type": "boolean"},
    "texts": {"type": "array", "items": {"type": "string"}},
    "json": {},
}


def openapi_parts() -> tuple[dict, dict]:
    """(paths, schemas) of the Obslog API for the OpenAPI document, from the collections."""
    err = {
        "description": 'JSON error: {"error", "errors": [{"field", "reason"}]}',
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    paths, schemas = {}, {}
    paths["/hectornb/api/obslog/"] = {
        "get": {
            "summary": "the collections and their fields; whether you are an observer",
            "responses": {"200": {"description": "collections"}, "403": err},
        }
    }
    paths["/hectornb/api/obslog/reports/{night}.pdf"] = {
        "get": {
            "summary": "the night report: every log entry of a night, totals, seeing (PDF)",
            "parameters": [
                {
                    "name": "night",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "date"},
                }
            ],
            "responses": {
                "200": {"description": "PDF", "content": {"application/pdf": {}}},
                "403": err,
                "422": err,
            },
        }
    }
    for c in COLLECTIONS.values():
        title = c.name.capitalize()[:-1]
        props = {}
        for f in c.fields:
            schema = dict(_JSON_TYPES[f.kind]) if f.kind != "choice" else {"enum": list(f.choices)}
            schema["description"] = f.description + (f" ({f.unit})" if f.unit else "")
            props[f.name] = schema
        schemas[title] = {
            "type": "object",
            "properties": props,
            "required": [f.name for f in c.fields if f.required],
        }
        one = {
            "description": title,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{title}"}}},
        }
        filters = []
        for f in c.fields:
            if f.search == "range":
                filters += [
                    {
                        "name": f"min_{f.name}",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": f"{f.description}, at least",
                    },
                    {
                        "name": f"max_{f.name}",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": f"{f.description}, at most",
                    },
                ]
            elif f.search in ("exact", "tags"):
                filters.append(
                    {
                        "name": f.name,
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": f"{f.description}: any of (repeat)",
                    }
                )
        filters += [
            {"name": n, "in": "query", "schema": {"type": "string"}, "description": d}
            for n, d in (
                ("q", "text search"),
                ("deleted", "false, true or any"),
                ("order_by", "field, - for descending (repeat)"),
                ("offset", "paging"),
                ("limit", "paging, at most 1000"),
            )
        ]
        base = f"/hectornb/api/obslog/{c.name}"
        rid = {
            "name": "record_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": f"the {c.key}",
        }
        match = {
            "name": "If-Match",
            "in": "header",
            "schema": {"type": "string"},
            "description": "the version edited: a write that raced another is a 409",
        }
        errs = {"403": err, "404": err, "409": err, "422": err}
        paths[f"{base}/"] = {
            "get": {
                "summary": f"list {c.name} with filters",
                "parameters": filters,
                "responses": {"200": {"description": "a page of records"}, **errs},
            },
            "post": {
                "summary": f"add {c.description.split(':')[0]} (observers)",
                "requestBody": {"required": True, "content": one["content"]},
                "responses": {"201": one, **errs},
            },
        }
        paths[f"{base}/{{record_id}}"] = {
            "parameters": [rid],
            "get": {
                "summary": "the current version (or ?version=N)",
                "responses": {"200": one, **errs},
            },
            "patch": {
                "summary": "edit: the changes become a new version (observers)",
                "parameters": [match],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {"200": one, **errs},
            },
            "delete": {
                "summary": "delete softly: a new version marked deleted (observers)",
                "parameters": [match],
                "responses": {"200": one, **errs},
            },
        }
        paths[f"{base}/{{record_id}}/restore"] = {
            "parameters": [rid],
            "post": {
                "summary": "undo a delete (observers)",
                "parameters": [match],
                "responses": {"200": one, **errs},
            },
        }
        paths[f"{base}/{{record_id}}/history"] = {
            "parameters": [rid],
            "get": {
                "summary": "every version: who, when, what changed",
                "responses": {"200": {"description": "versions"}, **errs},
            },
        }
        paths[f"{base}/{{record_id}}/related"] = {
            "parameters": [rid],
            "get": {
                "summary": "linked records: a tile's bundles, logs and runs; a run's nights, "
                "tiles and targets; a target's or star's tiles and logs",
                "responses": {"200": {"description": "linked records"}, **errs},
            },
        }
        paths[f"{base}.csv"] = {
            "get": {
                "summary": f"{c.name} as CSV (the list's filters, every page)",
                "parameters": filters,
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, **errs},
            }
        }
    return paths, schemas
