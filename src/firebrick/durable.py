"""Making what is on disk durable: one helper for files and directories alike."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """``fsync`` the file or directory at ``path`` (a directory: the names in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
