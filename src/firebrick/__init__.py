"""Firebrick: block storage as a service with the OpenStack Block Storage (Cinder) v3 API."""
