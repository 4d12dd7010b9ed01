"""Adam with a lean step for the small, frequent updates of batch-100 training."""

import torch
from torch.optim import Adam


class LeanAdam(Adam):
    """``torch.optim.Adam(fused=True)``, whose ``step`` calls the fused kernel
    directly in the common case.

    It is an ``Adam``: the same state, ``state_dict``, schedulers and results,
    bit for bit (the same kernel, on the same tensors). What it skips is the
    generic bookkeeping around that kernel (grad-mode and dynamo wrappers, lazy
    state checks, grouping by device and dtype), about 75 us of Python per step:
    45 ms of a 0.62 s epoch at the reference setting on a 2-core CPU
    (``benchmarks/README.md``). Step hooks still run: ``Optimizer`` wraps every
    subclass's ``step`` with them. Every other case takes ``Adam.step``: a
    closure, a parameter without state yet (the first step), parameters on
    several devices or dtypes, AMSGrad, ``maximize``, capturable or
    differentiable groups, or a tensor ``lr``.
    """

    def __init__(self, params, lr=1e-3, **kwargs):
        super().__init__(params, lr=lr, fused=True, **kwargs)

    def step(self, closure=None):
        groups = None if closure is not None else self._lean()
        if groups is None:
            # Adam.step without the hook wrapper that Optimizer may have put on
            # it: this step, already wrapped, has run the hooks.
            adam_step = Adam.step
            if getattr(adam_step, "hooked", False):
                adam_step = adam_step.__wrapped__
            return adam_step(self, closure)
        with torch.no_grad():  # as in Adam.step
            for group, tensors in groups:
                self._fused_step(group, *tensors)
        return None

    @staticmethod
    def _fused_step(group, params, grads, exp_avgs, exp_avg_sqs, steps):
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(  # what Adam.step ends in, with the same arguments
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
        )

    def _lean(self):
        """The tensors of each group's step, or None where Adam.step is needed."""
        groups = []
        for group in self.param_groups:
            if (
                group["amsgrad"]
                or group["maximize"]
                or group["capturable"]
                or group["differentiable"]
                or group["decoupled_weight_decay"]
                or isinstance(group["lr"], torch.Tensor)
            ):
                return None
            tensors = ([], [], [], [], [])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # first step: Adam.step creates the state
                    return None
                for bucket, tensor in zip(
                    tensors,
                    (p, p.grad, state["exp_avg"], state["exp_avg_sq"], state["step"]),
                    strict=True,
                ):
                    bucket.append(tensor)
            if len({(p.device, p.dtype) for p in tensors[0]}) > 1:
                return None  # the fused kernel takes one device and dtype
            if tensors[0]:
                groups.append((group, tensors))
        return groups
