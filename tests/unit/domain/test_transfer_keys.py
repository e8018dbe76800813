from __future__ import annotations

from firebrick.domain import transfers


def test_a_key_opens_only_its_own_seal() -> None:
    key = transfers.new_auth_key()
    assert len(key) == transfers.AUTH_KEY_LENGTH
    assert int(key, 16) >= 0  # hex: a person can type it
    secret = transfers.seal(key)
    assert transfers.opens(secret, key)
    assert key not in (secret.salt, secret.crypt_hash)
    for wrong in ("", key.upper() if key != key.upper() else "x", key[:-1], key + "0"):
        assert not transfers.opens(secret, wrong)
    other = transfers.seal(key)
    assert other.salt != secret.salt and other.crypt_hash != secret.crypt_hash


def test_keys_are_not_repeated() -> None:
    assert len({transfers.new_auth_key() for _ in range(200)}) == 200


def test_what_a_volume_and_its_snapshots_move() -> None:
    volume = transfers.volume_deltas(3, "gold")
    assert volume == {"volumes": 1, "gigabytes": 3, "volumes_gold": 1, "gigabytes_gold": 3}
    snapshots = transfers.snapshot_deltas([3, 3], "gold")
    assert snapshots == {"snapshots": 2, "gigabytes": 6, "snapshots_gold": 2,
                         "gigabytes_gold": 6}  # fmt: skip
    assert transfers.snapshot_deltas([], None) == {}
    assert transfers.snapshot_deltas([2], None) == {"snapshots": 1, "gigabytes": 2}
    total = transfers.plus(volume, snapshots)
    assert total["gigabytes"] == 9 and total["volumes"] == 1 and total["snapshots"] == 2
    assert transfers.negated(total)["gigabytes_gold"] == -9
