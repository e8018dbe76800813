"""Configuration from a cinder.conf-style INI file, with Cinder's option names.

The file is read once, in the composition root; every part gets the typed values it needs
as parameters, never a global.
"""

from __future__ import annotations

import configparser
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BACKEND = "file-1"
AUTH_STRATEGIES = ("noauth", "keystone")


@dataclass(frozen=True)
class BackendConfig:
    name: str  # section name: the backend part of host@backend
    volume_driver: str
    volume_backend_name: str
    availability_zone: str
    reserved_percentage: int
    max_over_subscription_ratio: str
    options: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.options.get(key)
        return default if value is None else parse_bool(value)


@dataclass(frozen=True)
class QuotaDefaults:
    volumes: int = 10
    snapshots: int = 10
    gigabytes: int = 1000
    per_volume_gigabytes: int = -1
    groups: int = 10
    backups: int = 10
    backup_gigabytes: int = 1000


@dataclass(frozen=True)
class NotificationOptions:
    """Where notifications go: Cinder's ``[oslo_messaging_notifications]`` options.

    ``drivers`` are oslo.messaging's (``messagingv2``, ``messaging``, ``log``, ``noop``)
    plus Firebrick's ``file`` (``notifications.jsonl`` under the state path), the default
    when ``driver`` is not set at all, so that a laptop without a broker keeps its events.
    """

    drivers: tuple[str, ...] = ("file",)
    topics: tuple[str, ...] = ("notifications",)
    transport_url: str | None = None
    retry: int = -1
    control_exchange: str = "openstack"
    # [oslo_messaging_rabbit] as written, handed to oslo.messaging's rabbit driver.
    rabbit: dict[str, str] = field(default_factory=dict)
    # Firebrick's own: events waiting for the broker at most, and how long a send may
    # hold before the broker counts as unreachable (and at stop: before giving up).
    buffer_size: int = 10000
    send_timeout: float = 10.0

    @property
    def to_bus(self) -> bool:
        return any(d in BUS_DRIVERS for d in self.drivers)


BUS_DRIVERS = ("messaging", "messagingv2")
NOTIFICATION_DRIVERS = ("file", "log", "noop", *BUS_DRIVERS)


@dataclass(frozen=True)
class Config:
    host: str
    state_path: Path
    listen: str
    port: int
    database_url: str
    transport_url: str | None
    auth_strategy: str
    default_volume_type: str
    storage_availability_zone: str
    scheduler_max_attempts: int
    scheduler_default_filters: list[str]
    scheduler_default_weighers: list[str]
    capacity_weight_multiplier: float
    report_interval: float
    service_down_time: float
    osapi_max_limit: int
    quotas: QuotaDefaults
    backends: list[BackendConfig]
    log_dir: Path
    debug: bool
    # Firebrick's own: how long a volume may sit in creating/deleting without progress
    # before its request is sent again, and how often that is checked.
    transitional_status_timeout: float = 120.0
    reconcile_interval: float = 30.0
    public_endpoint: str | None = None
    # auth_strategy = keystone: keystonemiddleware's options, as cinder.conf spells them.
    keystone_authtoken: dict[str, str] = field(default_factory=dict)
    # [oslo_policy] policy_file: the operator's overrides of Cinder's policy defaults.
    policy_file: Path | None = None
    # The group type GET /group_types/default answers (Cinder's default_group_type).
    default_group_type: str | None = None
    # Glance: Cinder's glance_api_servers (else the Keystone catalog's "image" service),
    # and whether os-volume_upload_image may take an in-use volume with force.
    glance_api_servers: list[str] = field(default_factory=list)
    enable_force_upload: bool = False
    # The backup service's options (Cinder's backup_* names), read by firebrick.backup.
    backup: dict[str, str] = field(default_factory=dict)
    notifications: NotificationOptions = field(default_factory=NotificationOptions)
    # Cinder's: the period ``firebrick volume-usage-audit`` reports by default.
    volume_usage_audit_period: str = "month"
    # Prometheus metrics (firebrick.metrics): on by default; the api serves them at /metrics,
    # other roles on metrics_listen:metrics_port when set (or --metrics-port). Quota usage
    # is labelled by project only when metrics_project_labels is set (one series a project).
    metrics_enabled: bool = True
    metrics_listen: str = "127.0.0.1"
    metrics_port: int | None = None
    metrics_project_labels: bool = False
    # The dashboard's per-volume timeline: each create flow run, saved in its last commit.
    record_flow_timelines: bool = True
    # The embedded API server's bound on how long a request body may take to arrive
    # (seconds, 0: none); Cinder's Apache or uwsgi front has its own.
    api_body_timeout: float = 60.0
    # Cinder's: API worker processes of ``firebrick serve``, beside one process for the
    # other roles, reached over a Unix socket (firebrick.supervisor, firebrick.rpc.local).
    # Default: one per CPU but one; 0: everything in one process.
    osapi_volume_workers: int = 0
    # Cinder's (oslo.service's) client_socket_timeout: an idle keep-alive connection is
    # closed after this many seconds. uvicorn's own default, 5 s, raced clients that sent
    # their next request just as a busy event loop got to its timer (a reset connection).
    client_socket_timeout: float = 900.0

    @property
    def notifications_path(self) -> Path:
        return self.state_path / "notifications.jsonl"


def parse_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on", "y", "t"}


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class _Sections(dict[str, list[str]]):
    """A section as configparser fills it, where a multi-valued option (oslo.config's
    MultiStrOpt, such as ``driver``) may be given on several lines and keeps them all."""

    def __setitem__(self, key: str, value: list[str]) -> None:
        if key in MULTI_VALUED and key in self and isinstance(value, list):
            value = [*self[key], *value]
        super().__setitem__(key, value)


MULTI_VALUED = frozenset({"driver"})


def load(path: str | Path | None = None) -> Config:
    """Read ``path`` (or nothing: all defaults) into a Config."""
    # [DEFAULT] is read as a plain section so that its keys do not leak into backends.
    # Not strict: oslo.config allows an option twice (the last wins, or all for driver).
    parser = configparser.ConfigParser(
        interpolation=None, default_section="__defaults__", strict=False,
        dict_type=_Sections,  # type: ignore[arg-type]
    )  # fmt: skip
    if path is not None:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    defaults = dict(parser["DEFAULT"]) if parser.has_section("DEFAULT") else {}

    def opt(key: str, fallback: str) -> str:
        return defaults.get(key, fallback)

    state_path = Path(opt("state_path", "./data")).expanduser().absolute()
    database = dict(parser["database"]) if parser.has_section("database") else {}
    database_url = database.get("connection", f"sqlite:///{state_path / 'firebrick.sqlite'}")
    database_url = database_url.replace("{state_path}", str(state_path))
    default_az = opt("storage_availability_zone", "nova")

    backends = []
    for name in _list(opt("enabled_backends", DEFAULT_BACKEND)):
        section = dict(parser[name]) if parser.has_section(name) else {}
        options = {k: v.replace("{state_path}", str(state_path)) for k, v in section.items()}
        backends.append(
            BackendConfig(
                name=name,
                volume_driver=options.pop("volume_driver", "file"),
                volume_backend_name=options.pop("volume_backend_name", name),
                availability_zone=options.pop("backend_availability_zone", default_az),
                reserved_percentage=int(options.pop("reserved_percentage", "0")),
                max_over_subscription_ratio=options.pop("max_over_subscription_ratio", "20.0"),
                options=options,
            )
        )

    auth_strategy = opt("auth_strategy", "noauth").strip().lower()
    if auth_strategy not in AUTH_STRATEGIES:
        raise ValueError(
            f"auth_strategy = {auth_strategy!r}: expected one of {', '.join(AUTH_STRATEGIES)}"
        )
    keystone = (
        dict(parser["keystone_authtoken"]) if parser.has_section("keystone_authtoken") else {}
    )
    policy_file = _policy_file(parser, path)

    return Config(
        host=opt("host", socket.gethostname()),
        state_path=state_path,
        listen=opt("osapi_volume_listen", "127.0.0.1"),
        port=int(opt("osapi_volume_listen_port", "8776")),
        database_url=database_url,
        transport_url=defaults.get("transport_url") or None,
        auth_strategy=auth_strategy,
        default_volume_type=opt("default_volume_type", "__DEFAULT__"),
        storage_availability_zone=default_az,
        scheduler_max_attempts=max(1, int(opt("scheduler_max_attempts", "3"))),
        scheduler_default_filters=_list(
            opt(
                "scheduler_default_filters",
                "AvailabilityZoneFilter,CapacityFilter,CapabilitiesFilter",
            )
        ),
        scheduler_default_weighers=_list(opt("scheduler_default_weighers", "CapacityWeigher")),
        capacity_weight_multiplier=float(opt("capacity_weight_multiplier", "1.0")),
        report_interval=float(opt("report_interval", "10")),
        service_down_time=float(opt("service_down_time", "60")),
        osapi_max_limit=int(opt("osapi_max_limit", "1000")),
        quotas=QuotaDefaults(
            volumes=int(opt("quota_volumes", "10")),
            snapshots=int(opt("quota_snapshots", "10")),
            gigabytes=int(opt("quota_gigabytes", "1000")),
            per_volume_gigabytes=int(opt("per_volume_size_limit", "-1")),
            groups=int(opt("quota_groups", "10")),
            backups=int(opt("quota_backups", "10")),
            backup_gigabytes=int(opt("quota_backup_gigabytes", "1000")),
        ),
        backends=backends,
        log_dir=Path(opt("log_dir", str(state_path / "log"))).expanduser().absolute(),
        debug=parse_bool(opt("debug", "false")),
        transitional_status_timeout=float(opt("transitional_status_timeout", "120")),
        reconcile_interval=float(opt("reconcile_interval", "30")),
        public_endpoint=defaults.get("public_endpoint") or None,
        keystone_authtoken=keystone,
        policy_file=policy_file,
        default_group_type=defaults.get("default_group_type") or None,
        glance_api_servers=_list(opt("glance_api_servers", "")),
        enable_force_upload=parse_bool(opt("enable_force_upload", "false")),
        backup={
            k: v.replace("{state_path}", str(state_path)).replace("$state_path", str(state_path))
            for k, v in defaults.items()
            if k.startswith("backup_")
        },
        notifications=_notifications(parser, defaults),
        volume_usage_audit_period=opt("volume_usage_audit_period", "month").strip(),
        metrics_enabled=parse_bool(opt("metrics_enabled", "true")),
        metrics_listen=opt("metrics_listen", "127.0.0.1"),
        metrics_port=int(opt("metrics_port", "0")) or None,
        metrics_project_labels=parse_bool(opt("metrics_project_labels", "false")),
        record_flow_timelines=parse_bool(opt("record_flow_timelines", "true")),
        api_body_timeout=float(opt("api_body_timeout", "60")),
        client_socket_timeout=float(opt("client_socket_timeout", "900")),
        osapi_volume_workers=_workers(opt("osapi_volume_workers", "")),
    )


def _workers(value: str) -> int:
    """``osapi_volume_workers``: unset means a worker per CPU but the one the roles'
    process takes; 0 runs the API in the one process with every role."""
    if not value.strip():
        return max(1, (os.cpu_count() or 1) - 1)
    workers = int(value)
    if workers < 0:
        raise ValueError(f"osapi_volume_workers = {value}: expected 0 or more")
    return workers


def _notifications(
    parser: configparser.ConfigParser, defaults: dict[str, str]
) -> NotificationOptions:
    """``[oslo_messaging_notifications]``, ``control_exchange`` and ``[oslo_messaging_rabbit]``
    as Cinder reads them; the transport defaults to ``[DEFAULT] transport_url``."""

    def section(name: str) -> dict[str, str]:
        return dict(parser[name]) if parser.has_section(name) else {}

    options = section("oslo_messaging_notifications")
    if "driver" in options:
        drivers = tuple(d for line in options["driver"].splitlines() for d in _list(line))
    else:
        drivers = ("file",)
    unknown = [d for d in drivers if d not in NOTIFICATION_DRIVERS]
    if unknown:
        raise ValueError(
            f"[oslo_messaging_notifications] driver = {', '.join(unknown)}: expected "
            f"{', '.join(NOTIFICATION_DRIVERS)}"
        )
    found = NotificationOptions(
        drivers=drivers or ("noop",),
        topics=tuple(_list(options.get("topics", "notifications"))) or ("notifications",),
        transport_url=options.get("transport_url") or defaults.get("transport_url") or None,
        retry=int(options.get("retry", "-1")),
        control_exchange=defaults.get("control_exchange", "openstack").strip() or "openstack",
        rabbit=section("oslo_messaging_rabbit"),
        buffer_size=max(1, int(defaults.get("notification_buffer_size", "10000"))),
        send_timeout=max(0.1, float(defaults.get("notification_send_timeout", "10"))),
    )
    if found.to_bus and not found.transport_url:
        raise ValueError(
            f"[oslo_messaging_notifications] driver = {', '.join(drivers)} needs a broker: "
            "set transport_url there or in [DEFAULT]."
        )
    return found


def _policy_file(parser: configparser.ConfigParser, path: str | Path | None) -> Path | None:
    """``[oslo_policy] policy_file``, relative to the config file's folder as in Cinder.

    Unset: ``policy.yaml`` beside the config file if there is one, else Cinder's defaults.
    """
    section = dict(parser["oslo_policy"]) if parser.has_section("oslo_policy") else {}
    base = Path(path).expanduser().absolute().parent if path is not None else Path.cwd()
    name = section.get("policy_file", "").strip()
    if name:
        return (base / Path(name).expanduser()).absolute()
    beside = base / "policy.yaml"
    return beside if path is not None and beside.is_file() else None
