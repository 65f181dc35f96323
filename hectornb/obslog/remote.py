"""The observing log of a client of the data centre's service: `ObslogStore`'s contract,
kept by the service and reached through its REST API (``/hectornb/api/obslog/``).

`hectornb.obslog.obslog_store` gives this store wherever ``HECTORNB_SERVICE_URL`` is set, so
the Obslog app in a user's own server works as on a laptop. The service decides who the
caller is, and whether they are an observer, from the token alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

from ..client import ServiceBacked
from ..errors import Conflict, Invalid
from .schema import FieldErrors


def _params(query: Mapping[str, Sequence[str]] | None) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, values in (query or {}).items() for v in values]


class RemoteObslogStore(ServiceBacked):
    """Targets, stars, tiles, runs and the night log, held by the hectornb service."""

    def _call(self, method: str, path: str, **kwargs):
        try:
            return self.client.request(method, f"obslog/{path}", **kwargs).json()
        except Conflict:
            raise
        except Invalid as exc:  # the service named the bad fields: the grid outlines them
            if getattr(exc, "errors", None):
                raise FieldErrors(list(exc.errors)) from None
            raise

    @staticmethod
    def _record(name: str, record_id: str) -> str:
        return f"{name}/{quote(str(record_id), safe='')}"

    @staticmethod
    def _if_match(version: int | None) -> dict:
        return {} if version is None else {"If-Match": f'"{version}"'}

    def is_observer(self, user: str) -> bool:
        self._as(user)
        return bool(self.client.get("obslog")["observer"])

    def get(self, name: str, record_id: str, version: int | None = None) -> dict:
        params = {} if version is None else {"version": version}
        return self._call("GET", self._record(name, record_id), params=params)

    def history(self, name: str, record_id: str) -> list[dict]:
        return self._call("GET", self._record(name, record_id) + "/history")["history"]

    def list(self, name: str, query: Mapping[str, Sequence[str]] | None = None) -> dict:
        return self._call("GET", name, params=_params(query))

    def export_csv(self, name: str, query: Mapping[str, Sequence[str]] | None = None) -> str:
        response = self.client.request("GET", f"obslog/{name}.csv", params=_params(query))
        return response.content.decode("utf-8")

    def related(self, name: str, record_id: str) -> dict:
        return self._call("GET", self._record(name, record_id) + "/related")

    def create(self, name: str, data: dict, user: str) -> dict:
        self._as(user)
        return self._call("POST", name, json=data)

    def update(
        self,
        name: str,
        record_id: str,
        changes: dict,
        user: str,
        expected_version: int | None = None,
    ) -> dict:
        self._as(user)
        return self._call(
            "PATCH",
            self._record(name, record_id),
            json=changes,
            headers=self._if_match(expected_version),
        )

    def delete(
        self, name: str, record_id: str, user: str, expected_version: int | None = None
    ) -> dict:
        self._as(user)
        return self._call(
            "DELETE", self._record(name, record_id), headers=self._if_match(expected_version)
        )

    def restore(
        self, name: str, record_id: str, user: str, expected_version: int | None = None
    ) -> dict:
        self._as(user)
        return self._call(
            "POST",
            self._record(name, record_id) + "/restore",
            headers=self._if_match(expected_version),
        )
