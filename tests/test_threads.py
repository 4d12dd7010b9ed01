"""The thread count of a call: chosen by timing its steps, capped by the
caller's setting and the usable cores, and the caller's setting restored."""

import numpy as np
import pytest
import torch

from sk_dae import (
    DenoisingAutoencoderImputer,
    DenoisingAutoencoderTransformer,
    _threads,
)
from sk_dae._threads import ThreadChooser, callers_threads, chooser


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


X = np.random.default_rng(0).random((300, 16))


@pytest.fixture(autouse=True)
def fresh_choices(monkeypatch):
    """Each test starts with no choice made, and leaves the count as it was."""
    monkeypatch.setattr(
        _threads, "_CHOICES", {kind: _threads._Choice() for kind in ("train", "infer")}
    )
    monkeypatch.setattr(_threads, "_cores", {"count": None, "read_at": -1e9})
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


class FakeMachine:
    """Clocks, and a step whose seconds depend on the thread count it runs on.

    Quiet, the calling thread runs all through a step; ``waiting`` is the share
    of a step on several threads that it waits for a busy core."""

    def __init__(self, seconds):
        self.now = self.cpu = 0.0
        self.seconds = seconds  # {threads: seconds of a step}
        self.waiting = 0.0
        self.ran_on = []

    def clock(self):
        return self.now

    def cpu_clock(self):
        return self.cpu

    def step(self):
        threads = torch.get_num_threads()
        self.ran_on.append(threads)
        seconds = self.seconds[threads]
        self.now += seconds
        self.cpu += seconds * (1 - self.waiting if threads > 1 else 1)


def _run(machine, steps, most=2):
    choice = ThreadChooser(
        most, "train", clock=machine.clock, cpu_clock=machine.cpu_clock
    )
    for _ in range(steps):
        choice.run(machine.step)
    return choice


def test_more_threads_are_chosen_where_they_are_faster():
    machine = FakeMachine({1: 1.0e-3, 2: 0.7e-3})
    choice = _run(machine, 20)
    assert machine.ran_on[:6] == [1, 2] * 3  # the probe, in turns
    assert set(machine.ran_on[6:]) == {2}
    assert choice.threads == 2


def test_one_thread_unless_more_are_a_tenth_faster():
    machine = FakeMachine({1: 1.0e-3, 2: 0.95e-3})
    _run(machine, 20)
    assert set(machine.ran_on[6:]) == {1}


def test_a_clear_loss_ends_the_probe_at_once_and_waits_longer():
    machine = FakeMachine({1: 1.0e-3, 2: 0.3})  # a busy core: 300 times slower
    _run(machine, 50)
    assert machine.ran_on.count(2) == 1  # one step to see it, no more
    assert _threads._CHOICES["train"].interval >= 4.0


def test_the_choice_is_probed_again_when_due_and_when_the_load_comes():
    machine = FakeMachine({1: 1.0e-3, 2: 0.7e-3})
    choice = _run(machine, 10)
    assert choice.threads == 2
    machine.seconds[2] = 0.1  # another process takes a core
    machine.waiting = 0.9
    for _ in range(5):
        choice.run(machine.step)
    # One step that waits for the busy core, and it drops to one thread.
    assert machine.ran_on[10:15] == [2, 1, 1, 1, 1]
    assert choice.threads == 1
    machine.seconds[2] = 0.7e-3  # the load goes: the next due probe sees it
    machine.waiting = 0.0
    machine.now += 60
    for _ in range(10):
        choice.run(machine.step)
    assert choice.threads == 2


def test_calls_share_the_last_choice():
    machine = FakeMachine({1: 1.0e-3, 2: 0.7e-3})
    _run(machine, 10)
    later = _run(machine, 4)  # within the interval: no probe
    assert machine.ran_on[10:] == [2, 2, 2, 2] and later.threads == 2


def test_the_callers_count_caps_the_choice_and_one_thread_turns_it_off():
    torch.set_num_threads(1)
    with callers_threads():
        assert chooser("train", "cpu").most == 1
    machine = FakeMachine({1: 1.0e-3})
    _run(machine, 10, most=1)
    assert set(machine.ran_on) == {1}


def test_a_gpu_loop_leaves_the_threads_alone():
    assert chooser("train", "cuda:0").most == 1
    assert chooser("infer", "cuda:0").most == 1


def test_the_usable_cores_cap_the_count(monkeypatch):
    monkeypatch.setattr(_threads.joblib, "cpu_count", lambda: 1)
    torch.set_num_threads(2)
    with callers_threads():
        assert _threads.allowed_threads() == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: DenoisingAutoencoderTransformer(
            hidden_layer_sizes=(4,), max_epochs=3, batch_size=10, device="cpu"
        ).fit(X),
        lambda: (
            DenoisingAutoencoderTransformer(
                hidden_layer_sizes=(4,), max_epochs=1, device="cpu"
            )
            .fit(X)
            .transform(X)
        ),
        lambda: DenoisingAutoencoderImputer(
            hidden_layer_sizes=(4,), max_epochs=2, autoencoder=on_cpu()
        ).fit_transform(np.where(X < 0.1, np.nan, X)),
    ],
)
def test_every_call_gives_the_caller_back_its_count(call, monkeypatch):
    # More threads must be infinitely faster: every probe switches to one.
    monkeypatch.setattr(_threads, "_MARGIN", 0.0)
    torch.set_num_threads(2)
    call()
    assert torch.get_num_threads() == 2


def test_a_failed_call_gives_the_caller_back_its_count(monkeypatch):
    monkeypatch.setattr(_threads, "_MARGIN", 0.0)

    def fail_late(X, level, generator):
        if torch.get_num_threads() == 1:
            raise RuntimeError("failed on one thread")
        return X

    torch.set_num_threads(2)
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(4,), max_epochs=3, batch_size=10, corruption=fail_late
    )
    with pytest.raises(RuntimeError, match="one thread"):
        dae.fit(X)
    assert torch.get_num_threads() == 2


def test_a_call_that_inherits_a_choice_probes_once_its_steps_wait():
    machine = FakeMachine({1: 1.0e-3, 2: 0.7e-3})
    _run(machine, 10)  # chose 2 threads, quiet
    machine.seconds[2], machine.waiting = 0.1, 0.9  # then the load came
    later = _run(machine, 5)
    assert machine.ran_on[10:15] == [2, 1, 1, 1, 1]
    assert later.threads == 1
