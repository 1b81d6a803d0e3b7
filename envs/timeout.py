"""Per-call time limits that work in any thread, at a cost of about a microsecond per call.

Why not the obvious choices:
- `signal.alarm` / `setitimer` only work in the main thread, and rollout workers call `env.step` from a
  Ray actor's thread.
- Running each call in a worker thread and `join(timeout)` costs tens of microseconds per call (too
  slow for 50k calls/s), and a timed-out thread keeps running and could still change state afterwards.

So the call runs inline, and one daemon watchdog thread per process polls the calls in flight. When a
call overruns, the watchdog raises `CallTimeout` inside the calling thread with
`PyThreadState_SetAsyncExc`, which interrupts pure-Python loops (everything our simulated APIs do).
A long single C-level operation cannot be interrupted by anything in-process; the argument size limits
of envs.argcheck keep those short, and the env also treats any call that finished late as timed out.
The env restores its state snapshot after a timeout, so a timed-out call never leaves a partial change.

Arming and disarming are lock-free in the common case (dict operations are atomic under the GIL); the
lock is only taken when the watchdog fires or may be firing, to cancel an exception that was set but not
yet raised, so that it can never surface after the call has returned.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


class CallTimeout(BaseException):
    """Raised inside a tool call that ran past its time limit.

    A BaseException, so that a simulated API's own `except Exception` cannot swallow it.
    """


class _Watchdog:
    """Watches calls in flight (thread id -> [deadline, fired]) and interrupts those that overrun."""

    poll_s = 0.005
    idle_exit_s = 2.0  # the thread exits after this long without calls; the next arm() restarts it

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[int, list] = {}
        self._running = False
        self._firing = False
        self._last_arm = 0.0

    def arm(self, timeout_s: float) -> None:
        """Starts watching the current thread's call."""
        now = time.perf_counter()
        self._calls[threading.get_ident()] = [now + timeout_s, False]
        self._last_arm = now
        if not self._running:
            self._start()

    def disarm(self) -> bool:
        """Stops watching the current thread's call; True when the watchdog fired for it."""
        tid = threading.get_ident()
        entry: list | None = None
        raised = False
        while True:
            try:
                if entry is None:
                    entry = self._calls.pop(tid, None)
                    if entry is None:
                        return raised
                # Read `_firing` before `fired`: if no sweep is running now, any sweep that fired for
                # this entry has finished, so `fired` is already visible.
                if not self._firing and not entry[1]:
                    return raised
                with self._lock:  # wait out a sweep in progress, then cancel what it may have set
                    if entry[1]:
                        _set_async_exc(ctypes.c_ulong(tid), None)
                    return entry[1] or raised
            except CallTimeout:  # delivered just now, inside this method: it is consumed
                raised = True

    def _start(self) -> None:
        with self._lock:
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="toolgym-call-watchdog", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self.poll_s)
            now = time.perf_counter()
            if self._calls:
                self._sweep(now)
            elif now - self._last_arm > self.idle_exit_s:
                with self._lock:
                    self._running = False
                if self._calls:  # an arm() raced with this exit and saw us still running
                    self._start()
                return

    def _sweep(self, now: float) -> None:
        with self._lock:
            self._firing = True
            try:
                for tid, entry in list(self._calls.items()):
                    if not entry[1] and now > entry[0] and self._calls.get(tid) is entry:
                        entry[1] = True
                        _set_async_exc(ctypes.c_ulong(tid), ctypes.py_object(CallTimeout))
            finally:
                self._firing = False

    def _after_fork(self) -> None:
        # The child has no watchdog thread, whatever the parent had.
        self._lock = threading.Lock()
        self._calls = {}
        self._running = False
        self._firing = False


WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WATCHDOG._after_fork)
