"""Prometheus metrics of every role.

``instruments`` holds what the roles count as they work (HTTP in ``http``, flows in
``flows``, the bus in ``bus``, database transactions in ``db.engine``); ``collector`` what
the api reads from the database when Prometheus scrapes; ``service`` turns them on in a
process and serves them.
"""
