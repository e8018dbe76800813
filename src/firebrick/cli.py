"""The ``firebrick`` command: the all-in-one service, each role alone, and the database."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from firebrick import bootstrap, config, logs
from firebrick.metrics import service as metrics_service

LOG = logging.getLogger("firebrick")


def _announce(message: str) -> None:
    LOG.info(message)
    print(message, file=sys.stderr, flush=True)


def _run_api(conf: config.Config, services: bootstrap.Services) -> None:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            services.app,
            host=conf.listen,
            port=conf.port,
            access_log=False,
            log_config=None,
            lifespan="off",
        )
    )
    message = f"Firebrick API listening on http://{conf.listen}:{conf.port}"
    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        if server.started:
            _announce(message)

    server.startup = startup  # type: ignore[method-assign]
    server.run()


def _wait_for_signal(name: str) -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _announce(f"Firebrick {name} running")
    stop.wait()


def _start(args: argparse.Namespace, names: list[str], *, shared: bool) -> int:
    conf = config.load(args.config)
    # Every role runs several threads (workers, consumers, reporters): hand the GIL over
    # more often than every 5 ms, so that a request does not queue behind a flow.
    sys.setswitchinterval(0.0005)
    logs.setup(conf.log_dir, names, debug=conf.debug)
    # Before anything is built: the database, the bus and the flows look for the metrics.
    metrics_service.start(conf, names, getattr(args, "metrics_port", None))
    backend = getattr(args, "backend", None)
    services = bootstrap.roles(conf, names, backend=backend, shared=shared)
    try:
        if "api" in names:
            _run_api(conf, services)
        else:
            _wait_for_signal(" + ".join(names))
    finally:
        services.stop()
    return 0


def serve(args: argparse.Namespace) -> int:
    return _start(args, ["volume", "scheduler", "api"], shared=False)


def api(args: argparse.Namespace) -> int:
    return _start(args, ["api"], shared=True)


def scheduler(args: argparse.Namespace) -> int:
    return _start(args, ["scheduler"], shared=True)


def volume(args: argparse.Namespace) -> int:
    return _start(args, ["volume"], shared=True)


def db_upgrade(args: argparse.Namespace) -> int:
    from firebrick.db import migrate

    conf = config.load(args.config)
    migrate.upgrade(conf.database_url)
    print(f"database at revision {migrate.current(conf.database_url)}")
    return 0


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

    command("serve", serve, "api, scheduler and every volume service in one process")
    command("api", api, "the Block Storage API alone (needs transport_url)")
    command("scheduler", scheduler, "the scheduler alone (needs transport_url)")
    p_volume = command("volume", volume, "volume services alone (needs transport_url)")
    p_volume.add_argument("--backend", help="only this backend section (default: all enabled)")
    p_db = sub.add_parser("db", help="database maintenance")
    db_sub = p_db.add_subparsers(dest="db_command", required=True)
    p_upgrade = db_sub.add_parser("upgrade", help="migrate the database to the current schema")
    p_upgrade.add_argument("--config", help="cinder.conf-style configuration file")
    p_upgrade.set_defaults(func=db_upgrade)

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
