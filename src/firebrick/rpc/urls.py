"""Cinder's ``transport_url`` as the AMQP URLs kombu takes, and URLs fit for a log line."""

from __future__ import annotations

import re

_SCHEMES = ("rabbit", "amqp", "pyamqp")
_PASSWORD = re.compile(r"(://|,)([^:/@,]*):[^@,]*@")


def mask_password(url: str) -> str:
    """``url`` with every password replaced by ``***``, fit for a log line."""
    return _PASSWORD.sub(r"\1\2:***@", url)


def amqp_urls(transport_url: str) -> list[str]:
    """kombu ``amqp://`` URLs, one a host, from Cinder's ``transport_url``.

    ``rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost``; a host given without
    credentials takes the first host's. The path is the virtual host, as in oslo.messaging
    (``/`` or nothing: the default vhost).
    """
    scheme, sep, rest = transport_url.partition("://")
    if not sep or scheme not in _SCHEMES:
        raise ValueError(
            f"transport_url must look like rabbit://user:password@host:port/vhost, "
            f"not {mask_password(transport_url)!r}"
        )
    hosts, _, path = rest.partition("/")
    vhost = path.split("?", 1)[0]
    urls = []
    credentials = ""
    for host in hosts.split(","):
        if "@" in host:
            credentials, _, host = host.rpartition("@")
        if not host:
            raise ValueError(f"transport_url has an empty host: {mask_password(transport_url)}")
        auth = f"{credentials}@" if credentials else ""
        urls.append(f"amqp://{auth}{host}/{vhost}")
    return urls
