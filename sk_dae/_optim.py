"""Adam's fused step, without ``torch.optim``'s per-call Python where none of
it applies.

``torch.optim.Adam(fused=True).step()`` runs one fused kernel per parameter
group, wrapped in Python that costs more than the kernel at the estimators'
small shapes: the step's hooks and profiler range, the scan of every
parameter's state, the grouping of the tensors by device and dtype, and (with
a learning-rate scheduler) a wrapper that counts the calls. Measured in turns,
500 steps a round, median of 9 rounds, one thread (AMD EPYC, torch
2.13.0+cpu): 144 against 64 us a step on the twelve tensors of the imputer's
default network (13-64-64-64 and back), 172 against 102 us at 784-100-784.

:func:`adam_step` calls that kernel (``torch._fused_adam_``, a private op)
directly on the optimizer's own state, which is then exactly what
``optimizer.step()`` leaves (``tests/test_optim.py``), and calls
``optimizer.step()`` itself wherever anything it does might apply:

- an optimizer other than a plain ``torch.optim.Adam`` with ``fused=True``,
  or one with ``amsgrad``, ``maximize``, ``capturable``, ``differentiable``,
  decoupled weight decay or a tensor learning rate;
- step hooks, the optimizer's own or global ones;
- a parameter without Adam's state yet, off the CPU (no GPU has measured
  the shortcut), of another dtype than the others of its group, or with a
  sparse gradient;
- the first step of every optimizer, so that torch's own call initialises the
  state and tells a scheduler that a step ran;
- a torch whose op is missing or disagrees with the public step on a small
  probe (checked once per process).
"""

import importlib
import weakref

import torch

# Where torch keeps the global step hooks (torch.optim's __init__ does not
# hand the submodule on as an attribute).
_OPTIMIZER_MODULE = importlib.import_module("torch.optim.optimizer")

_FUSED = getattr(torch, "_fused_adam_", None)
_probe = {}  # "fused" -> whether the direct step agrees with torch's
# The optimizers whose first step torch took; an optimizer leaves the set when
# it is collected.
_stepped = weakref.WeakSet()
# The group options under which Adam's step is the fused kernel and no more.
_OFF = ("amsgrad", "maximize", "capturable", "differentiable", "decoupled_weight_decay")


def adam_step(optimizer):
    """One step of ``optimizer``: torch's fused kernel called directly where
    nothing else of ``optimizer.step()`` applies, else ``optimizer.step()``."""
    groups = _direct_groups(optimizer)
    if groups is None:
        optimizer.step()
        _stepped.add(optimizer)
        return
    for group, tensors in groups:
        _fused_step(group, *tensors)


def _direct_groups(optimizer):
    """``[(group, (params, grads, exp_avgs, exp_avg_sqs, steps)), ...]`` for
    the direct step, or None where it does not apply."""
    if type(optimizer) is not torch.optim.Adam or optimizer not in _stepped:
        return None
    if _has_hooks(optimizer) or not fused_step_available():
        return None
    groups = []
    for group in optimizer.param_groups:
        if not group.get("fused") or torch.is_tensor(group["lr"]):
            return None
        if any(group.get(option) for option in _OFF):
            return None
        tensors = _group_tensors(optimizer, group)
        if tensors is None:
            return None
        groups.append((group, tensors))
    return groups


def _group_tensors(optimizer, group):
    params = [p for p in group["params"] if p.grad is not None]
    if not params:
        return [], [], [], [], []
    dtype = params[0].dtype
    grads, exp_avgs, exp_avg_sqs, steps = [], [], [], []
    for p in params:
        state = optimizer.state.get(p)
        grad = p.grad
        if not state or "exp_avg" not in state or not torch.is_tensor(state["step"]):
            return None
        if p.device.type != "cpu" or p.dtype is not dtype:
            return None
        if grad.layout is not torch.strided:
            return None
        grads.append(grad)
        exp_avgs.append(state["exp_avg"])
        exp_avg_sqs.append(state["exp_avg_sq"])
        steps.append(state["step"])
    return params, grads, exp_avgs, exp_avg_sqs, steps


def _has_hooks(optimizer):
    """Whether a step hook may be registered (True where torch's registries
    are not where this expects them)."""
    registries = (
        getattr(optimizer, "_optimizer_step_pre_hooks", None),
        getattr(optimizer, "_optimizer_step_post_hooks", None),
        getattr(_OPTIMIZER_MODULE, "_global_optimizer_pre_hooks", None),
        getattr(_OPTIMIZER_MODULE, "_global_optimizer_post_hooks", None),
    )
    return any(registry is None or len(registry) for registry in registries)


def _fused_step(group, params, grads, exp_avgs, exp_avg_sqs, steps):
    """What ``torch.optim.adam._fused_adam`` does for one device and dtype."""
    if not params:
        return
    beta1, beta2 = group["betas"]
    torch._foreach_add_(steps, 1)
    _FUSED(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        [],
        steps,
        lr=group["lr"],
        beta1=beta1,
        beta2=beta2,
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        amsgrad=False,
        maximize=False,
        grad_scale=None,
        found_inf=None,
    )


def fused_step_available():
    """Whether this torch's fused Adam op, called directly, gives what
    ``torch.optim.Adam(fused=True).step()`` gives (checked once per
    process)."""
    if "fused" not in _probe:
        _probe["fused"] = _probe_fused()
    return _probe["fused"]


def _probe_fused():
    """Two steps of two Adams on the same parameters and gradients, the
    second step of one of them direct: the parameters must come out equal."""
    if _FUSED is None:
        return False
    generator = torch.Generator().manual_seed(0)
    shapes = ((3, 4), (3,))
    values = [torch.rand(s, generator=generator) for s in shapes]
    steps = [[torch.rand(s, generator=generator) for s in shapes] for _ in range(2)]
    public = [torch.nn.Parameter(v.clone()) for v in values]
    direct = [torch.nn.Parameter(v.clone()) for v in values]
    adams = [torch.optim.Adam(ps, lr=0.1, fused=True) for ps in (public, direct)]
    try:
        for k, grads in enumerate(steps):
            for ps, adam in zip((public, direct), adams, strict=True):
                for p, g in zip(ps, grads, strict=True):
                    p.grad = g.clone()
                if k == 1 and ps is direct:
                    group = adam.param_groups[0]
                    _fused_step(group, *_group_tensors(adam, group))
                else:
                    adam.step()
    except (RuntimeError, TypeError, NotImplementedError):
        return False
    return all(torch.equal(a, b) for a, b in zip(public, direct, strict=True))
