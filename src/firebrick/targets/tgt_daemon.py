"""The private ``tgtd`` of one volume service: started or adopted, told to leave, and
the ``tgtadm`` calls on its control port."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from firebrick.targets.base import TargetError
from firebrick.targets.runner import Runner, read_pid, terminate, wait_gone
from firebrick.targets.tgt_admin import TgtSettings, parse_list

LOG = logging.getLogger("firebrick.targets.tgt")

STARTUP_TIMEOUT = 10.0


class TgtDaemon:
    def __init__(self, settings: TgtSettings, runner: Runner) -> None:
        self.settings = settings
        self.runner = runner
        self.pid_file = settings.state_dir / "tgtd.pid"
        self.log_file = settings.state_dir / "tgtd.log"

    def terminate(self) -> None:
        """Stop a tgtd that no longer answers on its control port, by its pid."""
        pid = read_pid(self.pid_file)
        if pid is not None:
            terminate(self.runner, pid, "tgtd", self.tgtd_args(), timeout=1.0)
        self.pid_file.unlink(missing_ok=True)

    def tgtd_args(self) -> list[str]:
        return ["-C", str(self.settings.control_port)]

    def responding(self) -> bool:
        result = self.runner.run(
            ["tgtadm", "-C", str(self.settings.control_port), "--op", "show", "--mode", "system"],
            check=False,
        )
        return result.returncode == 0

    def start_daemon(self) -> None:
        pid = read_pid(self.pid_file)
        spawned = pid is None or not self.runner.is_running(pid, "tgtd", self.tgtd_args())
        if spawned:
            pid = self._spawn()
        else:
            LOG.info("tgtd (pid %s) is running but not answering yet; waiting", pid)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.responding():
            assert pid is not None
            if not self.runner.is_running(pid, "tgtd", self.tgtd_args()):
                if spawned:
                    raise TargetError(f"tgtd exited at start: {self._log_tail()}")
                pid, spawned = self._spawn(), True
            if time.monotonic() > deadline:
                raise TargetError(f"tgtd did not answer within {STARTUP_TIMEOUT:.0f} s.")
            time.sleep(0.05)
        try:
            self.ensure_portal()
        except TargetError:
            if spawned:
                self.system_delete()
            raise

    def _spawn(self) -> int:
        argv = ["tgtd", "-f", *self.tgtd_args(), "--iscsi", f"portal={self.settings.portal}"]
        pid = self.runner.spawn(argv, log_path=self.log_file)
        self.pid_file.write_text(f"{pid}\n")
        LOG.info("Started tgtd (pid %d) on %s", pid, self.settings.portal)
        return pid

    def ensure_portal(self) -> None:
        """Exactly our portal: a tgtd that cannot bind it falls back to a wildcard :3260."""
        portals = parse_list(self.adm("--op", "show", "--mode", "portal"), "Portal")
        if self.settings.portal not in portals:
            result = self.runner.run(
                [*self._adm_argv(), "--op", "new", "--mode", "portal",
                 "--param", f"portal={self.settings.portal}"],
                check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise TargetError(
                    f"tgtd cannot listen on portal {self.settings.portal} "
                    "(is target_port in use by another process?)"
                )
        for portal in portals - {self.settings.portal}:
            self.adm("--op", "delete", "--mode", "portal", "--param", f"portal={portal}")

    def system_delete(self) -> None:
        """tgtd ignores SIGTERM: it leaves when told to over its control socket."""
        pid = read_pid(self.pid_file)
        argv = ["tgtadm", "-C", str(self.settings.control_port), "--op", "delete", "--mode"]
        self.runner.run([*argv, "system"], check=False)
        if pid is not None and not wait_gone(self.runner, pid, "tgtd", self.tgtd_args(), 5.0):
            terminate(self.runner, pid, "tgtd", self.tgtd_args())

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        useful = [
            ln for ln in lines if "RDMA" not in ln and "oom" not in ln and "nr_open" not in ln
        ]
        return " / ".join(useful[-3:]) or "no log"

    def _adm_argv(self) -> list[str]:
        return ["tgtadm", "-C", str(self.settings.control_port), "--lld", "iscsi"]

    def adm(self, *args: str, check: bool = True, secrets: Sequence[str] = ()) -> str:
        argv = [*self._adm_argv(), *args]
        return self.runner.run(argv, check=check, secrets=secrets).stdout
