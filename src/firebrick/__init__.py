"""Firebrick: block storage as a service with the OpenStack Block Storage (Cinder) v3 API."""

import sys

if "httpx" not in sys.modules:
    # httpx imports its command line (rich, click and pygments: 4 MB and 80 modules in
    # every process) whenever they are installed; a server never runs it. Hidden, httpx
    # falls back to a stub that says how to install it.
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
