"""The volume service's gate: one create flow's own work at a time, none during the
backend's."""

from __future__ import annotations

import threading
import time

from firebrick.volume.gate import Gate


def run_in_thread(gate: Gate, entered: threading.Event, leave: threading.Event) -> threading.Thread:
    def hold() -> None:
        with gate.held():
            entered.set()
            leave.wait(5)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


def test_a_second_thread_waits_while_one_holds_the_gate() -> None:
    gate = Gate()
    entered, leave = threading.Event(), threading.Event()
    with gate.held():
        thread = run_in_thread(gate, entered, leave)
        assert not entered.wait(0.2)
    assert entered.wait(5)
    leave.set()
    thread.join(5)


def test_letting_go_around_the_backends_work_lets_another_create_run() -> None:
    gate = Gate()
    entered, leave = threading.Event(), threading.Event()
    with gate.held():
        with gate.released():
            thread = run_in_thread(gate, entered, leave)
            assert entered.wait(5)
            leave.set()
        # Taken back once the other let go: this thread holds it again.
        thread.join(5)
        entered.clear()
        leave.clear()
        other = run_in_thread(gate, entered, leave)
        assert not entered.wait(0.2)
    assert entered.wait(5)
    leave.set()
    other.join(5)


def test_the_gate_is_re_entrant_in_a_thread() -> None:
    gate = Gate()
    entered, leave = threading.Event(), threading.Event()
    with gate.held():
        with gate.held():
            pass
        # Leaving the inner block kept the gate.
        thread = run_in_thread(gate, entered, leave)
        assert not entered.wait(0.2)
        with gate.released(), gate.held():
            pass
    assert entered.wait(5)
    leave.set()
    thread.join(5)


def test_letting_go_of_a_gate_not_held_does_nothing() -> None:
    gate = Gate()
    with gate.released(), gate.held():
        pass
    entered, leave = threading.Event(), threading.Event()
    thread = run_in_thread(gate, entered, leave)
    assert entered.wait(5)
    leave.set()
    thread.join(5)


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
