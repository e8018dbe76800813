"""Images with the clients people use: the ``openstack`` CLI and openstacksdk, against the
Firebrick and the Glance that the Keystone catalog lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from glance_helpers import GlanceEnv, MiB, disk_bytes
from harness import Service
from keystone_helpers import KeystoneEnv

DATA = os.urandom(MiB) + b"\0" * MiB + b"cli" * 5000


@pytest.fixture(scope="module")
def cli_env(keystone: KeystoneEnv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    clouds = keystone.clouds_yaml(tmp_path_factory.mktemp("osc-images") / "clouds.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    env["HOME"] = str(clouds.parent)
    return env


def openstack_json(env: dict[str, str], cloud: str, *args: str) -> Any:
    script = Path(sys.executable).parent / "openstack"
    result = subprocess.run([str(script), "--os-cloud", cloud, *args, "-f", "json"], env=env,
                            capture_output=True, text=True, timeout=180, check=False,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)


def test_openstack_cli_volume_from_image_and_image_from_volume(
    keystone: KeystoneEnv, keystone_service: Service, glance: GlanceEnv,
    cli_env: dict[str, str],
) -> None:  # fmt: skip
    image = glance.image("alpha", DATA, "qcow2", virtual_size=4 * MiB)
    name = f"osc-img-{uuid.uuid4().hex[:8]}"
    # By the image's name, as people type it; the CLI finds Glance in the catalog too.
    created = openstack_json(cli_env, "alpha-member", "volume", "create", "--size", "1",
                             "--image", image["name"], name)  # fmt: skip
    conn = keystone.connect("alpha", "member")
    try:
        volume = conn.block_storage.wait_for_status(
            conn.block_storage.get_volume(created["id"]), "available", interval=0.2, wait=120
        )
        assert volume.is_bootable
        assert volume.volume_image_metadata["image_id"] == image["id"]
        path = keystone_service.find_volume_file(volume.id)
        assert path is not None and disk_bytes(path, "raw", len(DATA)) == DATA

        uploaded = openstack_json(cli_env, "alpha-member", "image", "create", "--volume",
                                  volume.id, "--disk-format", "qcow2", f"{name}-up")  # fmt: skip
        conn.block_storage.wait_for_status(volume, "available", interval=0.2, wait=120)
        image_id = uploaded["image_id"]
        conn.image.wait_for_status(conn.image.get_image(image_id), "active", interval=0.2,
                                   wait=120)  # fmt: skip
        # openstacksdk: a volume from the uploaded image holds the same bytes.
        copy = conn.block_storage.create_volume(size=1, image_id=image_id, name=f"{name}-copy")
        copy = conn.block_storage.wait_for_status(copy, "available", interval=0.2, wait=120)
        copy_path = keystone_service.find_volume_file(copy.id)
        assert copy_path is not None and disk_bytes(copy_path, "raw", len(DATA)) == DATA
        # openstacksdk's own upload call.
        sdk_upload = conn.block_storage.upload_volume_to_image(copy, f"{name}-sdk",
                                                               disk_format="raw")  # fmt: skip
        conn.block_storage.wait_for_status(copy, "available", interval=0.2, wait=180)
        done = conn.image.wait_for_status(conn.image.get_image(sdk_upload["image_id"]),
                                          "active", interval=0.2, wait=180)  # fmt: skip
        assert done.disk_format == "raw"
        for vid in (copy.id, volume.id):
            conn.block_storage.delete_volume(vid)
        for iid in (image_id, sdk_upload["image_id"]):
            conn.image.delete_image(iid)
    finally:
        conn.close()
