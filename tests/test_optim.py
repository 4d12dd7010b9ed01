"""LeanAdam is torch's fused Adam, bit for bit, with or without its lean step."""

import pytest
import torch

from sk_dae._optim import LeanAdam


def _params(seed=0):
    generator = torch.Generator().manual_seed(seed)
    shapes = [(7, 5), (5,), (5, 7), (7,)]
    return [torch.nn.Parameter(torch.randn(s, generator=generator)) for s in shapes]


def _groups(params):
    return [
        {"params": params[:2]},
        {"params": params[2:], "lr": 3e-2, "weight_decay": 1e-2},
    ]


def _run(optimizer_class, n_steps=6, **kwargs):
    params = _params()
    optimizer = optimizer_class(_groups(params), lr=1e-2, **kwargs)
    generator = torch.Generator().manual_seed(1)
    for step in range(n_steps):
        for k, p in enumerate(params):
            # A greedy stage leaves some parameters without a gradient.
            none = step % 3 == 2 and k in (0, 1)
            p.grad = None if none else torch.randn(p.shape, generator=generator)
        if step == 4:  # what an LR scheduler does between steps
            optimizer.param_groups[0]["lr"] = 5e-3
        optimizer.step()
    return params, optimizer


def _assert_same(a, b):
    params_a, opt_a = a
    params_b, opt_b = b
    for p, q in zip(params_a, params_b, strict=True):
        assert torch.equal(p, q)
    state_a, state_b = opt_a.state_dict(), opt_b.state_dict()
    assert state_a["param_groups"] == state_b["param_groups"]
    for key, s in state_a["state"].items():
        for name, tensor in s.items():
            assert torch.equal(tensor, state_b["state"][key][name]), (key, name)


def test_lean_steps_equal_torchs_fused_adam_bit_for_bit(monkeypatch):
    calls = []
    init_group = torch.optim.Adam._init_group

    def counted(self, *args, **kwargs):
        calls.append(1)
        return init_group(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "_init_group", counted)
    lean = _run(LeanAdam)
    n_adam_steps = len(calls)
    _assert_same(lean, _run(torch.optim.Adam, fused=True))
    # Only the first step (which creates the state) went through Adam.step.
    assert n_adam_steps == 2  # one call per parameter group


@pytest.mark.parametrize(
    "kwargs", [{"amsgrad": True}, {"maximize": True}, {"betas": (0.8, 0.9)}]
)
def test_other_settings_give_adams_results(kwargs):
    _assert_same(_run(LeanAdam, **kwargs), _run(torch.optim.Adam, fused=True, **kwargs))


def test_a_closure_is_evaluated_and_its_loss_returned():
    params = _params()
    optimizer = LeanAdam(params)
    for p in params:
        p.grad = torch.ones_like(p)
    optimizer.step()

    def closure():
        for p in params:
            p.grad = torch.ones_like(p)
        return torch.tensor(3.0)

    assert optimizer.step(closure).item() == 3.0


def test_step_hooks_still_run():
    params = _params()
    optimizer = LeanAdam(params)
    seen = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: seen.append("pre"))
    optimizer.register_step_post_hook(lambda opt, args, kwargs: seen.append("post"))
    for _ in range(3):
        for p in params:
            p.grad = torch.ones_like(p)
        optimizer.step()
    assert seen == ["pre", "post"] * 3


def test_state_dict_loads_into_torchs_adam():
    params, optimizer = _run(LeanAdam)
    adam = torch.optim.Adam(_groups(_params()), fused=True)
    adam.load_state_dict(optimizer.state_dict())
    assert adam.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
