"""Log files per role under ``log_dir``: volume.log, scheduler.log, api.log."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s [%(threadName)s] %(message)s"

ROLE_LOGGERS = {
    "volume": ["firebrick.volume", "firebrick.targets", "taskflow"],
    "scheduler": ["firebrick.scheduler"],
    # keystonemiddleware and keystoneauth: token checks and their failures (never the
    # tokens: keystoneauth masks them and the passwords it sends).
    "api": [
        "firebrick.api",
        "uvicorn.error",
        "keystonemiddleware",
        "keystoneauth",
    ],
}


NOTIFICATION_LOGGERS = ["firebrick.notifications", "oslo_messaging", "oslo.messaging.notification"]


def setup(log_dir: Path, roles: list[str], *, debug: bool = False) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter(FORMAT)
    level = logging.DEBUG if debug else logging.INFO
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(formatter)
    console.setLevel(logging.WARNING)
    root.addHandler(console)
    handlers: dict[str, logging.Handler] = {}
    for role in roles:
        handler = logging.FileHandler(log_dir / f"{role}.log", encoding="utf-8")
        handlers[role] = handler
        handler.setFormatter(formatter)
        for name in ROLE_LOGGERS[role]:
            logger = logging.getLogger(name)
            logger.setLevel(level if name != "taskflow" else logging.WARNING)
            logger.addHandler(handler)
    # The notifications' own log (each event, the sender's broker outages and drop counts,
    # oslo.messaging's connection messages, the log driver's events): in api.log where the
    # process has the api role, else in its first role's log.
    notifications = handlers.get("api") or handlers[roles[0]] if roles else None
    for name in NOTIFICATION_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if notifications is not None:
            logger.addHandler(notifications)
    logging.getLogger("firebrick").setLevel(level)
