"""The page-request socket of ``hectornb serve`` (``voila/query/<kernel_id>``), over which a
preheated kernel learns the address of the page that took it: only the server's own kernels
may listen, one per kernel, and the page's token is never passed on."""

from __future__ import annotations

import json
import uuid

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from hectornb.server.page_request import without_token


def _socket(platform, kernel_id: str, key: str | None):
    url = platform["base"].replace("http://", "ws://") + f"/voila/query/{kernel_id}"
    return connect(url + (f"?key={key}" if key is not None else ""), open_timeout=10)


@pytest.mark.parametrize("key", [None, "", "not-the-key"])
def test_no_one_without_the_servers_key_may_listen_for_a_page(platform, key):
    with (
        _socket(platform, str(uuid.uuid4()), key) as socket,
        pytest.raises(ConnectionClosed) as closed,
    ):
        socket.recv(timeout=10)
    assert closed.value.rcvd.code == 4003


def test_one_listener_per_kernel(platform):
    kernel = str(uuid.uuid4())
    key = platform["page_request_key"]
    with _socket(platform, kernel, key) as first:
        with _socket(platform, kernel, key) as second, pytest.raises(ConnectionClosed) as closed:
            second.recv(timeout=10)
        assert closed.value.rcvd.code == 4003
        with pytest.raises(TimeoutError):  # the first still listens, with nothing to hear
            first.recv(timeout=1)


def test_the_page_token_is_never_passed_on():
    info = {"QUERY_STRING": "token=s3cret&job=abc&fibre=3&product=", "SERVER_PORT": "1"}
    passed = json.loads(without_token(json.dumps(info)))
    assert passed == {"QUERY_STRING": "job=abc&fibre=3&product=", "SERVER_PORT": "1"}
