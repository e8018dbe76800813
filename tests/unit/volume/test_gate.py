"""The volume service's gate: one create flow's own work at a time, none during the
backend's."""

from __future__ import annotations

import threading
import time

from firebrick.volume.gate import Gate


class OtherCreate:
    """Another thread that takes the gate, holds it until told to leave, then lets go."""

    def __init__(self, gate: Gate) -> None:
        self._entered, self._leave = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(gate,), daemon=True)
        self._thread.start()

    def _hold(self, gate: Gate) -> None:
        with gate.held():
            self._entered.set()
            self._leave.wait(5)

    def entered(self, within: float) -> bool:
        return self._entered.wait(within)

    def leave(self) -> None:
        self._leave.set()
        self._thread.join(5)


def test_a_second_thread_waits_while_one_holds_the_gate() -> None:
    gate = Gate()
    with gate.held():
        other = OtherCreate(gate)
        assert not other.entered(0.2)
    assert other.entered(5)
    other.leave()


def test_letting_go_around_the_backends_work_lets_another_create_run() -> None:
    gate = Gate()
    with gate.held():
        with gate.released():
            first = OtherCreate(gate)
            assert first.entered(5)
            first.leave()
        # Taken back once the other let go: this thread holds it again.
        second = OtherCreate(gate)
        assert not second.entered(0.2)
    assert second.entered(5)
    second.leave()


def test_the_gate_is_re_entrant_in_a_thread() -> None:
    gate = Gate()
    with gate.held():
        with gate.held():
            pass
        # Leaving the inner block kept the gate.
        other = OtherCreate(gate)
        assert not other.entered(0.2)
        with gate.released(), gate.held():
            pass
    assert other.entered(5)
    other.leave()


def test_letting_go_of_a_gate_not_held_does_nothing() -> None:
    gate = Gate()
    with gate.released(), gate.held():
        pass
    other = OtherCreate(gate)
    assert other.entered(5)
    other.leave()


def test_an_error_inside_lets_go_of_the_gate() -> None:
    gate = Gate()
    for _ in range(2):
        try:
            with gate.held():
                raise RuntimeError("the flow failed")
        except RuntimeError:
            pass
    done = threading.Event()
    threading.Thread(target=lambda: (gate.held().__enter__(), done.set()), daemon=True).start()
    assert done.wait(5)


def test_holders_never_overlap() -> None:
    gate = Gate()
    inside = 0
    most = 0
    lock = threading.Lock()

    def create() -> None:
        nonlocal inside, most
        for _ in range(20):
            with gate.held():
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with lock:
                    inside -= 1
                with gate.released():
                    time.sleep(0.0005)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most == 1
