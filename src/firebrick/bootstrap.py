"""The composition root: the one place that builds Firebrick's parts from configuration.

The embedded all-in-one mode and the scaled-out roles differ only in what is built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from firebrick.api.app import create_app
from firebrick.api.volume_api import VolumeAPI
from firebrick.config import Config
from firebrick.db import types
from firebrick.db.engine import Database
from firebrick.notifier import Notifier
from firebrick.rpc.bus import Bus
from firebrick.rpc.inprocess import InProcessBus
from firebrick.scheduler.filter_scheduler import FilterScheduler
from firebrick.scheduler.filters import build_filters
from firebrick.scheduler.manager import SchedulerManager
from firebrick.scheduler.weighers import build_weighers
from firebrick.volume import drivers
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

    def stop(self) -> None:
        for manager in self.volume_managers:
            manager.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        self.bus.close()
        self.notifier.close()
        self.db.dispose()


def build_bus(config: Config) -> Bus:
    if config.transport_url:
        raise SystemExit(
            "transport_url is set, but this build of Firebrick has only the in-process bus."
        )
    return InProcessBus()


def build_database(config: Config) -> Database:
    db = Database(config.database_url)
    db.create_schema()
    with db.write() as conn:
        types.ensure_default(conn)
    return db


def build_filter_scheduler(config: Config) -> FilterScheduler:
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
    return SchedulerManager(
        host=config.host,
        availability_zone=config.storage_availability_zone,
        db=db,
        bus=bus,
        notifier=notifier,
        scheduler=build_filter_scheduler(config),
        service_down_time=config.service_down_time,
        report_interval=config.report_interval,
    )


def build_volume_managers(
    config: Config, db: Database, bus: Bus, notifier: Notifier, only: str | None = None
) -> list[VolumeManager]:
    managers = []
    for backend in config.backends:
        if only is not None and backend.name != only:
            continue
        managers.append(
            VolumeManager(
                backend=f"{config.host}@{backend.name}",
                availability_zone=backend.availability_zone,
                driver=drivers.load(backend, config.state_path),
                db=db,
                bus=bus,
                notifier=notifier,
                max_attempts=config.scheduler_max_attempts,
                report_interval=config.report_interval,
            )
        )
    return managers


def build_api(config: Config, db: Database, bus: Bus, notifier: Notifier) -> Any:
    volume_api = VolumeAPI(
        db=db,
        bus=bus,
        notifier=notifier,
        host=config.host,
        default_volume_type=config.default_volume_type,
        default_availability_zone=config.storage_availability_zone,
        quota_defaults=config.quotas,
    )
    return create_app(
        volume_api=volume_api,
        db=db,
        default_volume_type=config.default_volume_type,
        max_limit=config.osapi_max_limit,
        service_down_time=config.service_down_time,
        quota_defaults=config.quotas,
        scheduler=build_filter_scheduler(config),
        public_endpoint=config.public_endpoint,
    )


def all_in_one(config: Config) -> Services:
    """api + scheduler + one volume service per backend, in this process."""
    config.state_path.mkdir(parents=True, exist_ok=True)
    db = build_database(config)
    bus = build_bus(config)
    notifier = Notifier(config.notifications_path)
    services = Services(config=config, db=db, bus=bus, notifier=notifier)
    services.volume_managers = build_volume_managers(config, db, bus, notifier)
    for manager in services.volume_managers:
        manager.start()
    services.scheduler = build_scheduler(config, db, bus, notifier)
    services.scheduler.start()
    services.app = build_api(config, db, bus, notifier)
    return services
