"""The ``firebrick`` command: the all-in-one service, each role alone, and the database."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from firebrick import config, logs

if TYPE_CHECKING:
    from firebrick import bootstrap

LOG = logging.getLogger("firebrick")


def _announce(message: str) -> None:
    LOG.info(message)
    print(message, file=sys.stderr, flush=True)


def _run_api(
    conf: config.Config, services: bootstrap.Services, sockets: list[Any] | None = None
) -> None:
    import uvicorn

    from firebrick.api.middleware import BodyDeadline
    from firebrick.api.one_write import OneWriteHttpToolsProtocol

    server = uvicorn.Server(
        uvicorn.Config(
            BodyDeadline(services.app, conf.api_body_timeout),
            http=OneWriteHttpToolsProtocol,
            host=conf.listen,
            port=conf.port,
            access_log=False,
            log_config=None,
            lifespan="off",
            # 0 is "wait forever" in Cinder; uvicorn needs a number.
            timeout_keep_alive=int(conf.client_socket_timeout) or 2**31 - 1,
        )
    )
    message = f"Firebrick API listening on http://{conf.listen}:{conf.port}"
    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        if server.started:
            _announce(message)

    server.startup = startup  # type: ignore[method-assign]
    # uvicorn ends by raising the SIGTERM it caught again, under the handler found here, so
    # the process dies before the caller's clean-up: send (or count) what the notifier
    # still holds first.
    signal.signal(signal.SIGTERM, lambda signum, _frame: _flush_then_die(services, signum))
    server.run(sockets=sockets)


def _settled() -> None:
    """Once a process is built: what it imported and set up lives as long as it does, so
    the garbage collector's full passes (100 ms and more each) need not walk it again."""
    gc.collect()
    gc.freeze()


def _flush_then_die(services: bootstrap.Services, signum: int) -> None:
    services.notifier.close()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def _wait_for_signal(name: str) -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _announce(f"Firebrick {name} running")
    stop.wait()


def _hand_over_the_gil_often() -> None:
    """Every role runs several threads (workers, consumers, reporters, an event loop):
    hand the GIL over every 0.5 ms rather than Python's 5 ms.

    A request then does not queue behind a flow, and a thread whose database commit has
    returned gets the GIL back soon. That second part matters to crash safety: a create
    commits ``available`` and then writes ``volume.create.end``, and a SIGKILL in between
    loses the notification. With 5 ms, the wait for the GIL made that window long enough
    for the roles' process kill test to lose one in 3 runs of 14; with 0.5 ms, in none of
    16. 5 ms made a create 6-17 % cheaper in CPU: not worth a lost notification.
    """
    sys.setswitchinterval(0.0005)


def _start(args: argparse.Namespace, names: list[str], *, shared: bool) -> int:
    from firebrick import bootstrap
    from firebrick.metrics import service as metrics_service

    conf = config.load(args.config)
    _hand_over_the_gil_often()
    logs.setup(conf.log_dir, names, debug=conf.debug)
    # Before anything is built: the database, the bus and the flows look for the metrics.
    metrics_service.start(conf, names, getattr(args, "metrics_port", None))
    backend = getattr(args, "backend", None)
    services = bootstrap.roles(conf, names, backend=backend, shared=shared)
    _settled()
    try:
        if "api" in names:
            _run_api(conf, services)
        else:
            _wait_for_signal(" + ".join(names))
    finally:
        services.stop()
    return 0


def serve(args: argparse.Namespace) -> int:
    conf = config.load(args.config)
    if conf.osapi_volume_workers == 0:
        return _start(args, ["volume", "scheduler", "api", "backup"], shared=False)
    return _supervise(args, conf)


def _supervise(args: argparse.Namespace, conf: config.Config) -> int:
    """The roles' process and ``osapi_volume_workers`` API workers (firebrick.supervisor).

    This process imports little: it only binds the port and keeps its children running.
    """
    from firebrick import supervisor
    from firebrick.rpc.local import run_dir

    logs.setup(conf.log_dir, ["api"], debug=conf.debug)
    listener = supervisor.listen_socket(conf.listen, conf.port)
    extra = ["--metrics-port", str(args.metrics_port)] if args.metrics_port else []
    children = supervisor.Supervisor(
        args.config, listener, conf.osapi_volume_workers,
        run_dir(conf.state_path) / "roles.ready", extra,
    )  # fmt: skip
    try:
        children.start()
        _wait_for_signal(f"supervisor: the roles' process and {conf.osapi_volume_workers} "
                         "API workers")  # fmt: skip
    finally:
        children.stop()
    return 0


def worker_roles(args: argparse.Namespace) -> int:
    """The scheduler, volume and backup roles of ``firebrick serve`` (started by it)."""
    from firebrick import bootstrap, supervisor
    from firebrick.metrics import service as metrics_service
    from firebrick.metrics.bus import unmetered
    from firebrick.rpc.local import LocalHub, run_dir, socket_path

    supervisor.die_with_parent(args.parent_pid)
    conf = config.load(args.config)
    names = ["volume", "scheduler", "backup"]
    _hand_over_the_gil_often()
    logs.setup(conf.log_dir, names, debug=conf.debug, notifications_in="api")
    metrics_service.start(conf, names, args.metrics_port)
    metrics_service.share(run_dir(conf.state_path))
    services = bootstrap.roles(conf, names, shared=False)
    _settled()
    hub = None
    if not conf.transport_url:
        hub = LocalHub(socket_path(conf.state_path), unmetered(services.bus))
        hub.start()
    supervisor.say_ready(run_dir(conf.state_path) / "roles.ready")
    try:
        _wait_for_signal(" + ".join(names))
    finally:
        if hub is not None:
            hub.stop()
        services.stop()
    return 0


def worker_api(args: argparse.Namespace) -> int:
    """One API worker of ``firebrick serve`` (started by it, never by hand)."""
    import socket

    from firebrick import bootstrap, supervisor
    from firebrick.metrics import service as metrics_service
    from firebrick.rpc.bus import Bus
    from firebrick.rpc.local import LocalBus, run_dir, socket_path

    supervisor.die_with_parent(args.parent_pid)
    conf = config.load(args.config)
    _hand_over_the_gil_often()
    logs.setup(conf.log_dir, ["api"], debug=conf.debug)
    metrics_service.start(conf, ["api"], None)
    metrics_service.share(run_dir(conf.state_path))
    bus: Bus | None = None if conf.transport_url else LocalBus(socket_path(conf.state_path))
    services = bootstrap.roles(conf, ["api"], shared=True, bus=bus)
    _settled()
    listener = socket.socket(fileno=args.fd)
    supervisor.wait_until_ready(run_dir(conf.state_path) / "roles.ready")
    try:
        _run_api(conf, services, sockets=[listener])
    finally:
        services.stop()
    return 0


def api(args: argparse.Namespace) -> int:
    return _start(args, ["api"], shared=True)


def scheduler(args: argparse.Namespace) -> int:
    return _start(args, ["scheduler"], shared=True)


def volume(args: argparse.Namespace) -> int:
    return _start(args, ["volume"], shared=True)


def backup(args: argparse.Namespace) -> int:
    return _start(args, ["backup"], shared=True)


def db_upgrade(args: argparse.Namespace) -> int:
    from firebrick.db import migrate

    conf = config.load(args.config)
    migrate.upgrade(conf.database_url)
    print(f"database at revision {migrate.current(conf.database_url)}")
    return 0


def volume_usage_audit(args: argparse.Namespace) -> int:
    """Cinder's ``cinder-volume-usage-audit``: the usage of one period, on the bus."""
    from datetime import UTC, datetime

    from firebrick.domain.audit_period import last_completed
    from firebrick.notifications.audit import UsageAudit, parse_time, stamp
    from firebrick.notifier import Notifier

    conf = config.load(args.config)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logs.Formatter())
    for name in ("firebrick", "oslo_messaging"):
        logging.getLogger(name).addHandler(handler)
    logging.getLogger("firebrick").setLevel(logging.INFO)
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        begin, end = last_completed(conf.volume_usage_audit_period, now)
        begin = parse_time(args.start_time) if args.start_time else begin
        end = parse_time(args.end_time) if args.end_time else end
    except ValueError as exc:
        LOG.error("%s", exc)
        return 255
    if end <= begin:
        LOG.error("The end time (%s) must be after the start time (%s).", stamp(end),
                  stamp(begin))  # fmt: skip
        return 255
    from firebrick import bootstrap

    db = bootstrap.build_database(conf)
    notifier = Notifier.from_options(conf.notifications, conf.notifications_path)
    try:
        result = UsageAudit(db, notifier, conf.host).run(begin, end, send_actions=args.send_actions)
    finally:
        notifier.close()
        db.dispose()
    return 1 if result.failures else 0


def catalog(args: argparse.Namespace) -> int:
    from firebrick.catalog import Registration, render

    reg = Registration(
        public_url=args.url,
        internal_url=args.internal_url,
        admin_url=args.admin_url,
        region=args.region,
        with_project_id=not args.no_project_id,
        service_user=args.service_user,
        service_project=args.service_project,
    )
    print(render(reg), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="firebrick", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", help="cinder.conf-style configuration file")
        p.add_argument(
            "--metrics-port", type=int, default=None,
            help="serve Prometheus metrics on this port too (default: metrics_port)",
        )  # fmt: skip
        p.set_defaults(func=func)
        return p

    command("serve", serve, "api, scheduler, every volume service and backup in one process")
    command("api", api, "the Block Storage API alone (needs transport_url)")
    command("scheduler", scheduler, "the scheduler alone (needs transport_url)")
    p_volume = command("volume", volume, "volume services alone (needs transport_url)")
    p_volume.add_argument("--backend", help="only this backend section (default: all enabled)")
    command("backup", backup, "the backup service alone (needs transport_url)")
    for kind, func in (("roles", worker_roles), ("api", worker_api)):
        p_worker = command(f"worker-{kind}", func, f"one {kind} process of `firebrick serve`")
        p_worker.add_argument("--parent-pid", type=int, required=True)
        p_worker.add_argument("--index", type=int, default=0, help="which one (for ps)")
        p_worker.add_argument("--fd", type=int, help="the API's listening socket")
    p_db = sub.add_parser("db", help="database maintenance")
    db_sub = p_db.add_subparsers(dest="db_command", required=True)
    p_upgrade = db_sub.add_parser("upgrade", help="migrate the database to the current schema")
    p_upgrade.add_argument("--config", help="cinder.conf-style configuration file")
    p_upgrade.set_defaults(func=db_upgrade)

    p_audit = command(
        "volume-usage-audit", volume_usage_audit,
        "send volume.exists and snapshot.exists for an audit period (cinder-volume-usage-audit)",
    )  # fmt: skip
    p_audit.add_argument(
        "--start_time",
        help="'YYYY-MM-DD HH:MM:SS' (UTC) instead of the "
        "start of the last completed volume_usage_audit_period",
    )
    p_audit.add_argument("--end_time", help="'YYYY-MM-DD HH:MM:SS' (UTC) instead of its end")
    p_audit.add_argument(
        "--send_actions",
        action="store_true",
        help="also send the create and delete notifications of the period",
    )
    p_audit.set_defaults(send_actions=False)

    p_catalog = sub.add_parser(
        "catalog", help="print the openstack commands that register Firebrick in Keystone"
    )
    p_catalog.add_argument("--url", required=True, help="public URL, e.g. http://host:8776")
    p_catalog.add_argument("--internal-url", help="internal URL (default: the public one)")
    p_catalog.add_argument("--admin-url", help="admin URL (default: the public one)")
    p_catalog.add_argument("--region", default="RegionOne")
    p_catalog.add_argument(
        "--no-project-id", action="store_true", help="endpoints without %%(project_id)s"
    )
    p_catalog.add_argument("--service-user", default="cinder")
    p_catalog.add_argument("--service-project", default="service")
    p_catalog.set_defaults(func=catalog)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
