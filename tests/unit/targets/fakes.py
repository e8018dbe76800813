"""A fake tgtd (driven through the tgtadm argv it receives) and a fake qemu-nbd, so unit
tests check command construction and ACL logic without daemons."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from firebrick.targets.runner import Result, failure


@dataclass
class FakeLun:
    path: str
    readonly: bool = False


@dataclass
class FakeTgtTarget:
    iqn: str
    luns: dict[int, FakeLun] = field(default_factory=dict)
    accounts: list[str] = field(default_factory=list)
    acls: list[str] = field(default_factory=list)


class FakeRunner:
    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.secrets_seen: list[list[str]] = []
        self.up = False
        self.targets: dict[int, FakeTgtTarget] = {}
        self.accounts: dict[str, str] = {}
        self.portals: set[str] = set()
        self.processes: dict[int, list[str]] = {}
        self.next_pid = 1000
        self.busy_ports: set[int] = set()

    # -- Runner ---------------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, secrets: Sequence[str] = (), check: bool = True
    ) -> Result:
        argv = list(argv)
        self.commands.append(argv)
        self.secrets_seen.append(list(secrets))
        if argv[0] == "tgtadm":
            result = self._tgtadm(argv)
        elif argv[0] == "qemu-nbd":
            result = self._qemu_nbd(argv)
        else:
            result = Result(127, "", f"{argv[0]}: not faked")
        if check and result.returncode:
            raise failure(argv, result.stderr.strip(), secrets)
        return result

    def spawn(self, argv: Sequence[str], *, log_path: Path) -> int:
        self.commands.append(list(argv))
        self.secrets_seen.append([])
        pid = self._new_process(list(argv))
        if argv[0] == "tgtd":
            self.up = True
            self.portals = {argv[argv.index("--iscsi") + 1].removeprefix("portal=")}
        return pid

    def is_running(self, pid: int, program: str, args: Sequence[str] = ()) -> bool:
        argv = self.processes.get(pid)
        return bool(argv) and argv[0] == program and all(a in argv[1:] for a in args)

    def kill(self, pid: int, sig: int) -> None:
        argv = self.processes.get(pid)
        if argv and (argv[0] != "tgtd" or sig == signal.SIGKILL):
            del self.processes[pid]
            if argv[0] == "tgtd":
                self.up = False

    # -- helpers --------------------------------------------------------------------------

    def _new_process(self, argv: list[str]) -> int:
        self.next_pid += 1
        self.processes[self.next_pid] = argv
        return self.next_pid

    def tgtadm_ops(self) -> list[list[str]]:
        return [c[3:] if c[3] != "--lld" else c[5:] for c in self.commands if c[0] == "tgtadm"]

    def _tgtadm(self, argv: list[str]) -> Result:
        if not self.up:
            return Result(107, "", "tgtadm: failed to send request hdr to tgt daemon")

        def arg(name: str) -> str:
            return argv[argv.index(name) + 1]

        op, mode = arg("--op"), arg("--mode")
        if mode == "system":
            if op == "delete":
                if self.targets:
                    return Result(22, "", "tgtadm: invalid request")
                self.up = False
                for pid, pargv in list(self.processes.items()):
                    if pargv[0] == "tgtd":
                        del self.processes[pid]
            return Result(0, "System:\n    State: ready\n", "")
        if mode == "portal":
            if op == "show":
                return Result(0, "".join(f"Portal: {p},1\n" for p in self.portals), "")
            portal = arg("--param").removeprefix("portal=")
            (self.portals.add if op == "new" else self.portals.discard)(portal)
            return Result(0, "", "")
        if mode == "account":
            if op == "show":
                return Result(
                    0, "Account list:\n" + "".join(f"    {u}\n" for u in self.accounts), ""
                )
            user = arg("--user")
            if op == "new":
                if user in self.accounts:
                    return Result(22, "", "tgtadm: this account already exists")
                self.accounts[user] = arg("--password")
            elif op == "delete":
                self.accounts.pop(user)
                for target in self.targets.values():
                    if user in target.accounts:
                        target.accounts.remove(user)
            elif op == "bind":
                self.targets[int(arg("--tid"))].accounts.append(user)
            elif op == "unbind":
                self.targets[int(arg("--tid"))].accounts.remove(user)
            return Result(0, "", "")
        if mode == "target":
            if op == "show":
                return Result(0, self._show(), "")
            tid = int(arg("--tid"))
            if op == "new":
                if tid in self.targets:
                    return Result(22, "", "tgtadm: this target already exists")
                self.targets[tid] = FakeTgtTarget(arg("--targetname"))
            elif op == "delete":
                del self.targets[tid]
            elif op == "bind":
                self.targets[tid].acls.append(arg("--initiator-name"))
            elif op == "unbind":
                self.targets[tid].acls.remove(arg("--initiator-name"))
            return Result(0, "", "")
        if mode == "logicalunit":
            target = self.targets[int(arg("--tid"))]
            lun = int(arg("--lun"))
            if op == "new":
                target.luns[lun] = FakeLun(arg("--backing-store"))
            elif op == "delete":
                del target.luns[lun]
            elif op == "update":
                target.luns[lun].readonly = arg("--params") == "readonly=1"
            return Result(0, "", "")
        return Result(0, "", "")

    def _show(self) -> str:
        out = []
        for tid, target in sorted(self.targets.items()):
            out += [f"Target {tid}: {target.iqn}", "    System information:"]
            out += ["        Driver: iscsi", "        State: ready", "    I_T nexus information:"]
            out += ["    LUN information:", "        LUN: 0", "            Type: controller"]
            out += ["            Readonly: No", "            Backing store path: None"]
            for lun, info in sorted(target.luns.items()):
                out += [f"        LUN: {lun}", "            Type: disk"]
                out += [f"            Readonly: {'Yes' if info.readonly else 'No'}"]
                out += [f"            Backing store path: {info.path}"]
                out += ["            Backing store flags: "]
            out += ["    Account information:", *[f"        {a}" for a in target.accounts]]
            out += ["    ACL information:", *[f"        {a}" for a in target.acls]]
        return "\n".join(out) + "\n"

    def _qemu_nbd(self, argv: list[str]) -> Result:
        port = int(next(a for a in argv if a.startswith("--port=")).split("=")[1])
        taken = {
            int(a.split("=")[1])
            for p in self.processes.values()
            for a in p
            if a.startswith("--port=")
        }
        if port in self.busy_ports | taken:
            return Result(
                1, "", "qemu-nbd: Failed to find an available port: Address already in use"
            )
        pid = self._new_process(argv)
        pid_file = next(a for a in argv if a.startswith("--pid-file=")).split("=", 1)[1]
        Path(pid_file).write_text(f"{pid}\n")
        return Result(0, "", "")
