"""Notifications on the message bus, through oslo.messaging's own transport.

The message is what oslo.messaging's ``Notifier`` builds (``message_id``, ``publisher_id``,
``event_type``, ``priority``, ``payload``, ``timestamp``), stamped when the event happened
rather than when it reached the broker; the transport adds the request context as
``_context_*`` keys and, for ``messagingv2``, the ``{"oslo.version": "2.0", "oslo.message":
…}`` envelope, and publishes it on the ``control_exchange`` topic exchange with the routing
key ``<topic>.<priority>`` (``notifications.info``, ``notifications.error``), declaring the
queue of that name so that nothing is lost before a consumer binds: the wire format
Ceilometer's notification agent, CloudKitty and Watcher read from Cinder.

Each process builds its own transport from its configuration (Cinder's
``[oslo_messaging_notifications]``, ``control_exchange`` and ``[oslo_messaging_rabbit]``),
in a private ``ConfigOpts``: no global configuration is touched.
"""

# oslo.messaging and oslo.config ship no type information.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from firebrick.config import NotificationOptions
from firebrick.notifications.sender import BackgroundSender
from firebrick.rpc.urls import mask_password

LOG = logging.getLogger("firebrick.notifications")

# The oslo.messaging message format each bus driver sends.
VERSIONS = {"messaging": 1.0, "messagingv2": 2.0}


@dataclass(frozen=True)
class Event:
    """One notification on its way to the bus, with the request it was emitted for."""

    message: dict[str, Any]
    priority: str
    request_id: str | None


def _oslo_conf(options: NotificationOptions) -> Any:
    from oslo_config import cfg
    from oslo_messaging import opts as messaging_opts

    conf = cfg.ConfigOpts()
    conf([], project="firebrick", default_config_files=[], default_config_dirs=[])
    for group, group_options in messaging_opts.list_opts():
        conf.register_opts(group_options, group=group)
    conf.set_override("control_exchange", options.control_exchange)
    for key, value in options.rabbit.items():
        try:
            conf.set_override(key, value, "oslo_messaging_rabbit")
        except (cfg.NoSuchOptError, ValueError) as exc:
            LOG.warning("[oslo_messaging_rabbit] %s ignored: %s", key, exc)
    return conf


def context_of(event: Event) -> dict[str, Any]:
    """The request context Cinder's notifications carry (``_context_*`` on the wire), as
    oslo.context serializes it; the caller's token never travels."""
    from oslo_context.context import RequestContext

    payload = event.message.get("payload")
    payload = payload if isinstance(payload, dict) else {}
    user = payload.get("user_id")
    project = payload.get("tenant_id") or payload.get("project_id")
    context = RequestContext(
        user_id=user if isinstance(user, str) else None,
        project_id=project if isinstance(project, str) else None,
        request_id=event.request_id,
        overwrite=False,
    )
    values: dict[str, Any] = context.to_dict()
    # The keys Cinder's RequestContext adds to oslo.context's.
    values.update(user_id=context.user_id, tenant=context.project_id, read_deleted="no",
                  remote_address=None, quota_class=None, service_catalog=[],
                  timestamp=event.message["timestamp"])  # fmt: skip
    return values


class BusSink:
    """Sends every event to the bus from a background thread (see ``sender``)."""

    def __init__(self, options: NotificationOptions) -> None:
        import oslo_messaging

        assert options.transport_url is not None  # config.load refuses a bus without one
        self._transport = oslo_messaging.get_notification_transport(
            _oslo_conf(options), url=options.transport_url
        )
        self._options = options
        self._versions = [VERSIONS[d] for d in options.drivers if d in VERSIONS]
        self._target = oslo_messaging.Target
        self._sender: BackgroundSender[Event] = BackgroundSender(
            self._send,
            buffer_size=options.buffer_size,
            send_timeout=options.send_timeout,
            name="notifications-bus",
        )
        LOG.info(
            "Notifications go to %s, exchange %s, topics %s (%s)",
            mask_password(options.transport_url), options.control_exchange,
            ", ".join(options.topics), ", ".join(options.drivers),
        )  # fmt: skip

    @property
    def sender(self) -> BackgroundSender[Event]:
        return self._sender

    def send(self, message: dict[str, Any], request_id: str | None) -> None:
        self._sender.submit(Event(message, message["priority"], request_id))

    def _send(self, event: Event) -> None:
        # The payloads are JSON-ready (usage payloads carry ISO strings); anything else is
        # serialized by the transport itself (oslo's jsonutils for v2, kombu's json for v1).
        # oslo's Notifier would run to_primitive over the payload first: a quarter of the
        # CPU an event costs here, for nothing.
        context = context_of(event)
        message = event.message
        for topic in self._options.topics:
            target = self._target(topic=f"{topic}.{event.priority.lower()}")
            for version in self._versions:
                # The transport adds its keys to the message it is given: one copy each.
                self._transport._send_notification(
                    target, context, dict(message), version=version, retry=self._options.retry
                )

    def close(self) -> None:
        self._sender.close()
        try:
            self._transport.cleanup()
        except Exception:
            LOG.exception("Notifications: closing the transport failed")
