"""The client side of a data-centre deployment, against a real platform server over HTTP:
`hectornb.client.ServiceClient` and the stores the apps use in a user's own server there
(target lists, the observing log, the Reduce service). The whole deployment under a real
JupyterHub is in test_hub_deployment.py; here the same clients talk to ``hectornb serve``
with its token, which is quicker and shows each contract on its own."""

from __future__ import annotations

import uuid

import pytest
import requests

from hectornb import errors
from hectornb.client import ServiceClient


@pytest.fixture()
def client(platform) -> ServiceClient:
    return ServiceClient(platform["base"], platform["token"])


def test_a_client_needs_a_service_and_a_token(monkeypatch):
    monkeypatch.delenv("HECTORNB_SERVICE_URL", raising=False)
    with pytest.raises(errors.Invalid, match="HECTORNB_SERVICE_URL"):
        ServiceClient()
    for name in ("HECTORNB_TOKEN", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(errors.Forbidden, match="no token"):
        ServiceClient("http://127.0.0.1:9")
    from hectornb.client import ServiceUnavailable

    with pytest.raises(ServiceUnavailable, match=r"127\.0\.0\.1:9"):  # nothing listens
        ServiceClient("http://127.0.0.1:9", "x").info()


def test_errors_come_back_as_the_platforms_own(client, platform):
    with pytest.raises(errors.NotFound):
        client.request("GET", f"reduce/jobs/{uuid.uuid4()}")
    wrong = ServiceClient(platform["base"], "not-the-token")
    with pytest.raises(errors.Forbidden):
        wrong.info()


def test_remote_target_store_imports_classifies_and_acts_as_its_caller_only(
    client, list_name, tmp_path
):
    from hectornb.targets import TargetFilter, read_target_list
    from hectornb.targets.remote import RemoteTargetStore

    store = RemoteTargetStore(client)
    me = client.user
    text = "# a list\nA,10.0,-30.0\nB,11.0,-30.0\n\nC,12.0,-30.0\n"
    path = tmp_path / f"{list_name}.csv"
    path.write_text(text)
    result = store.import_list(read_target_list(path), list_name, me)
    assert (result.name, result.n_targets, result.replaced) == (list_name, 3, False)
    page = store.page(list_name, TargetFilter(), 0, 10)
    # the very file went to the service: line numbers as in the user's file
    assert [(t["name"], t["line"]) for t in page.targets] == [("A", 2), ("B", 3), ("C", 5)]
    assert store.classify(list_name, "B", 3, me)["badclass"] == 3
    assert store.progress(list_name, me) == (1, 3)
    assert store.last_classified(list_name, me) == "B"
    assert store.locate(list_name, "C", TargetFilter.parse("unclassified")) == 1
    assert "B,11.00000000,-30.00000000,3," in store.export_csv(list_name)
    assert store.undo(list_name, me)["name"] == "B"
    with pytest.raises(errors.Forbidden, match=f"knows you as {me}"):
        store.classify(list_name, "A", 1, "somebody-else")
    assert list_name in {i.name for i in store.lists()}
    store.delete_list(list_name, me)
    assert list_name not in {i.name for i in store.lists()}


def test_remote_obslog_store_keeps_versions_and_names_bad_fields(client, platform):
    from hectornb.obslog import FieldErrors, ObslogStore
    from hectornb.obslog.remote import RemoteObslogStore

    me = client.user
    ObslogStore().set_observer(me)
    try:
        store = RemoteObslogStore(client)
        assert store.is_observer(me)
        gid = uuid.uuid4().int >> 66
        made = store.create("targets", {"galaxy_id": gid, "ra": 150.1, "dec": 2.2, "z": 0.05}, me)
        edited = store.update("targets", str(gid), {"z": 0.051}, me, made["version"])
        assert edited["version"] == made["version"] + 1
        with pytest.raises(errors.Conflict):  # an edit based on an old version loses nothing
            store.update("targets", str(gid), {"z": 0.9}, me, made["version"])
        assert store.get("targets", str(gid))["z"] == 0.051
        assert [h["version"] for h in store.history("targets", str(gid))] == [1, 2]
        with pytest.raises(FieldErrors) as bad:
            store.create("targets", {"galaxy_id": 1.5, "ra": 400, "dec": 0}, me)
        assert {"galaxy_id", "ra"} <= {e["field"] for e in bad.value.errors}
        listed = store.list("targets", {"galaxy_id": [str(gid)]})
        assert [r["galaxy_id"] for r in listed["items"]] == [gid]
        assert store.delete("targets", str(gid), me)["deleted"] is True
        assert store.restore("targets", str(gid), me)["deleted"] is False
    finally:
        ObslogStore().set_observer(me, False)


def test_the_engines_offered_are_the_platforms_default_first(client):
    """What the Reduce form offers comes from the service: engines it can run now, each a
    name a request may give, the default (builtin) first; an engine it has none of is
    said with the reason (no 2dFdr is installed beside this service)."""
    from hectornb.reduce.engines import parse_engine
    from hectornb.reduce.session import RemoteReduce

    reduce = RemoteReduce(client)
    engines = reduce.engines()
    assert engines[0] == "builtin" and len(set(engines)) == len(engines)
    for engine in engines:
        parse_engine(engine)
    unavailable = reduce.engines_unavailable()
    assert "aaorun is not on PATH" in unavailable["2dfdr"]
    assert not any(parse_engine(e)[0].name in unavailable for e in engines)


def test_product_files_only_for_their_owner(platform, client, tmp_path):
    """The products API lists a request's products and streams each one, to its owner."""
    from hectornb.reduce.session import RemoteReduce
    from hectornb.reduce.store import ReductionStore

    store = ReductionStore()
    theirs = store.create(
        "someone-else",
        ["/nowhere/x.fits"],
        "builtin",
        {},
        None,
        f"client-test-{uuid.uuid4()}",
        str(tmp_path),
    )
    store.cancel(theirs.id, "someone-else")
    session = RemoteReduce(client)
    with pytest.raises(errors.Forbidden):
        session.products(theirs.id)
    with pytest.raises(errors.NotFound):
        session.job(str(uuid.uuid4()))
    r = requests.get(
        f"{platform['base']}/hectornb/api/reduce/jobs/{theirs.id}/products/../../etc/passwd",
        headers={"Authorization": f"token {platform['token']}"},
        timeout=30,
    )
    assert r.status_code in (403, 404)


def test_a_client_server_loads_no_demo_and_says_it_has_no_database(platform, store):
    """``hectornb demo`` in a user's server at a data centre refuses before loading anything
    (half a demo went into the shared service once); ``hectornb config`` names the service."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "HECTORNB_DATABASE_URL"}  # a client's
    env.update(HECTORNB_SERVICE_URL=platform["base"], HECTORNB_TOKEN=platform["token"])
    before = {lst.name for lst in store.lists()}
    r = subprocess.run(
        [sys.executable, "-m", "hectornb.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "loaded by the data centre" in r.stderr
    assert {lst.name for lst in store.lists()} == before
    out = subprocess.run(
        [sys.executable, "-m", "hectornb.cli", "config"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if "HECTORNB_DATABASE_URL" in x)
    assert f"a client of the service at {platform['base']}" in line
