"""What a sweep driver holds while it runs: the sweep's lease (kept alive by a heartbeat thread) and the
stop signals (SIGINT, SIGTERM), both turned into Ray Tune's graceful stop.

Signals. Ray Tune stops gracefully on SIGUSR1 (and on SIGINT unless TUNE_DISABLE_SIGINT_HANDLER is set):
its loop ends after the current step, writes its experiment state and returns from `Tuner.fit()`, and
the trials it was running stay unfinished (resumable). `StopSignals` takes SIGINT and SIGTERM for itself
(Tune's own SIGINT handler is disabled while it is active, and Ray's SIGTERM handler, which aborts the
process, is replaced), records the first one, and while Tune's loop runs hands it to Tune's SIGUSR1
handler. Outside Tune's loop (starting Ray, registering trials) a signal raises `StopRequested`
instead, and so does a second signal (stop now). The caller maps `received` to the exit code,
128 + the signal's number: 130 for SIGINT, 143 for SIGTERM.

Lease. `LeaseKeeper` renews the driver's lease every `interval_s` from a daemon thread, so a driver
busy in a long Tune step still heartbeats. If the lease was taken over (this driver stalled for longer
than the staleness limit and another took the sweep), it records the error and stops Tune's loop.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from sdssm.sweep.store import DriverLease, LeaseHeldError, Store

LEASE_STALE_AFTER_S = 30.0  # a lease whose heartbeat is older than this is taken over by the next driver
LEASE_HEARTBEAT_S = 5.0  # how often a running driver renews its lease
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_TUNE_SIGINT_ENV = "TUNE_DISABLE_SIGINT_HANDLER"


def exit_code(received: signal.Signals) -> int:
    """The shell's convention for a process ended by a signal: 128 + its number (SIGINT 130, SIGTERM 143)."""
    return 128 + int(received)


class StopRequested(Exception):
    """A stop signal arrived where there is no graceful stop to hand it to (or a second one arrived)."""

    def __init__(self, received: signal.Signals) -> None:
        super().__init__(f"stopped by {received.name}")
        self.received = received


class StopSignals:
    """Context manager (main thread only): SIGINT and SIGTERM stop the sweep gracefully; `received` is
    the first of them to arrive (None if none did). Handlers and Tune's environment are restored on exit."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._record_only = False
        self._previous: dict[signal.Signals, Any] = {}
        self._previous_env: str | None = None

    def __enter__(self) -> StopSignals:
        self._previous_env = os.environ.get(_TUNE_SIGINT_ENV)
        os.environ[_TUNE_SIGINT_ENV] = "1"  # Tune reads it when its loop starts: SIGINT stays ours
        self._previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, signal.SIG_DFL)  # Tune installs its own
        self.install()
        return self

    def install(self) -> None:
        """(Re)install the handlers: `ray.init` replaces the SIGTERM handler, so call this again after it."""
        for signum in STOP_SIGNALS:
            previous = signal.signal(signum, self._handle)
            self._previous.setdefault(signum, previous)

    def record_only(self) -> None:
        """The run is ending (Tune's loop returned, Ray shutting down): a signal from now on is only
        recorded, never raised into the cleanup."""
        self._record_only = True

    def request_stop(self) -> bool:
        """Ask Tune's loop to stop gracefully, from any thread; False when its loop is not running."""
        if self._record_only or not callable(signal.getsignal(signal.SIGUSR1)):
            return False
        os.kill(os.getpid(), signal.SIGUSR1)
        return True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.received is None
        if first:
            self.received = signal.Signals(signum)
        if self._record_only:
            return
        tune_stop = signal.getsignal(signal.SIGUSR1)
        if first and callable(tune_stop):  # Tune's loop is running: its graceful stop
            tune_stop(signal.SIGUSR1, frame)
            return
        raise StopRequested(self.received or signal.Signals(signum))

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        if self._previous_env is None:
            os.environ.pop(_TUNE_SIGINT_ENV, None)
        else:
            os.environ[_TUNE_SIGINT_ENV] = self._previous_env


class LeaseKeeper:
    """Heartbeats `lease` every `interval_s` on a daemon thread until `stop()`. When the lease turns out
    to be someone else's now, `lost` holds the error and `on_lost` is called (from the thread)."""

    def __init__(self, store: Store, lease: DriverLease, *, interval_s: float = LEASE_HEARTBEAT_S,
                 on_lost: Callable[[], object] | None = None) -> None:
        self.store = store
        self.lease = lease
        self.interval_s = interval_s
        self.on_lost = on_lost
        self.lost: LeaseHeldError | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{lease.sweep}", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def check(self) -> None:
        """Raise the LeaseHeldError of a lease this driver lost."""
        if self.lost is not None:
            raise self.lost

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _beat(self) -> None:
        while not self._stopped.wait(self.interval_s):
            try:
                self.store.renew_lease(self.lease)
            except LeaseHeldError as error:
                self.lost = error
                if self.on_lost is not None:
                    self.on_lost()
                return
            except Exception:  # noqa: BLE001 - a database hiccup: the next beat tries again
                continue
