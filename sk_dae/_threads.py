"""How many CPU threads a call runs on, chosen by timing its own steps.

torch runs each matrix product and large elementwise op as a parallel region
over its intra-op threads, and each region waits for all of them. When another
process holds one of the cores, every region waits for the scheduler: on the
2-core development machine, with one busy process of another session, a fit at
the reference setting took 49 s on 2 threads against 0.94 s on 1 (0.53 s and
0.66 s quiet), and the imputer on a 506 x 13 table 33 s against 0.26 s (where 1
thread was the faster even quiet). No fixed count is right: 2 threads are 1.25x
faster quiet at the reference setting, and ruinous loaded.

So a :class:`ThreadChooser` times the steps of a loop (training batches, or
inference batches) on 1 thread and on the most it may use, in turns, and runs
on whichever is faster (more threads only when at least 10% faster: they
cost the rest of the machine a core). When a step on several threads spends
its time waiting (the load has come) it drops to one thread at once. It probes
again after 1 s, doubling the interval up to 16 s while the choice holds (4 s
at least after more threads lost clearly: such a probe costs a step that
waits for a busy core).
The last choice is shared by the calls of the process (per kind of loop), so a
stream of short ``partial_fit`` calls does not probe at every call.

The most threads a call may use is the caller's own setting,
``torch.get_num_threads()`` (which ``torch.set_num_threads`` and
``OMP_NUM_THREADS`` set), capped at the cores this process may really use
(``joblib.cpu_count()``: CPU affinity and cgroup quotas). Setting it to 1 turns
the choice off. Every public call restores the caller's count when it returns:
the counts torch keeps for OpenMP and MKL belong to the calling thread, so
calls in other threads are left alone.
"""

import functools
import statistics
import threading
import time
from contextlib import contextmanager

import joblib
import torch

# Steps timed on each count per probe, in turns.
_PROBE_STEPS = 3
# More threads must be at least this much faster to be chosen.
_MARGIN = 0.9
# A probed count whose step takes this many times the other's loses at once.
_CLEAR_LOSS = 2.0
# A step on more than one thread whose wall time exceeds this many times the
# calling thread's CPU time means that the load has come: the thread waited for
# another whose core is busy. Measured on 2 threads, per step: 1.0 quiet, 2.0
# (median) under one busy process; on 1 thread 1.0 either way. Unlike a step's
# time, this needs no earlier step of the same model to compare with. Such a
# step took 75 to 150 ms where a quiet one takes 1 ms: the chooser drops to one
# thread at once, without a probe that would wait again, and leaves it to the
# next due probe to find whether the load has gone.
_WAITING = 1.5
# Where the thread CPU clock is coarse (15.6 ms on Windows), shorter steps
# cannot be judged so.
_JUDGED = 20 * time.get_clock_info("thread_time").resolution
# Seconds to the next probe: doubling from the first while the choice holds.
# A probe of more threads under load costs one step that waits for a busy
# core (0.3 s measured): after such a clear loss, wait at least _AFTER_LOSS.
_FIRST_INTERVAL, _AFTER_LOSS, _LAST_INTERVAL = 1.0, 4.0, 16.0


_CALL = threading.local()  # the most threads of the call running in a thread

# joblib.cpu_count() reads the affinity and the cgroup files: 0.05 to 0.4 ms,
# a sixth of a small partial_fit call. Read again after this many seconds.
_CORES_TTL = 10.0
_cores = {"count": None, "read_at": -_CORES_TTL}


def usable_cores():
    """``joblib.cpu_count()`` (CPU affinity and cgroup quotas), read at most
    every ``_CORES_TTL`` seconds."""
    now = time.monotonic()
    if now - _cores["read_at"] >= _CORES_TTL:
        _cores["count"], _cores["read_at"] = joblib.cpu_count(), now
    return _cores["count"]


@contextmanager
def callers_threads():
    """Restore the calling thread's torch thread count when the outermost
    sk_dae call in it ends; within, :func:`allowed_threads` is the most that
    call may use (a nested call, such as the imputer's fit of its
    autoencoder, keeps the outer call's)."""
    if getattr(_CALL, "most", None) is not None:
        yield
        return
    saved = torch.get_num_threads()
    _CALL.most = max(1, min(saved, usable_cores()))
    try:
        yield
    finally:
        _CALL.most = None
        if torch.get_num_threads() != saved:
            torch.set_num_threads(saved)


def keeps_callers_threads(method):
    """Decorate a public method: it runs in :func:`callers_threads`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with callers_threads():
            return method(*args, **kwargs)

    return wrapper


def allowed_threads():
    """The most threads the running call may use: the caller's count, capped
    at the cores this process may use."""
    most = getattr(_CALL, "most", None)
    if most is None:
        most = max(1, min(torch.get_num_threads(), usable_cores()))
    return most


def chooser(kind, device):
    """A :class:`ThreadChooser` for a loop of ``kind`` on ``device``; on a GPU,
    where the host's threads do little, one that leaves them as they are."""
    on_cpu = torch.device(device).type == "cpu"
    return ThreadChooser(allowed_threads() if on_cpu else 1, kind)


class _Choice:
    """The last choice of a kind of loop, shared by the calls of the process."""

    def __init__(self):
        self.most = None  # the cap the choice was made under
        self.threads = None
        self.next_probe = 0.0
        self.interval = _FIRST_INTERVAL
        self.lock = threading.Lock()


_CHOICES = {"train": _Choice(), "infer": _Choice()}


class ThreadChooser:
    """Runs the steps of one loop on the thread count that times faster.

    Parameters
    ----------
    most : int
        The most threads the loop may use (see :func:`callers_threads`).
    kind : {"train", "infer"}
        The kind of loop, whose last choice the calls of the process share.
    clock, cpu_clock : callable, default=time.perf_counter, time.thread_time
        Wall seconds, and the calling thread's CPU seconds (for the tests).
    """

    def __init__(
        self, most, kind="train", clock=time.perf_counter, cpu_clock=time.thread_time
    ):
        self.most = most
        self.shared = _CHOICES[kind]
        self.clock, self.cpu_clock = clock, cpu_clock
        self.plan = []  # the counts of the next steps of a probe
        self.times = {}  # seconds of the probe's steps, by count
        shared = self.shared
        if most > 1 and shared.most != most:  # another cap: choose afresh
            with shared.lock:
                shared.most, shared.threads = most, most
                shared.next_probe, shared.interval = 0.0, _FIRST_INTERVAL

    @property
    def threads(self):
        """The count the next step runs on."""
        if self.most == 1:
            return 1
        return self.plan[0] if self.plan else self.shared.threads

    def run(self, step, *args, **kwargs):
        """``step(*args, **kwargs)`` on the chosen count, timed."""
        if self.most == 1:
            return step(*args, **kwargs)
        if not self.plan and self.clock() >= self.shared.next_probe:
            self.plan = [1, self.most] * _PROBE_STEPS
            self.times = {1: [], self.most: []}
        threads = self.threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        start, cpu_start = self.clock(), self.cpu_clock()
        out = step(*args, **kwargs)
        seconds, cpu_seconds = self.clock() - start, self.cpu_clock() - cpu_start
        self._timed(threads, seconds, cpu_seconds)
        return out

    def settle(self):
        """Set the chosen count, for steps that are not timed (validation)."""
        if self.most > 1 and torch.get_num_threads() != self.shared.threads:
            torch.set_num_threads(self.shared.threads)

    def _timed(self, threads, seconds, cpu_seconds):
        if not self.plan:
            waited = seconds > max(_WAITING * cpu_seconds, _JUDGED)
            if threads > 1 and waited:
                self._choose(1, clear=True)  # the load came
            return
        self.plan.pop(0)
        self.times[threads].append(seconds)
        fewest = min(self.times[1], default=None)
        if threads == self.most and fewest and seconds > _CLEAR_LOSS * fewest:
            self._choose(1, clear=True)  # more threads lose clearly: stop here
        elif not self.plan:
            one, more = (statistics.median(self.times[n]) for n in (1, self.most))
            self._choose(self.most if more < _MARGIN * one else 1)

    def _choose(self, threads, clear=False):
        shared = self.shared
        with shared.lock:
            same = threads == shared.threads
            interval = 2 * shared.interval if same else _FIRST_INTERVAL
            if clear:
                interval = max(interval, _AFTER_LOSS)
            shared.interval = min(interval, _LAST_INTERVAL)
            shared.threads = threads
            shared.next_probe = self.clock() + shared.interval
        self.plan = []
