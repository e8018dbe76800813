"""Back-end QoS specs as the limits of a qemu ``throttle-group``.

A spec's rates (Cinder's and libvirt's names, already resolved per GiB) map to qemu's
throttle limits; qemu refuses some combinations (a total rate together with a read or
write rate of the same kind, a burst without its rate or below it, a burst length without
a burst), so those parts are dropped and named rather than failing the export. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# qemu's THROTTLE_VALUE_MAX.
VALUE_MAX: Final = 1_000_000_000_000_000

# Cinder/libvirt key -> qemu throttle-group limit.
RATES: Final = {
    "total_bytes_sec": "bps-total",
    "read_bytes_sec": "bps-read",
    "write_bytes_sec": "bps-write",
    "total_iops_sec": "iops-total",
    "read_iops_sec": "iops-read",
    "write_iops_sec": "iops-write",
}
KEYS: Final = (
    tuple(RATES)
    + tuple(f"{k}_max" for k in RATES)
    + tuple(f"{k}_max_length" for k in RATES)
    + ("size_iops_sec",)
)


@dataclass(frozen=True)
class Throttle:
    limits: dict[str, int] = field(default_factory=dict)  # qemu limit -> value, in KEYS order
    ignored: dict[str, str] = field(default_factory=dict)  # spec key -> why


def _value(raw: object) -> int | None:
    """A positive integer within qemu's range; None for anything else (0 means no limit)."""
    if isinstance(raw, bool):
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        return None
    return value if 0 < value <= VALUE_MAX else None


def throttle(specs: Mapping[str, object]) -> Throttle:
    """The throttle limits ``specs`` ask for, and the keys left out with the reason."""
    ignored: dict[str, str] = {}
    wanted: dict[str, int] = {}
    for key in KEYS:
        if key not in specs:
            continue
        value = _value(specs[key])
        if value is None:
            ignored[key] = "not a positive integer"
        else:
            wanted[key] = value
    for kind in ("bytes", "iops"):
        total = f"total_{kind}_sec"
        if total in wanted:
            for side in ("read", "write"):
                for suffix in ("", "_max", "_max_length"):
                    key = f"{side}_{kind}_sec{suffix}"
                    if wanted.pop(key, None) is not None:
                        ignored[key] = f"{total} is set (qemu takes one or the other)"
    for rate in RATES:
        burst, length = f"{rate}_max", f"{rate}_max_length"
        if burst in wanted and rate not in wanted:
            ignored[burst] = f"no {rate} to burst above"
            del wanted[burst]
        elif burst in wanted and wanted[burst] < wanted[rate]:
            ignored[burst] = f"below {rate}"
            del wanted[burst]
        if length in wanted and burst not in wanted:
            ignored[length] = f"no {burst}"
            del wanted[length]
    if "size_iops_sec" in wanted and not any("iops" in k for k in wanted if k != "size_iops_sec"):
        ignored["size_iops_sec"] = "no iops rate"
        del wanted["size_iops_sec"]
    limits = {_qemu_name(key): value for key, value in wanted.items()}
    return Throttle(limits, ignored)


def _qemu_name(key: str) -> str:
    if key == "size_iops_sec":
        return "iops-size"
    for rate, name in RATES.items():
        if key == rate:
            return name
        if key == f"{rate}_max":
            return f"{name}-max"
        if key == f"{rate}_max_length":
            return f"{name}-max-length"
    raise KeyError(key)


def group_object(group_id: str, limits: Mapping[str, int]) -> str:
    """The ``--object`` argument defining the throttle group."""
    settings = [f"limits.{name}={value}" for name, value in limits.items()]
    return ",".join([f"throttle-group,id={group_id}", *settings])


def image_opts(group_id: str, fmt: str, path: str) -> str:
    """The ``--image-opts`` FILE argument: the volume file under a throttle filter.

    Commas in the path are doubled, as qemu's option syntax escapes them.
    """
    escaped = path.replace(",", ",,")
    if path.startswith("rbd:"):
        # QEMU parses the rbd: name itself when no protocol driver is named.
        return (
            f"driver=throttle,throttle-group={group_id},file.driver={fmt},"
            f"file.file.filename={escaped}"
        )
    return (
        f"driver=throttle,throttle-group={group_id},file.driver={fmt},"
        f"file.file.driver=file,file.file.filename={escaped}"
    )
