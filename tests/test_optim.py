"""Adam's direct fused step against ``optimizer.step()``, and every case in
which it must leave the step to torch."""

import warnings

import numpy as np
import pytest
import torch

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer, _optim
from sk_dae._optim import adam_step, fused_step_available

SHAPES = [(6, 5), (6,), (5, 6), (5,)]


def _params(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.rand(s, generator=generator)) for s in SHAPES]


def _grads(k):
    generator = torch.Generator().manual_seed(100 + k)
    return [torch.randn(s, generator=generator) for s in SHAPES]


def _train(step, adam_kwargs=None, steps=6, groups=False):
    """Parameters and optimizer after ``steps`` steps taken by ``step``, with a
    cosine schedule; the second tensor has no gradient every third step (as a
    greedy stage leaves the layers it does not train)."""
    params = _params()
    spec = params
    if groups:
        spec = [{"params": params[:2]}, {"params": params[2:], "lr": 0.05}]
    adam = torch.optim.Adam(spec, **{"lr": 0.1, "fused": True, **(adam_kwargs or {})})
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(adam, T_max=steps)
    for k in range(steps):
        for p, g in zip(params, _grads(k), strict=True):
            p.grad = g
        if k % 3 == 2:
            params[1].grad = None
        step(adam)
        schedule.step()
    return params, adam


def _state(adam):
    return [
        (k, v) for s in adam.state.values() for k, v in sorted(s.items()) if k != "step"
    ] + [("step", s["step"]) for s in adam.state.values()]


@pytest.mark.parametrize(
    "adam_kwargs, groups",
    [({}, False), ({"weight_decay": 0.01, "betas": (0.8, 0.99)}, False), ({}, True)],
)
def test_the_direct_step_leaves_what_torchs_step_leaves(adam_kwargs, groups):
    assert fused_step_available()
    want, want_adam = _train(lambda adam: adam.step(), adam_kwargs, groups=groups)
    got, got_adam = _train(adam_step, adam_kwargs, groups=groups)
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a, b)
    for (name, a), (_, b) in zip(_state(got_adam), _state(want_adam), strict=True):
        assert torch.equal(a, b), name


def _torch_steps(adam_kwargs=None, hook=False):
    """How many of 4 calls of adam_step ran ``optimizer.step()``."""
    calls = []
    params = _params()
    adam = torch.optim.Adam(params, **{"lr": 0.1, "fused": True, **(adam_kwargs or {})})
    if hook:
        adam.register_step_post_hook(lambda *args: calls.append("hook"))
    else:
        step = adam.step
        adam.step = lambda: (calls.append("step"), step())
    for k in range(4):
        for p, g in zip(params, _grads(k), strict=True):
            p.grad = g
        adam_step(adam)
    return len(calls)


def test_the_first_step_of_each_optimizer_is_torchs_and_the_others_are_not():
    assert _torch_steps() == 1


def test_a_step_hook_gets_every_step():
    assert _torch_steps(hook=True) == 4


@pytest.mark.parametrize(
    "adam_kwargs",
    [
        {"fused": False},
        {"fused": False, "foreach": True},
        {"amsgrad": True},
        {"maximize": True},
        {"lr": torch.tensor(0.1)},
    ],
)
def test_options_the_kernel_call_does_not_cover_go_through_torch(adam_kwargs):
    assert _torch_steps(adam_kwargs) == 4


def test_a_restored_optimizer_with_a_scheduler_warns_of_nothing():
    params, adam = _train(adam_step)
    restored = torch.optim.Adam(params, lr=0.1, fused=True)
    restored.load_state_dict(adam.state_dict())
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(restored, T_max=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(3):
            for p, g in zip(params, _grads(k), strict=True):
                p.grad = g
            adam_step(restored)
            schedule.step()


def test_without_the_op_every_step_is_torchs(monkeypatch):
    monkeypatch.setattr(_optim, "_FUSED", None)
    monkeypatch.setattr(_optim, "_probe", {})
    assert not fused_step_available()
    params, adam = _train(adam_step)
    want, _ = _train(lambda adam: adam.step())
    for a, b in zip(params, want, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "make",
    [
        lambda: DenoisingAutoencoderTransformer(
            hidden_layer_sizes=(8, 4), max_epochs=3, random_state=0, device="cpu"
        ),
        lambda: DenoisingAutoencoderImputer(max_epochs=3, random_state=0),
    ],
)
def test_estimators_train_alike_with_and_without_the_direct_step(monkeypatch, make):
    X = np.random.default_rng(0).random((120, 9))
    X[np.random.default_rng(1).random(X.shape) < 0.2] = np.nan
    fast = make().fit(X)
    monkeypatch.setattr(_optim, "_probe", {"fused": False})
    slow = make().fit(X)
    fast_net = getattr(fast, "autoencoder_", fast).net_
    slow_net = getattr(slow, "autoencoder_", slow).net_
    for a, b in zip(
        fast_net.module_.parameters(), slow_net.module_.parameters(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
