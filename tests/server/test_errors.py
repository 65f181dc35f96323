"""One error root: the platform's errors carry their HTTP status, and the API and the
command line tell them from the platform's own faults."""

from __future__ import annotations

import argparse
import asyncio

import pytest
from tornado import web

from hectornb import cli, errors
from hectornb.db import DatabaseUnavailable
from hectornb.reduce.builtin.wavelength import ArcError
from hectornb.reduce.options import OptionError
from hectornb.server.handlers import StoreCalls
from hectornb.tap.adql import ADQLError
from hectornb.tap.client import RemoteTap
from hectornb.tap.service import TapError
from hectornb.tap.uws import JobNotFound, JobStateError
from hectornb.targets import TargetListError
from hectornb.targets.model import TargetStoreError


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotFound, 404),
        (JobNotFound, 404),
        (errors.Forbidden, 403),
        (errors.Invalid, 422),
        (TargetStoreError, 422),
        (TargetListError, 422),
        (OptionError, 422),
        (ArcError, 422),
        (TapError, 422),
        (ADQLError, 422),
        (JobStateError, 422),
        (errors.Conflict, 409),
        (DatabaseUnavailable, 503),
        (errors.RemoteFailure, 502),
    ],
)
def test_every_error_the_platform_raises_has_one_root_and_its_status(error, status):
    assert issubclass(error, errors.HectornbError) and error.status == status


def _answer(exc: Exception):
    async def call():
        def fail():
            raise exc

        return await StoreCalls().run(fail)

    return asyncio.run(call())


def test_the_api_answers_the_platforms_errors_with_their_status():
    with pytest.raises(web.HTTPError) as raised:
        _answer(JobNotFound("no job 42"))
    assert raised.value.status_code == 404 and raised.value.log_message == "no job 42"
    with pytest.raises(web.HTTPError) as raised:
        _answer(DatabaseUnavailable("the database is restarting"))
    assert raised.value.status_code == 503


def test_a_bug_is_not_answered_as_bad_input():
    """A plain ValueError is the platform's fault: it reaches tornado (a logged 500), not
    the user as a 422 that blames their request."""
    with pytest.raises(ValueError, match="a bug") as raised:
        _answer(ValueError("a bug"))
    assert not isinstance(raised.value, web.HTTPError)


def test_the_command_line_says_the_platforms_errors_and_lets_bugs_show(monkeypatch, capsys):
    def parser_with(func):
        parser = argparse.ArgumentParser()
        parser.set_defaults(func=func)
        return parser

    def refused(_args):
        raise errors.Forbidden("only its owner deletes a list")

    monkeypatch.setattr(cli, "build_parser", lambda: parser_with(refused))
    assert cli.main([]) == 1
    assert "error: only its owner deletes a list" in capsys.readouterr().err

    def broken(_args):
        raise KeyError("bug")

    monkeypatch.setattr(cli, "build_parser", lambda: parser_with(broken))
    with pytest.raises(KeyError):  # its traceback shows, as a fault should
        cli.main([])


def test_a_remote_services_failure_is_said_as_one_naming_the_service():
    remote = RemoteTap("http://127.0.0.1:9/tap", name="a TAP service at port 9")
    with pytest.raises(errors.RemoteFailure, match="a TAP service at port 9: ") as raised:
        remote.run("SELECT 1")  # nothing listens on port 9: refused at once
    assert raised.value.status == 502
    with pytest.raises(errors.NotFound, match="no job abc"):
        remote.job_result("abc")
