"""Attaching volumes end to end: the attachments API (3.27+) and the legacy actions, with
the exports reached through real targets (tgtd for iSCSI, qemu-nbd for NBD) by the
userspace initiators a host would use: qemu's libiscsi driver and libnbd's nbdcopy/nbdinfo.

Every test runs its own ``firebrick serve`` with private target ports; tgtd and qemu-nbd
(which the service deliberately leaves running when it stops) are stopped at teardown.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import openstack
import pytest
from attach_helpers import (
    ENVELOPE_KEYS,
    HOST1_IQN,
    HOST2_IQN,
    MV,
    STRANGER_IQN,
    USAGE_KEYS,
    Iscsi,
    MiB,
    Nbd,
    action,
    api_client,
    assert_secret_hidden,
    attach,
    check,
    close_clients,
    connector,
    create_attachment,
    detach,
    require_tools,
    run,
    stop_targets,
    target_backend,
    volume,
    wait_status,
)
from attach_helpers import (
    pattern as make_pattern,
)
from cinderclient import client as cinder_client
from harness import Service, launch
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

pytestmark = pytest.mark.integration

ISCSI_KEYS = {
    "driver_volume_type", "attachment_id", "target_discovered", "target_iqn", "target_portal",
    "target_lun", "volume_id", "auth_method", "auth_username", "auth_password", "access_mode",
}  # fmt: skip


@pytest.fixture
def target_service(tmp_path: Path) -> Iterator[object]:
    """Factory: ``target_service("iscsi"|"nbd", **backend options)`` → a private service
    whose one file backend ``file-1`` exports through that protocol."""
    require_tools()
    started: list[Service] = []

    def start(protocol: str = "iscsi", **options: str) -> Service:
        backends = {"file-1": {"file_capacity_gb": "100", **target_backend(protocol, **options)}}
        svc = launch(tmp_path / f"svc{len(started)}", backends=backends)
        started.append(svc)
        return svc

    yield start
    close_clients()
    while SESSIONS:
        SESSIONS.pop().session.close()
    for svc in started:
        svc.stop()
        stop_targets(svc)


SESSIONS: list[ks_session.Session] = []


def keystone_session(svc: Service, project: str) -> ks_session.Session:
    """A keystoneauth session with the noauth token ``user:project`` (closed at teardown)."""
    token = token_endpoint.Token(svc.endpoint(project), f"tester:{project}")
    sess = ks_session.Session(auth=token)
    SESSIONS.append(sess)
    return sess


def assert_iscsi_info(info: dict, svc: Service, volume_id: str, attachment_id: str) -> None:
    opts = svc.backends["file-1"].options
    assert set(info) >= ISCSI_KEYS, f"missing {ISCSI_KEYS - set(info)} in {sorted(info)}"
    assert info["driver_volume_type"] == "iscsi"
    assert info["attachment_id"] == attachment_id
    assert info["volume_id"] == volume_id
    assert info["target_portal"] == f"127.0.0.1:{opts['target_port']}"
    assert info["target_iqn"] == f"iqn.2010-10.org.openstack:volume-{volume_id}"
    assert info["target_lun"] == 1
    assert info["auth_method"] == "CHAP"
    assert info["access_mode"] == "rw"
    assert info["target_discovered"] is False
    assert len(info["auth_password"]) >= 12 and info["auth_username"]


def assert_listed(svc: Service, api, volume_id: str, attachment_id: str, server: str) -> None:
    vol = volume(api, volume_id)
    assert vol["status"] == "in-use", vol
    entries = [a for a in vol["attachments"] if a["attachment_id"] == attachment_id]
    assert len(entries) == 1, vol["attachments"]
    assert entries[0]["server_id"] == server
    assert entries[0]["volume_id"] == volume_id
    assert entries[0]["attached_at"]


# -- iSCSI end to end ------------------------------------------------------------------------


def test_iscsi_attach_io_detach_reattach_with_cinderclient(target_service, tmp_path):
    svc: Service = target_service("iscsi")
    api = api_client(svc)
    cinder = cinder_client.Client(MV, session=keystone_session(svc, api.project))
    vol = api.create_volume(1, name="attach-me")
    vid, server = vol["id"], str(uuid.uuid4())

    made = cinder.attachments.create(vid, connector(), server)
    info = made["connection_info"]
    assert made["volume_id"] == vid and made["instance"] == server
    assert made["status"] == "attaching", made["status"]
    assert_iscsi_info(info, svc, vid, made["id"])
    assert volume(api, vid)["status"] == "attaching"
    assert volume(api, vid)["attachments"] == []  # only attached attachments are listed

    data = make_pattern(1)
    host = Iscsi(tmp_path, info, HOST1_IQN)
    host.write(data)
    assert host.read(len(data)) == data
    path = svc.find_volume_file(vid)
    assert path is not None and path.read_bytes()[: len(data)] == data

    # Wrong CHAP password, and an initiator the ACL does not name: refused.
    assert "Authentication failure" in host.refused(password="not-the-password-at-all")
    assert "Target not found" in Iscsi(tmp_path, info, STRANGER_IQN).refused()

    cinder.attachments.complete(made["id"])
    assert_listed(svc, api, vid, made["id"], server)
    shown = cinder.attachments.show(made["id"])
    assert shown.status == "attached" and shown.attach_mode == "rw"
    assert shown.connection_info["auth_password"] == info["auth_password"]
    listed = cinder.attachments.list(search_opts={"volume_id": vid})
    assert [a.id for a in listed] == [made["id"]]

    cinder.attachments.delete(made["id"])
    after = wait_status(api, vid, "available")
    assert after["attachments"] == []
    assert cinder.attachments.list(search_opts={"volume_id": vid}) == []
    host.refused()  # the target (or at least this account) is gone

    again = cinder.attachments.create(vid, connector(), server)
    new_info = again["connection_info"]
    assert_iscsi_info(new_info, svc, vid, again["id"])
    assert again["id"] != made["id"]
    assert (new_info["auth_username"], new_info["auth_password"]) != (
        info["auth_username"], info["auth_password"],
    )  # fmt: skip
    # The old account is gone with the old attachment; the new one reads the pattern back.
    assert Iscsi(tmp_path, {**new_info, "auth_password": info["auth_password"],
                            "auth_username": info["auth_username"]}).refused()  # fmt: skip
    assert Iscsi(tmp_path, new_info).read(len(data)) == data
    cinder.attachments.complete(again["id"])
    cinder.attachments.delete(again["id"])
    wait_status(api, vid, "available")
    assert_secret_hidden(svc, info["auth_password"], new_info["auth_password"])


def test_iscsi_attachment_flow_over_http(target_service, tmp_path):
    svc: Service = target_service("iscsi")
    api = api_client(svc)
    vid, server = api.create_volume(1)["id"], str(uuid.uuid4())

    # Reserve without a connector: no export yet.
    reserved = check(create_attachment(api, vid, None, server), 200)["attachment"]
    assert reserved["status"] == "reserved" and reserved["connection_info"] == {}
    assert volume(api, vid)["status"] == "reserved"

    # A connector without an initiator is refused; the attachment stays reserved.
    bad = api.put(f"/attachments/{reserved['id']}",
                  json={"attachment": {"connector": {"host": "compute-1"}}})  # fmt: skip
    api.assert_fault(bad, 400)
    assert volume(api, vid)["status"] == "reserved"

    updated = check(
        api.put(f"/attachments/{reserved['id']}", json={"attachment": {"connector": connector()}}),
        200,
    )["attachment"]
    info = updated["connection_info"]
    assert_iscsi_info(info, svc, vid, reserved["id"])
    assert updated["status"] == "attaching"
    assert volume(api, vid)["status"] == "attaching"

    data = make_pattern(2)
    Iscsi(tmp_path, info).write(data)

    done = api.post(f"/attachments/{reserved['id']}/action", json={"os-complete": None})
    assert done.status_code == 204, done.text
    assert_listed(svc, api, vid, reserved["id"], server)
    shown = check(api.get(f"/attachments/{reserved['id']}"), 200)["attachment"]
    assert shown["status"] == "attached" and shown["attached_at"]
    assert shown["connection_info"]["auth_password"] == info["auth_password"]
    summaries = check(api.get("/attachments", params={"volume_id": vid}), 200)["attachments"]
    assert summaries == [{"id": reserved["id"], "status": "attached", "instance": server,
                          "volume_id": vid}]  # fmt: skip

    assert detach(api, reserved["id"]) == []
    assert volume(api, vid)["status"] == "available"
    api.assert_fault(api.get(f"/attachments/{reserved['id']}"), 404)
    Iscsi(tmp_path, info).refused()

    second = attach(api, vid)
    assert second["connection_info"]["auth_password"] != info["auth_password"]
    assert Iscsi(tmp_path, second["connection_info"]).read(len(data)) == data
    detach(api, second["id"])
    assert_secret_hidden(svc, info["auth_password"], second["connection_info"]["auth_password"])


def test_reserved_attachment_deleted_without_export(target_service):
    svc: Service = target_service("iscsi")
    api = api_client(svc)
    vid = api.create_volume(1)["id"]
    reserved = check(create_attachment(api, vid, None, str(uuid.uuid4())), 200)["attachment"]
    assert volume(api, vid)["status"] == "reserved"
    assert detach(api, reserved["id"]) == []
    assert volume(api, vid)["status"] == "available"
    # Nothing was ever exported: no tgtd was needed for this backend.
    assert not (svc.state_path / "targets" / "file-1" / "tgtd.pid").exists()


# -- NBD end to end --------------------------------------------------------------------------


def test_nbd_attach_write_detach_reattach_read(target_service, tmp_path):
    svc: Service = target_service("nbd")
    api = api_client(svc)
    vid = api.create_volume(1)["id"]
    port = int(svc.backends["file-1"].options["nbd_port_min"])

    first = attach(api, vid, connector(host="compute-nbd"), complete=False)
    info = first["connection_info"]
    assert info["driver_volume_type"] == "nbd" and info["attachment_id"] == first["id"]
    assert (info["host"], info["port"], info["export_name"], info["volume_id"]) == (
        "127.0.0.1", port, f"volume-{vid}", vid,
    )  # fmt: skip
    assert info["uri"] == f"nbd://127.0.0.1:{port}/volume-{vid}"
    assert "tls_psk_key" not in info

    data = make_pattern(3, 8 * MiB)
    host = Nbd(tmp_path, info)
    host.write(data)
    size = host.info_ok()
    assert size.returncode == 0 and size.stdout.strip() == str(1 << 30), size.stderr
    check(api.post(f"/attachments/{first['id']}/action", json={"os-complete": None}), 204)
    assert_listed(svc, api, vid, first["id"], first["instance"])

    detach(api, first["id"])
    assert volume(api, vid)["status"] == "available"
    assert host.info_ok().returncode != 0, "the NBD export outlived its last attachment"

    second = attach(api, vid, connector(host="compute-nbd"))
    assert Nbd(tmp_path, second["connection_info"]).read(len(data)) == data
    detach(api, second["id"])
    assert volume(api, vid)["status"] == "available"


def test_nbd_tls_refuses_plain_clients(target_service, tmp_path):
    svc: Service = target_service("nbd", nbd_tls="true")
    api = api_client(svc)
    vid = api.create_volume(1)["id"]
    made = attach(api, vid, connector(host="compute-tls"))
    info = made["connection_info"]
    assert info["driver_volume_type"] == "nbd"
    assert info["uri"].startswith(f"nbds://{info['tls_psk_identity']}@127.0.0.1:")
    assert len(info["tls_psk_key"]) >= 32

    host = Nbd(tmp_path, info)
    plain = host.info_ok(host.plain_uri())
    assert plain.returncode != 0, "a client without TLS reached a TLS-only export"
    wrong = Nbd(tmp_path, {**info, "tls_psk_key": "00" * (len(info["tls_psk_key"]) // 2)})
    assert wrong.info_ok().returncode != 0, "a wrong PSK was accepted"
    data = make_pattern(4)
    host.write(data)
    assert host.read(len(data)) == data

    detach(api, made["id"])
    assert host.info_ok().returncode != 0, "the PSK still works after detach"
    again = attach(api, vid, connector(host="compute-tls"))
    new = again["connection_info"]
    assert (new["tls_psk_identity"], new["tls_psk_key"]) != (
        info["tls_psk_identity"], info["tls_psk_key"],
    )  # fmt: skip
    assert Nbd(tmp_path, new).read(len(data)) == data
    detach(api, again["id"])
    assert_secret_hidden(svc, info["tls_psk_key"], new["tls_psk_key"])


# -- one host or many ------------------------------------------------------------------------


def test_second_host_refused_on_non_multiattach_volume(target_service, tmp_path):
    svc: Service = target_service("iscsi")
    api = api_client(svc)
    vid, server = api.create_volume(1)["id"], str(uuid.uuid4())
    first = attach(api, vid, connector(HOST1_IQN, "compute-1"), server)
    assert volume(api, vid)["multiattach"] is False

    # Another instance: the volume cannot be reserved again (Cinder: 400 InvalidVolume).
    other = create_attachment(api, vid, connector(HOST2_IQN, "compute-2"), str(uuid.uuid4()))
    assert "status" in api.assert_fault(other, 400)
    # The same instance from another host (a live migration): the reserve is allowed, but a
    # second host's connection to a non-multiattach volume is a 409 conflict.
    moving = create_attachment(api, vid, connector(HOST2_IQN, "compute-2"), server)
    api.assert_fault(moving, 409)
    listed = check(api.get("/attachments", params={"volume_id": vid}), 200)["attachments"]
    leftover = [a for a in listed if a["id"] != first["id"]]
    for stray in leftover:  # cleaned up so the rest of the test can run; asserted below
        detach(api, stray["id"])
    # A reserved attachment of the same instance that then asks for another host: 409 too.
    reserved = check(create_attachment(api, vid, None, server), 200)["attachment"]
    api.assert_fault(
        api.put(f"/attachments/{reserved['id']}",
                json={"attachment": {"connector": connector(HOST2_IQN, "compute-2")}}),
        409,
    )  # fmt: skip
    detach(api, reserved["id"])

    # The first host keeps its access and the volume stays in-use.
    host1 = Iscsi(tmp_path, first["connection_info"], HOST1_IQN)
    done = host1.io("write -P 0x42 0 64k")
    assert done.returncode == 0, done.stderr
    assert_listed(svc, api, vid, first["id"], server)
    detach(api, first["id"])
    assert volume(api, vid)["status"] == "available"
    assert leftover == [], f"a refused attachment create left an attachment behind: {leftover}"


def test_multiattach_volume_serves_two_hosts(target_service, tmp_path):
    svc: Service = target_service("iscsi")
    api = api_client(svc)
    type_name = f"multi-{uuid.uuid4().hex[:8]}"
    spec = {"name": type_name, "extra_specs": {"multiattach": "<is> True"}}
    vtype = check(api.post("/types", json={"volume_type": spec}), 200)["volume_type"]
    vol = api.create_volume(1, volume_type=type_name)
    vid = vol["id"]
    assert vol["multiattach"] is True

    one = attach(api, vid, connector(HOST1_IQN, "compute-1"))
    two = attach(api, vid, connector(HOST2_IQN, "compute-2"))
    i1, i2 = one["connection_info"], two["connection_info"]
    assert i1["target_iqn"] == i2["target_iqn"]
    assert i1["auth_username"] != i2["auth_username"]
    data = make_pattern(5)
    Iscsi(tmp_path, i1, HOST1_IQN).write(data)
    assert Iscsi(tmp_path, i2, HOST2_IQN).read(len(data)) == data
    # Each host logs in with its own account only.
    assert Iscsi(tmp_path, {**i2, "auth_password": i1["auth_password"]}, HOST2_IQN).refused()

    vol = volume(api, vid)
    assert vol["status"] == "in-use"
    assert {a["attachment_id"] for a in vol["attachments"]} == {one["id"], two["id"]}

    left = detach(api, two["id"])
    assert [a["id"] for a in left] == [one["id"]]
    assert volume(api, vid)["status"] == "in-use"
    Iscsi(tmp_path, i2, HOST2_IQN).refused()
    assert Iscsi(tmp_path, i1, HOST1_IQN).read(len(data)) == data
    detach(api, one["id"])
    assert volume(api, vid)["status"] == "available"
    api.delete_volume(vid)
    check(api.delete(f"/types/{vtype['id']}"), 202)


# -- restarts --------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["iscsi", "nbd"])
def test_restart_while_attached_restores_the_export(target_service, tmp_path, protocol):
    svc: Service = target_service(protocol)
    api = api_client(svc)
    vid = api.create_volume(1)["id"]
    made = attach(api, vid, connector())
    info = made["connection_info"]
    host = Iscsi(tmp_path, info) if protocol == "iscsi" else Nbd(tmp_path, info)
    data = make_pattern(6)
    host.write(data)

    # 1. The service restarts; the target daemon kept running (hosts keep their disks).
    svc.restart()
    api = api_client(svc, api.project)
    assert volume(api, vid)["status"] == "in-use"
    assert host.read(len(data)) == data

    # 2. The service stops and the target daemons die with it (a host reboot): the
    #    volume service must bring the export back with the same credentials.
    svc.stop()
    stop_targets(svc)
    assert (host.io("read 0 4k") if isinstance(host, Iscsi) else host.info_ok()).returncode != 0
    svc.restart()
    api = api_client(svc, api.project)

    def reachable() -> bool:
        probe = host.io("read 0 4k") if isinstance(host, Iscsi) else host.info_ok()
        return probe.returncode == 0

    api.wait_for(reachable, f"the {protocol} export of {vid} after a restart")
    assert host.read(len(data)) == data
    shown = check(api.get(f"/attachments/{made['id']}"), 200)["attachment"]
    assert shown["connection_info"] == info
    assert_listed(svc, api, vid, made["id"], made["instance"])

    detach(api, made["id"])
    assert volume(api, vid)["status"] == "available"
    assert (host.io("read 0 4k") if isinstance(host, Iscsi) else host.info_ok()).returncode != 0


# -- deleting an attached volume -------------------------------------------------------------


def test_attached_volume_cannot_be_deleted(target_service, tmp_path):
    svc: Service = target_service("iscsi")
    api = api_client(svc)
    vid = api.create_volume(1)["id"]
    made = attach(api, vid, connector())
    message = api.assert_fault(api.delete(f"/volumes/{vid}"), 400)
    assert "in-use" in message
    assert volume(api, vid)["status"] == "in-use"
    assert svc.find_volume_file(vid) is not None
    # The export is untouched.
    assert Iscsi(tmp_path, made["connection_info"]).io("read 0 4k").returncode == 0

    # A reserved (not yet connected) attachment also blocks the delete.
    detach(api, made["id"])
    reserved = check(create_attachment(api, vid, None, str(uuid.uuid4())), 200)["attachment"]
    api.assert_fault(api.delete(f"/volumes/{vid}"), 400)
    detach(api, reserved["id"])

    api.delete_volume(vid)
    assert svc.find_volume_file(vid) is None


# -- legacy actions --------------------------------------------------------------------------


def test_legacy_attach_and_detach(target_service, tmp_path):
    svc: Service = target_service("iscsi")
    api = api_client(svc, microversion="3.0")
    vid = api.create_volume(1)["id"]
    conn = connector(HOST1_IQN, "legacy-host")
    server = str(uuid.uuid4())

    # os-reserve / os-unreserve
    assert action(api, vid, "os-reserve").status_code == 202
    assert volume(api, vid)["status"] == "attaching"
    api.assert_fault(action(api, vid, "os-reserve"), 400)
    assert action(api, vid, "os-unreserve").status_code == 202
    assert volume(api, vid)["status"] == "available"
    # Begin detaching a volume that is not attached: refused.
    api.assert_fault(action(api, vid, "os-begin_detaching"), 400)

    # attach: reserve → initialize_connection → I/O → attach
    assert action(api, vid, "os-reserve").status_code == 202
    resp = action(api, vid, "os-initialize_connection", {"connector": conn})
    body = check(resp, 200)
    assert set(body) == {"connection_info"}
    info = body["connection_info"]
    assert info["driver_volume_type"] == "iscsi"
    data = info["data"]
    assert {"target_iqn", "target_portal", "target_lun", "auth_method", "auth_username",
            "auth_password", "volume_id", "access_mode"} <= set(data)  # fmt: skip
    assert data["volume_id"] == vid and data["auth_method"] == "CHAP"
    assert volume(api, vid)["status"] == "attaching"
    payload = make_pattern(7)
    host = Iscsi(tmp_path, data, HOST1_IQN)
    host.write(payload)
    assert "Authentication failure" in host.refused(password="definitely-wrong-pass")

    resp = action(api, vid, "os-attach", {"instance_uuid": server, "mountpoint": "/dev/vdb",
                                          "mode": "rw"})  # fmt: skip
    assert resp.status_code == 202, resp.text
    vol = volume(api, vid)
    assert vol["status"] == "in-use"
    assert len(vol["attachments"]) == 1
    entry = vol["attachments"][0]
    assert (entry["server_id"], entry["device"]) == (server, "/dev/vdb")

    # os-begin_detaching / os-roll_detaching
    assert action(api, vid, "os-begin_detaching").status_code == 202
    assert volume(api, vid)["status"] == "detaching"
    assert action(api, vid, "os-roll_detaching").status_code == 202
    assert volume(api, vid)["status"] == "in-use"
    assert host.read(len(payload)) == payload

    # detach: begin_detaching → terminate_connection → detach
    assert action(api, vid, "os-begin_detaching").status_code == 202
    assert volume(api, vid)["status"] == "detaching"
    resp = action(api, vid, "os-terminate_connection", {"connector": conn})
    assert resp.status_code == 202, resp.text
    host.refused()
    # Cinder: terminate_connection leaves the volume detaching until os-detach (asserted
    # at the end, so the rest of the flow is still exercised).
    after_terminate = volume(api, vid)["status"]
    resp = action(api, vid, "os-detach", {"attachment_id": entry["attachment_id"]})
    assert resp.status_code == 202, resp.text
    vol = volume(api, vid)
    assert vol["status"] == "available" and vol["attachments"] == []

    # Attach again the legacy way: new credentials, the data is still there.
    assert action(api, vid, "os-reserve").status_code == 202
    again = check(action(api, vid, "os-initialize_connection", {"connector": conn}), 200)
    new = again["connection_info"]["data"]
    assert new["auth_password"] != data["auth_password"]
    assert Iscsi(tmp_path, new, HOST1_IQN).read(len(payload)) == payload
    check_attach = action(api, vid, "os-attach", {"host_name": "legacy-host",
                                                  "mountpoint": "/dev/vdc"})  # fmt: skip
    assert check_attach.status_code == 202, check_attach.text
    assert volume(api, vid)["status"] == "in-use"
    assert action(api, vid, "os-begin_detaching").status_code == 202
    assert action(api, vid, "os-terminate_connection", {"connector": conn}).status_code == 202
    assert action(api, vid, "os-detach", {}).status_code == 202
    assert volume(api, vid)["status"] == "available"
    assert_secret_hidden(svc, data["auth_password"], new["auth_password"])

    events = [n["event_type"] for n in svc.notifications_for(vid)
              if ".attach." in n["event_type"] or ".detach." in n["event_type"]]  # fmt: skip
    cycle = ["volume.attach.start", "volume.attach.end", "volume.detach.start",
             "volume.detach.end"]  # fmt: skip
    assert events == cycle * 2, events
    assert after_terminate == "detaching", (
        f"after os-terminate_connection the volume is {after_terminate!r}, not 'detaching'"
    )


# -- notifications and secrets ---------------------------------------------------------------


def test_attach_detach_notifications_and_no_secret_in_logs(target_service, tmp_path):
    svc: Service = target_service("iscsi")
    api = api_client(svc)
    vid = api.create_volume(1)["id"]
    made = attach(api, vid, connector())
    password = made["connection_info"]["auth_password"]
    Iscsi(tmp_path, made["connection_info"]).write(make_pattern(8))
    # A failed login with a wrong password and a refused connector must not leak it either.
    Iscsi(tmp_path, made["connection_info"]).refused(password="wrong-password-123")
    detach(api, made["id"])

    def events() -> list[str]:
        return [n["event_type"] for n in svc.notifications_for(vid)
                if ".attach." in n["event_type"] or ".detach." in n["event_type"]]  # fmt: skip

    api.wait_for(lambda: events().count("volume.detach.end") == 1, "volume.detach.end")
    assert events() == ["volume.attach.start", "volume.attach.end", "volume.detach.start",
                        "volume.detach.end"]  # fmt: skip
    found = {n["event_type"]: n for n in svc.notifications_for(vid)}
    for name in events():
        note = found[name]
        assert set(note) >= ENVELOPE_KEYS, f"{name}: {sorted(note)}"
        assert note["priority"] == "INFO"
        assert set(note["payload"]) >= USAGE_KEYS, (
            f"{name} lacks {USAGE_KEYS - set(note['payload'])}"
        )
        assert note["payload"]["volume_id"] == vid
        assert note["payload"]["tenant_id"] == api.project
    assert found["volume.attach.end"]["payload"]["status"] == "in-use"

    # The password reached no log, notification or console output.
    assert_secret_hidden(svc, password)


def test_invalid_connector_error_carries_no_secret(target_service):
    svc: Service = target_service("iscsi")
    api = api_client(svc)
    vid = api.create_volume(1)["id"]
    resp = create_attachment(api, vid, {"host": "compute-1"}, str(uuid.uuid4()))
    message = api.assert_fault(resp, 400)
    assert "initiator" in message.lower()
    left = check(api.get("/attachments", params={"volume_id": vid}), 200)["attachments"]
    assert left == [] or all(a["status"] == "reserved" for a in left)
    for a in left:
        detach(api, a["id"])
    assert wait_status(api, vid, "available")["status"] == "available"


# -- openstacksdk ----------------------------------------------------------------------------


def test_openstacksdk_attachment_calls(target_service, tmp_path):
    svc: Service = target_service("iscsi")
    api = api_client(svc)
    conn = openstack.connection.Connection(
        session=keystone_session(svc, api.project),
        block_storage_endpoint_override=svc.endpoint(api.project),
        block_storage_api_version="3",
    )
    proxy = conn.block_storage
    needed = ("create_attachment", "update_attachment", "complete_attachment",
              "delete_attachment")  # fmt: skip
    if not all(hasattr(proxy, name) for name in needed):
        conn.close()
        pytest.skip("this openstacksdk has no attachment calls")
    try:
        vid = api.create_volume(1)["id"]
        server = str(uuid.uuid4())
        made = proxy.create_attachment(vid, instance=server)
        assert made.status == "reserved" and made.volume_id == vid
        assert volume(api, vid)["status"] == "reserved"

        updated = proxy.update_attachment(made.id, connector=connector())
        info = updated.connection_info
        assert_iscsi_info(info, svc, vid, made.id)
        data = make_pattern(9)
        Iscsi(tmp_path, info).write(data)

        proxy.complete_attachment(made.id)
        assert_listed(svc, api, vid, made.id, server)
        assert proxy.get_attachment(made.id).status == "attached"
        assert [a.id for a in proxy.attachments(volume_id=vid)] == [made.id]

        proxy.delete_attachment(made.id)
        wait_status(api, vid, "available")
        Iscsi(tmp_path, info).refused()

        again = proxy.create_attachment(vid, connector=connector(), instance=server)
        assert again.connection_info["auth_password"] != info["auth_password"]
        assert Iscsi(tmp_path, again.connection_info).read(len(data)) == data
        proxy.complete_attachment(again.id)
        proxy.delete_attachment(again.id)
        wait_status(api, vid, "available")
    finally:
        conn.close()


def test_tools_present_or_reasoned_skip():
    """The target tools this module needs; with CI set a missing tool is a failure."""
    require_tools()
    done = run(["qemu-img", "--help"])
    assert "iscsi" in done.stdout
