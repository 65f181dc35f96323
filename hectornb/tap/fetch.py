"""Fetch a table a TAP caller names by URL, without letting the caller reach inside.

A service that fetches any URL it is given works as a proxy into its own network: loopback
ports, the database host, cloud metadata addresses. So every hop (the URL and each
redirect) is resolved first, and refused unless all its addresses are public, or its host
is on the data centre's allow-list (``HECTORNB_TAP_UPLOAD_HOSTS``: host names and networks
such as ``archive.example.org,10.2.0.0/16``; when set, *only* those are fetched). The
connection then goes to the address that was checked, so a second DNS answer cannot swap
it. A refused address gets the same answer whether or not anything listens there.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.parse

from .service import TapError

MAX_REDIRECTS = 5


def _allowed(host: str, address: str, allow: tuple[str, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    if not allow:
        return ip.is_global and not ip.is_multicast
    for entry in allow:
        if entry.lower() == host.lower():
            return True
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _resolve(host: str, port: int, allow: tuple[str, ...], label: str) -> str:
    """The address to connect to, after checking every address ``host`` has."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TapError(f"{label}: cannot resolve host {host!r}") from None
    addresses = [i[4][0] for i in infos]
    if not addresses or not all(_allowed(host, a, allow) for a in addresses):
        why = (
            "it is not on this service's list of upload hosts"
            if allow
            else "it is not a public address"
        )
        raise TapError(f"{label}: the service does not connect to {host} ({why})")
    return addresses[0]


class _Pinned(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _checked(url: str, allow: tuple[str, ...], label: str):
    """(URL parts, port, the address to connect to) for an http(s) URL whose host passes."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TapError(f"{label}: only http(s) URLs can be used")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TapError(f"{label}: bad port in {url!r}") from None
    return parts, port, _resolve(parts.hostname, port, allow, label)


def check_url(url: str, allow: tuple[str, ...] = ()) -> None:
    """Refuse ``url`` unless its host is public or allowed, as for a fetch (for a URL another
    library will open, such as a remote TAP service the service's own app is asked to use)."""
    _checked(url, allow, url)


def fetch(url: str, limit: int, allow: tuple[str, ...] = (), timeout: float = 30) -> bytes:
    """The bytes at ``url`` (http or https), at most ``limit`` of them; redirects followed
    (up to 5), each hop checked against ``allow`` as the module says."""
    shown = url
    for _ in range(MAX_REDIRECTS + 1):
        parts, port, address = _checked(url, allow, f"UPLOAD {shown}")
        kind = _PinnedTLS if parts.scheme == "https" else _Pinned
        conn = kind(parts.hostname, port, address, timeout)
        try:
            path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            conn.request("GET", path, headers={"User-Agent": "hectornb-tap"})
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise TapError(f"UPLOAD {shown}: a redirect with no Location")
                url = urllib.parse.urljoin(url, location)
                continue
            if response.status != 200:
                raise TapError(
                    f"UPLOAD {shown}: the server answered {response.status} {response.reason}"
                )
            data = response.read(limit + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise TapError(f"UPLOAD {shown}: cannot fetch it ({exc})") from None
        finally:
            conn.close()
        if len(data) > limit:
            raise TapError(f"UPLOAD {shown}: larger than the upload limit of {limit} bytes")
        return data
    raise TapError(f"UPLOAD {shown}: more than {MAX_REDIRECTS} redirects")
