"""The target store of a client of the data centre's service: the same contract as
`PostgresTargetStore`, kept by the service and reached through its REST API.

`hectornb.targets.target_store` gives this store wherever ``HECTORNB_SERVICE_URL`` is set, so
the Classify app and the ``hectornb targets`` commands in a user's own server work as they do
on a laptop, and hold no secret. The service knows the caller from the token alone: a
``user`` argument that names anyone else is refused here, and could not work there.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from ..client import ServiceBacked
from ..errors import Invalid
from .model import ImportResult, ListInfo, Page, TargetFilter
from .parse import TargetList


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _filter_params(flt: TargetFilter | None) -> dict:
    flt = flt or TargetFilter()
    return {
        "badclass": str(flt.badclass),
        "name": flt.name,
        "regex": "true" if flt.regex else "false",
    }


class RemoteTargetStore(ServiceBacked):
    """Target lists and classifications held by the hectornb service.

    Parameters
    ----------
    client : hectornb.client.ServiceClient, optional
        The service and the caller's token; by default from the environment.
    """

    def _list(self, name: str) -> str:
        return f"targets/lists/{quote(name, safe='')}"

    # ---- lists ----------------------------------------------------------------------------

    def import_list(
        self, targets: TargetList, name: str, owner: str, overwrite: bool = False
    ) -> ImportResult:
        self._as(owner)
        if targets.source is None:
            raise Invalid("this target list has no source text to send to the service")
        out = self.client.import_list(targets.source, targets.filename, name, overwrite)
        return ImportResult(
            out["name"],
            out["n_targets"],
            out["replaced"],
            out.get("kept", 0),
            out.get("dropped", 0),
        )

    def lists(self) -> list[ListInfo]:
        return [
            ListInfo(
                i["name"],
                i["owner"],
                i["n_targets"],
                i["n_classified"],
                _when(i["created_at"]),
                _when(i.get("replaced_at")),
                i.get("source_filename"),
            )
            for i in self.client.lists()
        ]

    def delete_list(self, name: str, user: str) -> None:
        self._as(user)
        self.client.request("DELETE", self._list(name))

    # ---- pages and targets ----------------------------------------------------------------

    def page(
        self, name: str, flt: TargetFilter | None = None, offset: int = 0, limit: int = 200
    ) -> Page:
        out = self.client.get(
            f"{self._list(name)}/targets", offset=offset, limit=limit, **_filter_params(flt)
        )
        return Page(out["total"], out["offset"], out["targets"])

    def locate(self, name: str, target: str, flt: TargetFilter | None = None) -> int:
        out = self.client.get(f"{self._list(name)}/locate", target=target, **_filter_params(flt))
        return out["index"]

    # ---- classifying ----------------------------------------------------------------------

    def classify(self, name: str, target: str, value: int | None, user: str) -> dict:
        self._as(user)
        response = self.client.request(
            "PUT",
            f"{self._list(name)}/targets/{quote(target, safe='')}/badclass",
            json={"badclass": value},
        )
        return response.json()

    def undo(self, name: str, user: str) -> dict | None:
        self._as(user)
        return self.client.post(f"{self._list(name)}/undo")["undone"]

    def progress(self, name: str, user: str) -> tuple[int, int]:
        self._as(user)
        out = self.client.get(f"{self._list(name)}/progress")
        return out["done"], out["total"]

    def last_classified(self, name: str, user: str) -> str | None:
        self._as(user)
        return self.client.get(f"{self._list(name)}/progress")["last_classified"]

    def history(self, name: str, target: str) -> list[dict]:
        return self.client.get(f"{self._list(name)}/targets/{quote(target, safe='')}/history")[
            "history"
        ]

    def export_csv(self, name: str, per_user: bool = False) -> str:
        """The list as CSV, written by the service (see `hectornb.targets.export_csv`)."""
        return self.client.export_csv(name, per_user)
