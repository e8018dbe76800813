"""Log files per role under ``log_dir``: volume.log, scheduler.log, api.log, backup.log."""

from __future__ import annotations

import logging
import sys
import time
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
        "uvicorn.error",
        "keystonemiddleware",
        "keystoneauth",
    ],
}


class LogFileHandler(logging.FileHandler):
    """A role's log file that, when it cannot be written (a full disk), says so in one
    line on stderr per run of failures instead of a traceback per record, and says how many
    records were lost once it can write again."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        dropped = self.dropped
        super().emit(record)  # calls handleError on a failure
        if dropped and self.dropped == dropped:
            self._say(f"writing {self.baseFilename} again; {dropped} log records were lost")
            self.dropped = 0

    def handleError(self, record: logging.LogRecord) -> None:
        self.dropped += 1
        if self.dropped == 1:
            error = sys.exc_info()[1]
            self._say(f"cannot write {self.baseFilename} ({error}); dropping log records")

    @staticmethod
    def _say(message: str) -> None:
        try:
            sys.stderr.write(f"Firebrick: {message}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


class Formatter(logging.Formatter):
    """FORMAT's text, its date and time made once a second: ``time.strftime`` for every
    record was a fifth of a record's cost, and a create logs about twenty."""

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self._second: tuple[int, str] = (-1, "")  # replaced whole, never torn by a thread

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        whole = int(record.created)
        second, text = self._second
        if second != whole:
            text = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(record.created))
            self._second = (whole, text)
        return f"{text},{int(record.msecs):03d}"


NOTIFICATION_LOGGERS = ["firebrick.notifications", "oslo_messaging", "oslo.messaging.notification"]


def setup(
    log_dir: Path, roles: list[str], *, debug: bool = False, notifications_in: str | None = None
) -> None:
    """Log files for ``roles``; ``notifications_in``: the role whose log gets the
    notifications' lines (the roles' process of ``firebrick serve`` puts them in api.log,
    beside its API workers', as one process does)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    # FORMAT names no caller (function, file, line) and no multiprocessing process name:
    # logging's documented switches skip looking them up for every record (a fifth of a
    # record's cost; a create logs about twenty).
    logging._srcfile = None
    logging.logMultiprocessing = False
    formatter = Formatter()
    level = logging.DEBUG if debug else logging.INFO
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(formatter)
    console.setLevel(logging.WARNING)
    root.addHandler(console)
    handlers: dict[str, logging.Handler] = {}
    for role in roles:
        handler = LogFileHandler(log_dir / f"{role}.log")
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
    if notifications_in is not None:
        notifications = handlers.get(notifications_in) or LogFileHandler(
            log_dir / f"{notifications_in}.log"
        )
        notifications.setFormatter(formatter)
    for name in NOTIFICATION_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if notifications is not None:
            logger.addHandler(notifications)
    logging.getLogger("firebrick").setLevel(level)
