"""Cinder's notification options as the configuration reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from firebrick import config
from firebrick.notifications.sinks import JsonLinesSink, LogSink
from firebrick.notifier import Notifier


def load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "firebrick.conf"
    path.write_text(text)
    return config.load(path)


def test_without_driver_the_file_keeps_the_events(tmp_path: Path) -> None:
    options = config.load().notifications
    assert options.drivers == ("file",) and not options.to_bus
    assert options.topics == ("notifications",) and options.retry == -1
    assert options.control_exchange == "openstack"  # oslo.messaging's, as Cinder 29
    notifier = Notifier.from_options(options, tmp_path / "notifications.jsonl")
    assert [type(s) for s in notifier.sinks] == [JsonLinesSink]
    notifier.close()


def test_cinder_options_and_the_default_transport(tmp_path: Path) -> None:
    conf = load(
        tmp_path,
        """
[DEFAULT]
transport_url = rabbit://u:p@mq:5672/
control_exchange = cinder
notification_buffer_size = 50
[oslo_messaging_notifications]
driver = messagingv2
driver = log
topics = notifications, billing
retry = 3
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 30
""",
    )
    options = conf.notifications
    assert options.drivers == ("messagingv2", "log") and options.to_bus
    assert options.topics == ("notifications", "billing")
    assert options.transport_url == "rabbit://u:p@mq:5672/"
    assert (options.retry, options.control_exchange, options.buffer_size) == (3, "cinder", 50)
    assert options.rabbit == {"heartbeat_timeout_threshold": "30"}


def test_a_transport_of_their_own_and_noop(tmp_path: Path) -> None:
    conf = load(
        tmp_path,
        """
[DEFAULT]
transport_url = rabbit://u:p@rpc:5672/
[oslo_messaging_notifications]
driver = messaging, log
transport_url = rabbit://u:p@telemetry:5672/
""",
    )
    assert conf.notifications.transport_url == "rabbit://u:p@telemetry:5672/"
    assert conf.notifications.drivers == ("messaging", "log")
    noop = load(tmp_path, "[oslo_messaging_notifications]\ndriver = noop\n").notifications
    assert not Notifier.from_options(noop, tmp_path / "n.jsonl").sinks
    empty = load(tmp_path, "[oslo_messaging_notifications]\ndriver =\n").notifications
    assert empty.drivers == ("noop",)
    log_only = load(tmp_path, "[oslo_messaging_notifications]\ndriver = log\n").notifications
    assert [type(s) for s in Notifier.from_options(log_only, tmp_path / "n").sinks] == [LogSink]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[oslo_messaging_notifications]\ndriver = messagingv2\n", "needs a broker"),
        ("[oslo_messaging_notifications]\ndriver = kafka-ish\n", "expected file, log, noop"),
    ],
)
def test_refused_options(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load(tmp_path, text)


def test_the_log_driver_logs_each_event_at_its_priority(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(sinks=[LogSink()])
    with caplog.at_level("INFO", logger="oslo.messaging.notification"):
        notifier.emit("scheduler.h", "scheduler.create_volume", {"volume_id": "v"}, "ERROR")
    [record] = [r for r in caplog.records if r.name.startswith("oslo.messaging.notification")]
    assert record.name == "oslo.messaging.notification.scheduler.create_volume"
    assert record.levelname == "ERROR" and '"publisher_id": "scheduler.h"' in record.message
