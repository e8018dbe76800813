"""Log files per role under ``log_dir``: volume.log, scheduler.log, api.log, backup.log."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s [%(threadName)s] %(message)s"

ROLE_LOGGERS = {
    "volume": ["firebrick.volume", "firebrick.targets", "taskflow"],
    "scheduler": ["firebrick.scheduler"],
    "backup": ["firebrick.backup"],
    # keystonemiddleware and keystoneauth: token checks and their failures (never the
    # tokens: keystoneauth masks them and the passwords it sends).
    "api": [
        "firebrick.api",
        "firebrick.notifications",
        "uvicorn.error",
        "keystonemiddleware",
        "keystoneauth",
    ],
}


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
    for role in roles:
        handler = logging.FileHandler(log_dir / f"{role}.log", encoding="utf-8")
        handler.setFormatter(formatter)
        for name in ROLE_LOGGERS[role]:
            logger = logging.getLogger(name)
            logger.setLevel(level if name != "taskflow" else logging.WARNING)
            logger.addHandler(handler)
    logging.getLogger("firebrick").setLevel(level)
