"""QoS specs over HTTP, python-cinderclient and openstacksdk: create, list, show, set and
unset keys, associate with volume types, delete; Cinder's codes, messages, notifications.

QoS specs are global (not per project) and the shared service runs other tests at the
same time, so every test names its specs uniquely and never assumes a list is its own.
Every answer is checked against Tempest's published schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openstack
import pytest
from cinderclient import client as cinder_client
from cinderclient import exceptions as cinder_exceptions
from harness import Service, VolumeApi
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from openstack.block_storage.v3.qos_spec import QoSSpecAssociation
from tempest_schemas import TempestSchemas

QOS_KEYS = {"id", "name", "consumer", "specs"}
Maker = Callable[..., dict[str, Any]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_qos(api: VolumeApi) -> Iterator[Maker]:
    created: list[str] = []

    def make(name: str | None = None, **keys: Any) -> dict[str, Any]:
        resp = api.post("/qos-specs", json={"qos_specs": {"name": name or unique("qos"), **keys}})
        assert resp.status_code == 200, resp.text
        specs: dict[str, Any] = resp.json()["qos_specs"]
        created.append(specs["id"])
        return specs

    yield make
    for specs_id in created:
        api.delete(f"/qos-specs/{specs_id}?force=True")


@pytest.fixture
def make_type(api: VolumeApi) -> Iterator[Maker]:
    created: list[str] = []

    def make(**fields: Any) -> dict[str, Any]:
        resp = api.post("/types", json={"volume_type": {"name": unique("qtype"), **fields}})
        assert resp.status_code == 200, resp.text
        volume_type: dict[str, Any] = resp.json()["volume_type"]
        created.append(volume_type["id"])
        return volume_type

    yield make
    for type_id in created:
        api.delete(f"/types/{type_id}")


def qos_events(service: Service, subject: str) -> list[dict[str, Any]]:
    """The QoSSpecs notifications about the specs with this id or name."""
    return [
        n for n in service.notifications()
        if n["event_type"].startswith("qos_specs.")
        and subject in (n["payload"].get("id"), n["payload"].get("name"))
    ]  # fmt: skip


def test_create_show_list_set_unset_delete(
    service: Service, api: VolumeApi, tempest_schemas: TempestSchemas
) -> None:
    name = unique("gold")
    resp = api.post(
        "/qos-specs",
        json={"qos_specs": {"name": f"  {name} ", "consumer": "front-end",
                            "read_iops_sec": "2000", "total_bytes_sec_per_gb": "1048576"}},
    )  # fmt: skip
    tempest_schemas.check("qos.show_qos", resp)
    created = resp.json()["qos_specs"]
    assert set(created) == QOS_KEYS
    assert created["name"] == name  # stripped, as Cinder does
    assert created["consumer"] == "front-end"
    assert created["specs"] == {"read_iops_sec": "2000", "total_bytes_sec_per_gb": "1048576"}
    links = resp.json()["links"]
    assert [link["rel"] for link in links] == ["self", "bookmark"]
    assert links[0]["href"].endswith(f"/v3/{api.project}/qos-specs/{created['id']}")
    specs_id = created["id"]

    shown = api.get(f"/qos-specs/{specs_id}")
    tempest_schemas.check("qos.show_qos", shown)
    assert shown.json()["qos_specs"] == created

    listed = api.get("/qos-specs")
    tempest_schemas.check("qos.list_qos", listed)
    assert created in listed.json()["qos_specs"]

    put = api.put(f"/qos-specs/{specs_id}", json={"qos_specs": {"iops_bytes": "500"}})
    tempest_schemas.check("qos.set_qos_key", put)
    assert put.json() == {"qos_specs": {"iops_bytes": "500"}}
    changed = api.put(f"/qos-specs/{specs_id}", json={"qos_specs": {"consumer": "both"}})
    assert changed.status_code == 200, changed.text
    after = api.get(f"/qos-specs/{specs_id}").json()["qos_specs"]
    assert after["consumer"] == "both"
    assert after["specs"] == {**created["specs"], "iops_bytes": "500"}

    unset = api.put(f"/qos-specs/{specs_id}/delete_keys", json={"keys": ["iops_bytes"]})
    tempest_schemas.check("qos.unset_qos_key", unset)
    assert "iops_bytes" not in api.get(f"/qos-specs/{specs_id}").json()["qos_specs"]["specs"]

    deleted = api.delete(f"/qos-specs/{specs_id}")
    tempest_schemas.check("qos.delete_qos", deleted)
    api.assert_fault(api.get(f"/qos-specs/{specs_id}"), 404)
    assert specs_id not in {q["id"] for q in api.get("/qos-specs").json()["qos_specs"]}

    events = [n["event_type"] for n in qos_events(service, specs_id)]
    events += [n["event_type"] for n in qos_events(service, name)]
    assert events.count("qos_specs.update") == 2
    assert {"qos_specs.create", "qos_specs.delete_keys", "qos_specs.delete"} <= set(events)
    create = next(n for n in qos_events(service, name) if n["event_type"] == "qos_specs.create")
    assert create["publisher_id"] == f"QoSSpecs.{service.host}"
    assert create["priority"] == "INFO"
    assert set(create["payload"]) == {"name", "created_at", "specs"}
    assert create["payload"]["specs"]["consumer"] == "front-end"


@pytest.mark.parametrize("consumer", ["front-end", "back-end", "both"])
def test_each_consumer(api: VolumeApi, make_qos: Maker, consumer: str) -> None:
    assert make_qos(consumer=consumer)["consumer"] == consumer


def test_consumer_defaults_to_back_end(api: VolumeApi, make_qos: Maker) -> None:
    created = make_qos(total_iops_sec="100")
    assert created["consumer"] == "back-end"
    assert created["specs"] == {"total_iops_sec": "100"}


def test_associate_disassociate(
    service: Service,
    api: VolumeApi,
    make_qos: Maker,
    make_type: Maker,
    tempest_schemas: TempestSchemas,
) -> None:
    qos = make_qos(consumer="front-end", read_iops_sec="2000")
    types = [make_type() for _ in range(3)]
    for t in types:
        resp = api.get(f"/qos-specs/{qos['id']}/associate", params={"vol_type_id": t["id"]})
        tempest_schemas.check("qos.associate_qos", resp)
    again = api.get(f"/qos-specs/{qos['id']}/associate", params={"vol_type_id": types[0]["id"]})
    assert again.status_code == 202, again.text  # the same association twice is fine

    assoc = api.get(f"/qos-specs/{qos['id']}/associations")
    tempest_schemas.check("qos.show_association_qos", assoc)
    assert sorted(assoc.json()["qos_associations"], key=lambda a: a["id"]) == sorted(
        ({"association_type": "volume_type", "id": t["id"], "name": t["name"]} for t in types),
        key=lambda a: a["id"],
    )
    # The type shows its QoS specs to admins.
    shown_type = api.get(f"/types/{types[0]['id']}")
    tempest_schemas.check("volume_types.show_volume_type", shown_type)
    assert shown_type.json()["volume_type"]["qos_specs_id"] == qos["id"]
    listed_types = api.get("/types").json()["volume_types"]
    assert {t["id"]: t["qos_specs_id"] for t in listed_types}[types[1]["id"]] == qos["id"]

    resp = api.get(f"/qos-specs/{qos['id']}/disassociate", params={"vol_type_id": types[0]["id"]})
    tempest_schemas.check("qos.disassociate_qos", resp)
    remaining = {a["id"] for a in api.get(f"/qos-specs/{qos['id']}/associations").json()[
        "qos_associations"]}  # fmt: skip
    assert remaining == {types[1]["id"], types[2]["id"]}
    assert api.get(f"/types/{types[0]['id']}").json()["volume_type"]["qos_specs_id"] is None

    resp = api.get(f"/qos-specs/{qos['id']}/disassociate_all")
    tempest_schemas.check("qos.disassociate_all_qos", resp)
    assert api.get(f"/qos-specs/{qos['id']}/associations").json() == {"qos_associations": []}

    events = {n["event_type"]: n["payload"] for n in qos_events(service, qos["id"])}
    assert events["qos_specs.associate"]["type_id"] in {t["id"] for t in types}
    assert set(events["qos_specs.associate"]) == {"id", "type_id", "created_at"}
    assert set(events["qos_specs.disassociate"]) == {"id", "type_id", "created_at"}
    assert set(events["qos_specs.disassociate_all"]) == {"id", "created_at"}
    assert set(events["qos_specs.associations"]) == {"id", "created_at"}


def test_delete_while_associated_needs_force(
    api: VolumeApi,
    make_qos: Maker,
    make_type: Maker,
) -> None:
    qos = make_qos()
    volume_type = make_type()
    api.get(f"/qos-specs/{qos['id']}/associate", params={"vol_type_id": volume_type["id"]})
    message = api.assert_fault(api.delete(f"/qos-specs/{qos['id']}"), 400)
    assert message == "Qos specs still in use."
    message = api.assert_fault(api.delete(f"/qos-specs/{qos['id']}?force=False"), 400)
    # Nothing changed.
    assert api.get(f"/qos-specs/{qos['id']}").status_code == 200
    assert api.get(f"/types/{volume_type['id']}").json()["volume_type"]["qos_specs_id"] == qos["id"]

    api.assert_fault(api.delete(f"/qos-specs/{qos['id']}?force=maybe"), 400)
    assert api.delete(f"/qos-specs/{qos['id']}?force=True").status_code == 202
    api.assert_fault(api.get(f"/qos-specs/{qos['id']}"), 404)
    assert api.get(f"/types/{volume_type['id']}").json()["volume_type"]["qos_specs_id"] is None


def test_a_type_has_at_most_one_qos_specs(
    api: VolumeApi,
    make_qos: Maker,
    make_type: Maker,
) -> None:
    first, second = make_qos(), make_qos()
    volume_type = make_type()
    api.get(f"/qos-specs/{first['id']}/associate", params={"vol_type_id": volume_type["id"]})
    message = api.assert_fault(
        api.get(f"/qos-specs/{second['id']}/associate", params={"vol_type_id": volume_type["id"]}),
        400,
    )
    assert message == (
        f"Invalid volume type: Type {volume_type['id']} is already associated with another "
        f"qos specs: {first['id']}"
    )
    assert api.get(f"/types/{volume_type['id']}").json()["volume_type"]["qos_specs_id"] == first[
        "id"]  # fmt: skip
    assert api.get(f"/qos-specs/{second['id']}/associations").json()["qos_associations"] == []


def test_deleting_a_type_drops_its_association(
    api: VolumeApi,
    make_qos: Maker,
    make_type: Maker,
) -> None:
    qos = make_qos()
    volume_type = make_type()
    api.get(f"/qos-specs/{qos['id']}/associate", params={"vol_type_id": volume_type["id"]})
    assert api.delete(f"/types/{volume_type['id']}").status_code == 202
    assert api.get(f"/qos-specs/{qos['id']}/associations").json()["qos_associations"] == []
    assert api.delete(f"/qos-specs/{qos['id']}").status_code == 202


def snapshot_of(api: VolumeApi, specs_id: str) -> dict[str, Any]:
    resp = api.get(f"/qos-specs/{specs_id}")
    assert resp.status_code == 200, resp.text
    specs: dict[str, Any] = resp.json()["qos_specs"]
    return specs


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"qos_specs": {"name": "x", "consumer": "middle-end"}},
         "Invalid qos specs: Valid consumer of QoS specs are: QoSConsumerValues(default=<class "
         "'oslo_versionedobjects.fields.UnspecifiedDefault'>,nullable=False,valid_values=("
         "'back-end', 'front-end', 'both'))"),
        ({"qos_specs": {"name": "x", "consumer": None}}, None),
        ({"qos_specs": {"name": "x", "read_iops_sec": 2000}},
         'Invalid input received: Value for key "read_iops_sec" is not a string or unicode'),
        ({"qos_specs": {"name": "x", "k": "v" * 256}},
         'Invalid input received: Value for key "k" has 256 characters, more than 255.'),
        ({"qos_specs": {"name": ""}},
         "An invalid 'name' value was provided. The 'name' can not be None."),
        ({"qos_specs": {"name": "   "}},
         "An invalid 'name' value was provided. The 'name' can not be empty."),
        ({"qos_specs": {"name": 7}},
         "Invalid input for field/attribute name. Value: 7. 7 is not of type 'string'"),
        ({"qos_specs": {"consumer": "front-end"}},
         "Invalid input for field/attribute qos_specs. Value: {'consumer': 'front-end'}. "
         "'name' is a required property"),
        ({"qos_specs": "x"}, None),
        ({}, "'qos_specs' is a required property"),
        ({"qos_specs": {"name": "x"}, "extra": 1},
         "Additional properties are not allowed ('extra' was unexpected)"),
        ([], "[] is not of type 'object'"),
    ],
)  # fmt: skip
def test_bad_create_is_400_and_creates_nothing(
    api: VolumeApi, body: Any, message: str | None
) -> None:
    if isinstance(body, dict) and isinstance(body.get("qos_specs"), dict) and "name" in body[
            "qos_specs"] and body["qos_specs"]["name"] == "x":  # fmt: skip
        body["qos_specs"]["name"] = unique("bad")
    before = {q["id"] for q in api.get("/qos-specs").json()["qos_specs"]}
    got = api.assert_fault(api.post("/qos-specs", json=body), 400)
    if message is not None:
        assert got == message
    names = {q["name"] for q in api.get("/qos-specs").json()["qos_specs"]}
    if isinstance(body, dict) and isinstance(body.get("qos_specs"), dict):
        assert body["qos_specs"].get("name") not in names
    assert {q["id"] for q in api.get("/qos-specs").json()["qos_specs"]} - before == set()


def test_duplicate_name_is_409(service: Service, api: VolumeApi, make_qos: Maker) -> None:
    existing = make_qos(consumer="front-end", total_iops_sec="10")
    message = api.assert_fault(
        api.post("/qos-specs", json={"qos_specs": {"name": existing["name"], "a": "b"}}), 409
    )
    assert message == f"QoS Specs {existing['name']} already exists."
    assert snapshot_of(api, existing["id"]) == existing
    errors = [n for n in qos_events(service, existing["name"]) if n["priority"] == "ERROR"]
    assert [n["event_type"] for n in errors] == ["qos_specs.create"]
    assert errors[0]["payload"]["error_message"] == message


def test_bad_set_and_unset_change_nothing(api: VolumeApi, make_qos: Maker) -> None:
    qos = make_qos(consumer="back-end", a="1", b="2")
    bad_sets = [
        ({"qos_specs": {"consumer": "sideways", "a": "9"}}, 400),
        ({"qos_specs": {"a": 9}}, 400),
        ({"qos_specs": {"bad key!": "1"}}, 400),
        ({"qos_specs": {"a": "x" * 256}}, 400),
        ({"specs": {"a": "1"}}, 400),
    ]
    for body, status in bad_sets:
        api.assert_fault(api.put(f"/qos-specs/{qos['id']}", json=body), status)
    bad_unsets = [
        ({"keys": ["a", "missing"]}, 404),
        ({"keys": ["a", "a"]}, 400),
        ({"keys": "a"}, 400),
        ({"keys": [""]}, 400),
        ({"key": ["a"]}, 400),
    ]
    for body, status in bad_unsets:
        api.assert_fault(api.put(f"/qos-specs/{qos['id']}/delete_keys", json=body), status)
    assert snapshot_of(api, qos["id"]) == qos
    message = api.assert_fault(
        api.put(f"/qos-specs/{qos['id']}/delete_keys", json={"keys": ["missing"]}), 404
    )
    assert message == f"QoS spec {qos['id']} has no spec with key missing."


def test_missing_specs_and_types_are_404(
    api: VolumeApi,
    make_qos: Maker,
    make_type: Maker,
) -> None:
    missing = str(uuid.uuid4())
    qos = make_qos()
    volume_type = make_type()
    for call in (
        lambda: api.get(f"/qos-specs/{missing}"),
        lambda: api.put(f"/qos-specs/{missing}", json={"qos_specs": {"a": "1"}}),
        lambda: api.delete(f"/qos-specs/{missing}"),
        lambda: api.put(f"/qos-specs/{missing}/delete_keys", json={"keys": ["a"]}),
        lambda: api.get(f"/qos-specs/{missing}/associations"),
        lambda: api.get(f"/qos-specs/{missing}/associate?vol_type_id={volume_type['id']}"),
        lambda: api.get(f"/qos-specs/{missing}/disassociate_all"),
    ):
        assert api.assert_fault(call(), 404) == f"No such QoS spec {missing}."
    # Associating to a type that does not exist changes nothing.
    message = api.assert_fault(
        api.get(f"/qos-specs/{qos['id']}/associate", params={"vol_type_id": missing}), 404
    )
    assert message == f"Volume type {missing} could not be found."
    api.assert_fault(
        api.get(f"/qos-specs/{qos['id']}/disassociate", params={"vol_type_id": missing}), 404
    )
    for action in ("associate", "disassociate"):
        message = api.assert_fault(api.get(f"/qos-specs/{qos['id']}/{action}"), 400)
        assert message == "Volume Type id must not be None."
    assert api.get(f"/qos-specs/{qos['id']}/associations").json()["qos_associations"] == []


def test_list_sorts_and_pages(api: VolumeApi, make_qos: Maker) -> None:
    prefix = unique("page")
    made = [make_qos(name=f"{prefix}-{i}") for i in range(3)]
    ids = [q["id"] for q in made]
    by_name = api.get("/qos-specs", params={"sort": "name:asc"}).json()["qos_specs"]
    mine = [q["id"] for q in by_name if q["name"].startswith(prefix)]
    assert mine == ids
    page = api.get("/qos-specs", params={"name": made[1]["name"]}).json()
    assert page == {"qos_specs": [made[1]]}
    first = api.get("/qos-specs", params={"limit": 1, "sort": "created_at:desc"}).json()
    assert len(first["qos_specs"]) == 1
    assert first["qos_specs_links"][0]["rel"] == "next"
    assert "marker=" in first["qos_specs_links"][0]["href"]
    api.assert_fault(api.get("/qos-specs", params={"sort": "colour"}), 400)
    api.assert_fault(api.get("/qos-specs", params={"limit": "x"}), 400)
    api.assert_fault(api.get("/qos-specs", params={"marker": str(uuid.uuid4())}), 404)


# -- the clients people use -------------------------------------------------------------


def keystone_session(service: Service, project: str) -> ks_session.Session:
    endpoint = service.endpoint(project)
    return ks_session.Session(auth=token_endpoint.Token(endpoint, f"admin:{project}"))


def test_cinderclient_qos(service: Service, project: str, api: VolumeApi) -> None:
    cinder = cinder_client.Client("3.71", session=keystone_session(service, project))
    name = unique("cc-qos")
    qos = cinder.qos_specs.create(name, {"consumer": "front-end", "read_iops_sec": "1000"})
    try:
        assert (qos.name, qos.consumer, qos.specs) == (name, "front-end", {"read_iops_sec": "1000"})
        assert cinder.qos_specs.get(qos.id).name == name
        assert qos.id in {q.id for q in cinder.qos_specs.list()}
        cinder.qos_specs.set_keys(qos.id, {"write_iops_sec": "500"})
        cinder.qos_specs.unset_keys(qos.id, ["read_iops_sec"])
        assert cinder.qos_specs.get(qos.id).specs == {"write_iops_sec": "500"}
        volume_type = cinder.volume_types.create(unique("cc-type"))
        try:
            cinder.qos_specs.associate(qos, volume_type.id)
            assert [a.id for a in cinder.qos_specs.get_associations(qos)] == [volume_type.id]
            with pytest.raises(cinder_exceptions.BadRequest):
                cinder.qos_specs.delete(qos)
            cinder.qos_specs.disassociate(qos, volume_type.id)
            assert cinder.qos_specs.get_associations(qos) == []
            cinder.qos_specs.associate(qos, volume_type.id)
            cinder.qos_specs.disassociate_all(qos)
            assert cinder.qos_specs.get_associations(qos) == []
        finally:
            cinder.volume_types.delete(volume_type)
        with pytest.raises(cinder_exceptions.ClientException) as refused:
            cinder.qos_specs.create(name, {})
        assert refused.value.code == 409
    finally:
        cinder.qos_specs.delete(qos, force=True)
    with pytest.raises(cinder_exceptions.NotFound):
        cinder.qos_specs.get(qos.id)


def associations(conn: Any, qos_id: str) -> list[Any]:
    return list(QoSSpecAssociation.list(conn.block_storage, qos_spec_id=qos_id))


def test_openstacksdk_qos(service: Service, project: str) -> None:
    conn = openstack.connection.Connection(
        session=keystone_session(service, project),
        block_storage_endpoint_override=service.endpoint(project),
        block_storage_api_version="3",
    )
    try:
        name = unique("sdk-qos")
        qos = conn.block_storage.create_qos_spec(name=name, consumer="both", total_iops_sec="300")
        try:
            assert (qos.name, qos.consumer) == (name, "both")
            assert conn.block_storage.get_qos_spec(qos.id).specs == {"total_iops_sec": "300"}
            assert conn.block_storage.find_qos_spec(name).id == qos.id
            assert qos.id in {q.id for q in conn.block_storage.qos_specs()}
            volume_type = conn.block_storage.create_type(name=unique("sdk-type"))
            try:
                conn.block_storage.associate_qos_spec(qos, volume_type.id)
                assert [a.id for a in associations(conn, qos.id)] == [volume_type.id]
                conn.block_storage.disassociate_qos_spec(qos, volume_type.id)
                assert associations(conn, qos.id) == []
            finally:
                conn.block_storage.delete_type(volume_type)
        finally:
            conn.block_storage.delete_qos_spec(qos, force=True)
        assert conn.block_storage.find_qos_spec(name) is None
    finally:
        conn.close()
