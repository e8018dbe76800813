"""The composition root: the one place that builds Firebrick's parts from configuration.

The embedded all-in-one mode and the scaled-out roles differ only in what is built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from firebrick.config import Config
from firebrick.db import types
from firebrick.db.engine import Database
from firebrick.metrics.bus import metered
from firebrick.notifier import Notifier
from firebrick.rpc.bus import Bus
from firebrick.rpc.inprocess import InProcessBus

# Each role's modules are imported where its parts are built: an API worker process does
# not load the flow engine and the drivers, nor the roles' process the web framework.
if TYPE_CHECKING:
    from firebrick.scheduler.filter_scheduler import FilterScheduler
    from firebrick.scheduler.manager import SchedulerManager
    from firebrick.volume.drivers.base import VolumeDriver
    from firebrick.volume.manager import VolumeManager


@dataclass
class Services:
    config: Config
    db: Database
    bus: Bus
    notifier: Notifier
    volume_managers: list[VolumeManager] = field(default_factory=list)
    scheduler: SchedulerManager | None = None
    app: Any = None
    backup_manager: Any = None  # firebrick.backup.manager.BackupManager

    def stop(self) -> None:
        for manager in self.volume_managers:
            manager.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.backup_manager is not None:
            self.backup_manager.stop()
        self.bus.close()
        self.notifier.close()
        self.db.dispose()


def build_bus(config: Config, service_name: str, *, shared: bool) -> Bus:
    """RabbitMQ when ``transport_url`` is set; the in-process bus for the all-in-one mode.

    ``shared``: the role runs beside others in separate processes, so it needs a real bus.
    """
    if config.transport_url:
        from firebrick.rpc.rabbit import RabbitBus

        return RabbitBus(config.transport_url, service_name=service_name)
    if shared:
        raise SystemExit(
            "Roles in separate processes talk over RabbitMQ: set transport_url "
            "(rabbit://user:password@host:port/) in [DEFAULT]."
        )
    return InProcessBus()


def build_database(config: Config) -> Database:
    """The database, migrated to the current schema (safe when several processes start)."""
    from firebrick.db.revision import at_head, upgrade_apart

    config.state_path.mkdir(parents=True, exist_ok=True)
    db = Database(config.database_url)
    if not at_head(db):
        upgrade_apart(config.database_url)
    with db.write() as conn:
        types.ensure_default(conn)
    return db


def build_filter_scheduler(config: Config) -> FilterScheduler:
    from firebrick.scheduler.filter_scheduler import FilterScheduler
    from firebrick.scheduler.filters import build_filters
    from firebrick.scheduler.weighers import build_weighers

    weighers = build_weighers(
        config.scheduler_default_weighers,
        {"CapacityWeigher": config.capacity_weight_multiplier},
    )
    return FilterScheduler(
        build_filters(config.scheduler_default_filters),
        weighers,
        max_attempts=config.scheduler_max_attempts,
    )


def build_scheduler(config: Config, db: Database, bus: Bus, notifier: Notifier) -> SchedulerManager:
    from firebrick.scheduler.manager import SchedulerManager

    return SchedulerManager(
        host=config.host,
        availability_zone=config.storage_availability_zone,
        db=db,
        bus=bus,
        notifier=notifier,
        scheduler=build_filter_scheduler(config),
        service_down_time=config.service_down_time,
        report_interval=config.report_interval,
        stuck_after=config.transitional_status_timeout,
        reconcile_interval=config.reconcile_interval,
    )


def build_volume_managers(
    config: Config, db: Database, bus: Bus, notifier: Notifier, only: str | None = None
) -> list[VolumeManager]:
    from firebrick.image.access import GlanceAccess
    from firebrick.targets import build_target
    from firebrick.volume import drivers
    from firebrick.volume.manager import VolumeManager

    managers = []
    directories: dict[str, str] = {}
    # The backends this process serves: a migration between two of them copies files.
    peers: dict[str, VolumeDriver] = {}
    glance = GlanceAccess.from_config(config)
    for backend in config.backends:
        if only is not None and backend.name != only:
            continue
        driver = drivers.load(backend, config.state_path)
        directory = str(getattr(driver, "directory", ""))
        if directory and directories.setdefault(directory, backend.name) != backend.name:
            # Each backend removes storage no volume of its own claims (orphans) at start.
            raise SystemExit(
                f"Backends {directories[directory]} and {backend.name} share {directory}; "
                "give each backend its own file_volume_dir."
            )
        # RBD backends hand librbd clients the image itself unless told to export it.
        options = backend.options
        if backend.volume_driver in drivers.RBD_DRIVERS:
            options = {"target_protocol": "rbd", **options}
        target = build_target(
            options, state_dir=config.state_path / "targets" / backend.name,
            backend=f"{config.host}@{backend.name}",
        )  # fmt: skip
        managers.append(
            VolumeManager(
                backend=f"{config.host}@{backend.name}",
                availability_zone=backend.availability_zone,
                driver=driver,
                db=db,
                bus=bus,
                notifier=notifier,
                max_attempts=config.scheduler_max_attempts,
                report_interval=config.report_interval,
                target=target,
                peers=peers,
                glance=glance,
                record_timelines=config.record_flow_timelines,
            )
        )
        peers[f"{config.host}@{backend.name}"] = driver
    return managers


def build_api(config: Config, db: Database, bus: Bus, notifier: Notifier) -> Any:
    from firebrick.api.app import create_app
    from firebrick.api.attachment_api import AttachmentAPI
    from firebrick.api.auth import TokenValidator
    from firebrick.api.snapshot_api import SnapshotAPI
    from firebrick.api.volume_actions import VolumeActions
    from firebrick.api.volume_api import VolumeAPI
    from firebrick.image.access import GlanceAccess
    from firebrick.policy import Policy

    volume_api = VolumeAPI(
        db=db,
        bus=bus,
        notifier=notifier,
        host=config.host,
        default_volume_type=config.default_volume_type,
        default_availability_zone=config.storage_availability_zone,
        quota_defaults=config.quotas,
        service_down_time=config.service_down_time,
    )
    attachment_api = AttachmentAPI(db=db, bus=bus, notifier=notifier, host=config.host)
    snapshot_api = SnapshotAPI(
        db=db, bus=bus, notifier=notifier, host=config.host, quota_defaults=config.quotas
    )
    scheduler = build_filter_scheduler(config)
    volume_actions = VolumeActions(
        db=db, bus=bus, notifier=notifier, host=config.host, scheduler=scheduler,
        quota_defaults=config.quotas,
    )  # fmt: skip
    app = create_app(
        volume_api=volume_api,
        snapshot_api=snapshot_api,
        volume_actions=volume_actions,
        attachment_api=attachment_api,
        db=db,
        default_volume_type=config.default_volume_type,
        max_limit=config.osapi_max_limit,
        service_down_time=config.service_down_time,
        quota_defaults=config.quotas,
        scheduler=scheduler,
        public_endpoint=config.public_endpoint,
        policy=Policy(config.policy_file),
        validator=TokenValidator(config.keystone_authtoken)
        if config.auth_strategy == "keystone"
        else None,
    )
    app.state.default_group_type = config.default_group_type  # GET /group_types/default
    # Read by the image routes (firebrick.api.image_api).
    app.state.glance = GlanceAccess.from_config(config)
    app.state.enable_force_upload = config.enable_force_upload
    return app


def build_backup(config: Config, db: Database, bus: Bus, notifier: Notifier) -> Any:
    from firebrick.backup import config as backup_config
    from firebrick.backup.manager import BackupManager

    return BackupManager(
        host=config.host, availability_zone=config.storage_availability_zone, db=db, bus=bus,
        notifier=notifier, settings=backup_config.load(config.backup, config.state_path),
        report_interval=config.report_interval,
    )  # fmt: skip


def all_in_one(config: Config) -> Services:
    """api + scheduler + one volume service per backend + backup, in this process."""
    return roles(config, ["volume", "scheduler", "api", "backup"], shared=False)


def roles(
    config: Config,
    names: list[str],
    *,
    backend: str | None = None,
    shared: bool = True,
    bus: Bus | None = None,
) -> Services:
    """Build and start the given roles (``api``, ``scheduler``, ``volume``) in this process.

    Volume services start first so that the scheduler finds their pools reported. ``bus``:
    the transport to use instead of the one the configuration names (an API worker's
    local bus).
    """
    db = build_database(config)
    bus = metered(bus or build_bus(config, "-".join(names), shared=shared))
    notifier = Notifier.from_options(config.notifications, config.notifications_path)
    services = Services(config=config, db=db, bus=bus, notifier=notifier)
    if "volume" in names:
        services.volume_managers = build_volume_managers(config, db, bus, notifier, backend)
        if backend is not None and not services.volume_managers:
            raise SystemExit(f"Backend {backend} is not in enabled_backends.")
        for manager in services.volume_managers:
            manager.start()
    if "scheduler" in names:
        services.scheduler = build_scheduler(config, db, bus, notifier)
        services.scheduler.start()
    if "api" in names:
        services.app = build_api(config, db, bus, notifier)
    # [backups]
    if "backup" in names:
        services.backup_manager = build_backup(config, db, bus, notifier)
        services.backup_manager.start()

    # [metrics]
    if services.app is not None:
        from firebrick.api import dashboard
        from firebrick.metrics import api_route

        api_route.install(services.app, db, config)
        dashboard.install(services.app, config)

    return services
