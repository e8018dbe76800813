"""The text of user messages, from Cinder's event ids: VOLUME_<resource>_<action>_<detail>."""

from __future__ import annotations

ACTIONS = {
    "001": "schedule allocate volume",
    "002": "attach volume",
    "006": "unmanage volume",
    "003": "copy volume to image",
    "005": "copy image to volume",
    "007": "extend volume",
    "008": "create volume from backend storage",
    "009": "create snapshot",
    "010": "delete snapshot",
    "013": "create backup",
    "014": "delete backup",
    "015": "restore backup",
    # Firebrick's, for groups (Cinder writes no user message about them)
    "101": "create group",
    "102": "delete group",
    "104": "create group snapshot",
    "105": "delete group snapshot",
    # Firebrick's own: Cinder writes no user message for these.
    "901": "migrate volume",
    "902": "revert volume to snapshot",
}

DETAILS = {
    "001": "An unknown error occurred.",
    "002": "Driver is not initialized at present.",
    "003": "Could not find any available weighted backend.",
    "004": "Failed to upload volume to image at backend.",
    "007": "Image used for creating volume exceeds available space.",
    "006": "Not enough quota resource for operation.",
    "010": "Volume Driver failed to extend volume.",
    "012": "Driver failed to create the volume.",
    "013": "Snapshot failed to create.",
    "014": "Snapshot failed to delete.",
    "017": "Backup status is invalid.",
    "018": "Backup service is down.",
    "019": "Failed to get backup device from the volume service.",
    "020": "Backup driver failed to create backup.",
    "024": "Backup failed to schedule. Service not found for creating backup.",
    "025": "Backup driver failed to delete backup.",
    "026": "Backup driver failed to restore backup.",
    "027": "Volume status is invalid.",
}


def user_message(event_id: str, detail: str | None) -> str:
    """Cinder's ``action:detail`` text, followed by Firebrick's explanation if any."""
    parts = event_id.split("_")
    action = ACTIONS.get(parts[2], "unknown action") if len(parts) == 4 else "unknown action"
    known = DETAILS.get(parts[3], DETAILS["001"]) if len(parts) == 4 else DETAILS["001"]
    text = f"{action}:{known}"
    return f"{text} {detail}" if detail else text
