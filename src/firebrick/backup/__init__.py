"""The backup role: Cinder's cinder-backup (manager, stores, the chunked format)."""

from __future__ import annotations

BINARY = "cinder-backup"
TOPIC = "cinder-backup"  # the services row's topic, as Cinder names it


def topic(host: str) -> str:
    """The bus topic of the backup service(s) of ``host``."""
    return f"backup.{host}"
