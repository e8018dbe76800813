"""Host-assisted migration of volumes between backends (see ``destination`` and ``source``)."""

from firebrick.volume.migration.destination import MigrationWorker
from firebrick.volume.migration.source import MigrationExporter

__all__ = ["MigrationExporter", "MigrationWorker"]
