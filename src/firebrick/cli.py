"""The ``firebrick`` command."""

from __future__ import annotations

import argparse
import logging
import sys

from firebrick import bootstrap, config, logs

LOG = logging.getLogger("firebrick.api")


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    conf = config.load(args.config)
    # Every role shares one interpreter here: hand the GIL over more often than the
    # default 5 ms, so that a request does not queue behind a flow for a whole interval.
    sys.setswitchinterval(0.0005)
    logs.setup(conf.log_dir, ["api", "scheduler", "volume"], debug=conf.debug)
    services = bootstrap.all_in_one(conf)
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
    url = f"http://{conf.listen}:{conf.port}"
    message = f"Firebrick API listening on {url} (state in {conf.state_path})"
    server.config.callback_notify = None
    try:
        original_startup = server.startup

        async def startup(sockets: object = None) -> None:
            await original_startup(sockets)  # type: ignore[arg-type]
            if server.started:
                LOG.info(message)
                print(message, file=sys.stderr, flush=True)

        server.startup = startup  # type: ignore[method-assign]
        server.run()
    finally:
        services.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="firebrick", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run api, scheduler and volume services in one process")
    p_serve.add_argument("--config", help="cinder.conf-style configuration file")
    p_serve.set_defaults(func=serve)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
