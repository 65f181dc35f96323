"""A client of the data centre's hectornb service, for notebooks and scripts.

At a data centre one trusted JupyterHub service holds the database and the data; a user's
own server and kernels hold no secret and reach the service with the user's own Hub token
(``JUPYTERHUB_API_TOKEN``, which JupyterHub puts in every user server), or a script with an
``hnb_`` token of the platform. The service decides who the caller is from that token alone.

>>> from hectornb.client import ServiceClient
>>> hub = ServiceClient()                      # HECTORNB_SERVICE_URL and the Hub token
>>> hub.user                                   # doctest: +SKIP
'alice'
>>> hub.lists()                                # the target lists, as the Classify app shows
>>> hub.tap().run_sync("SELECT TOP 5 * FROM gaia.dr3_bright").to_table()   # pyvo

Errors come back as the platform's own: `hectornb.errors.NotFound` (HTTP 404),
`~hectornb.errors.Forbidden` (401, 403), `~hectornb.errors.Conflict` (409) and
`~hectornb.errors.Invalid` (other 4xx, with the bad fields in ``errors``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import requests

from . import errors
from .config import get_settings

#: The platform's REST API under the service's URL.
API = "hectornb/api"


class ServiceUnavailable(errors.Invalid):
    """The service did not answer, or answered with a server error (HTTP 5xx)."""


def _error(response: requests.Response) -> Exception:
    try:
        body = response.json()
        message = body.get("error") or response.reason
    except ValueError:
        body, message = {}, response.text.strip()[:300] or response.reason
    status = response.status_code
    kind = {
        404: errors.NotFound,
        401: errors.Forbidden,
        403: errors.Forbidden,
        409: errors.Conflict,
    }.get(status)
    if kind is None:
        kind = ServiceUnavailable if status >= 500 else errors.Invalid
    exc = kind(f"{message} (HTTP {status})")
    if isinstance(exc, errors.Invalid) and body.get("errors"):
        exc.errors = body["errors"]
    return exc


class ServiceClient:
    """The hectornb service's REST API, as the signed-in user.

    Parameters
    ----------
    url : str, optional
        The service's address, e.g. ``https://hub.example.org/services/hectornb``; default
        ``HECTORNB_SERVICE_URL``.
    token : str, optional
        A JupyterHub token with access to the service, or an ``hnb_`` API token; default
        ``HECTORNB_TOKEN``, else ``JUPYTERHUB_API_TOKEN``.
    timeout : float
        Seconds to wait for an answer to one request.
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float = 60.0
    ) -> None:
        url = url or get_settings().service_url
        if not url:
            raise errors.Invalid(
                "no hectornb service to talk to: give its URL, or set HECTORNB_SERVICE_URL"
            )
        token = token or os.environ.get("HECTORNB_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN")
        if not token:
            raise errors.Forbidden(
                "no token: give one, or set HECTORNB_TOKEN (JupyterHub sets "
                "JUPYTERHUB_API_TOKEN in every user server)"
            )
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self._info: dict | None = None

    def __repr__(self) -> str:
        return f"ServiceClient({self.url!r})"

    # ---- plumbing -------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """One call to the API (``path`` below ``hectornb/api/``); errors raised as above."""
        url = f"{self.url}/{API}/{path.lstrip('/')}"
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"the hectornb service at {self.url}: {exc}") from None
        if response.status_code >= 300:
            raise _error(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=_drop_none(params)).json()

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        response = self.request("POST", path, json=body, params=_drop_none(params))
        return response.json() if response.content else None

    # ---- who ------------------------------------------------------------------------------

    def info(self) -> dict:
        """The service's version, the caller's user name and the BADCLASS scheme."""
        if self._info is None:
            self._info = self.get("")
        return self._info

    @property
    def user(self) -> str:
        """The user the service knows this client as."""
        return self.info()["user"]

    # ---- target lists (the Classify app) ---------------------------------------------------

    def lists(self) -> list[dict]:
        return self.get("targets/lists")["lists"]

    def import_list(
        self, text: str | bytes, filename: str, name: str | None = None, overwrite: bool = False
    ) -> dict:
        """Send a target file (its text) for the service to validate and store."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        response = self.request(
            "POST",
            "targets/lists",
            data=data,
            params=_drop_none(
                {"filename": filename, "name": name, "overwrite": "true" if overwrite else None}
            ),
        )
        return response.json()

    def import_file(
        self, path: str | Path, name: str | None = None, overwrite: bool = False
    ) -> dict:
        path = Path(path)
        return self.import_list(path.read_bytes(), path.name, name, overwrite)

    def export_csv(self, name: str, per_user: bool = False) -> str:
        response = self.request(
            "GET",
            f"targets/lists/{_seg(name)}/export.csv",
            params={"per_user": "true" if per_user else "false"},
        )
        return response.content.decode("utf-8")

    # ---- reductions (the Reduce app) -------------------------------------------------------

    def reduce_jobs(self, days: float = 7) -> list[dict]:
        """The caller's reduction requests of the last ``days`` days, newest first."""
        return self.get("reduce/jobs", days=days)["jobs"]

    def reduce(
        self,
        frames: list[str] | None = None,
        night_from: str | None = None,
        night_to: str | None = None,
        options: dict | None = None,
        engine: str = "builtin",
    ) -> dict:
        """Submit a reduction request (frames by name, or the nights YYMMDD to YYMMDD)."""
        body = {
            "frames": frames,
            "night_from": night_from,
            "night_to": night_to,
            "options": options or {},
            "engine": engine,
        }
        return self.post("reduce/jobs", _drop_none(body))

    def reduce_job(self, job_id: str) -> dict:
        """A request with its plan and steps."""
        return self.get(f"reduce/jobs/{_seg(job_id)}")

    def download(self, job_id: str, dest: str | Path, what: str = "reduced") -> Path:
        """A finished request's products (``what``: reduced, all, logs...) as a zip file."""
        dest = Path(dest)
        response = self.request(
            "GET", f"reduce/jobs/{_seg(job_id)}/download", params={"what": what}, stream=True
        )
        with response, open(dest, "wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
        return dest

    # ---- TAP ----------------------------------------------------------------------------------

    def tap(self):
        """The service's TAP endpoint as a `pyvo.dal.TAPService`, signed in as the caller."""
        import pyvo

        return pyvo.dal.TAPService(f"{self.url}/hectornb/tap", session=self.session)


class ServiceBacked:
    """Base of what keeps its data at the service (the remote target store, observing log and
    Reduce session): one client, and no acting as anyone but the caller."""

    def __init__(self, client: ServiceClient | None = None) -> None:
        self.client = client or ServiceClient()

    def _as(self, user: str) -> None:
        me = self.client.user
        if user != me:
            raise errors.Forbidden(
                f"the hectornb service knows you as {me}; you cannot act as {user}"
            )


def _seg(value: str) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")


def _drop_none(params: dict) -> dict:
    return {k: v for k, v in params.items() if v is not None}
