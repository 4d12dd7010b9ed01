"""Activations and reconstruction losses: one table each, value and derivative.

Both training paths read these tables: autograd differentiates ``forward`` and
``elementwise``/``mean``, and the hand-derived gradients of
:mod:`sk_dae._backprop` use ``times_derivative`` and ``value_and_gradient``.
``tests/test_backprop.py`` holds the two to the same loss and gradients for
every entry, so adding an activation or a loss is one entry here. Pure torch.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def _identity(t):
    return t


# Two kernels each, g y - (g y) y and g - (g y) y: every kernel is a pass over a
# (B, H) temporary on the hot path of the hand-derived step.


def _sigmoid_derivative(grad, y):  # grad * y * (1 - y)
    grad_y = grad * y
    return grad_y.addcmul_(grad_y, y, value=-1)


def _tanh_derivative(grad, y):  # grad * (1 - y^2)
    return torch.addcmul(grad, grad * y, y, value=-1)


def _relu_derivative(grad, y):  # grad where y > 0
    # y = relu(a) >= 0, so its sign is the 0/1 mask: one pass with no boolean
    # temporary, 3.4 against 17.7 us for masked_fill(y <= 0, 0) on a (64, 64)
    # batch (one thread, AMD EPYC); where y is 0 it gives -0.0 for a negative
    # grad, which equals 0.
    return grad * y.sign()


@dataclass(frozen=True)
class Activation:
    """A non-linearity ``y = s(a)``.

    ``forward(a)`` is ``s``; ``forward_(a)`` is ``s`` in place on ``a`` (a
    temporary of the hand-derived step); ``times_derivative(grad, y)`` is
    ``grad * s'(a)``, written with the output ``y`` as every entry's derivative
    can be. ``onnx_op`` is the ONNX operator that computes ``s`` (for
    :mod:`sk_dae.onnx`).
    """

    forward: Callable
    forward_: Callable
    times_derivative: Callable
    init_gain: str  # the nonlinearity name of torch.nn.init.calculate_gain
    onnx_op: str


ACTIVATIONS = {
    "sigmoid": Activation(
        torch.sigmoid,
        torch.sigmoid_,
        _sigmoid_derivative,
        init_gain="sigmoid",
        onnx_op="Sigmoid",
    ),
    "tanh": Activation(
        torch.tanh, torch.tanh_, _tanh_derivative, init_gain="tanh", onnx_op="Tanh"
    ),
    "relu": Activation(
        torch.relu, torch.relu_, _relu_derivative, init_gain="relu", onnx_op="Relu"
    ),
    "identity": Activation(
        _identity,
        _identity,
        lambda grad, y: grad,
        init_gain="linear",
        onnx_op="Identity",
    ),
}


def _weighted_mean(elementwise, weight):
    return elementwise.mean() if weight is None else (elementwise * weight).mean()


def _mse_value_and_gradient(out, x, weight):
    # mean(w * (z - x)^2); its gradient is 2 w (z - x) / n. The loss reuses the
    # gradient's factor: one dot product, no (B, F) square.
    diff = out - x
    d_out = diff if weight is None else weight * diff
    n = out.numel()
    return torch.dot(d_out.view(-1), diff.view(-1)) / n, d_out, 2.0 / n


def _bce_value_and_gradient(out, x, weight):
    # mean(w * (softplus(o) - x o)) on logits o; its gradient is
    # w * (sigmoid(o) - x) / n.
    loss = F.binary_cross_entropy_with_logits(out, x, weight=weight)
    d_out = torch.sigmoid(out).sub_(x)
    if weight is not None:
        d_out.mul_(weight)
    return loss, d_out, 1.0 / out.numel()


def _mse_mean(out, x, weight):
    if weight is None:
        return F.mse_loss(out, x)  # one fused kernel
    return _weighted_mean((out - x).square(), weight)


def _bce_mean(out, x, weight):
    return F.binary_cross_entropy_with_logits(out, x, weight=weight)


@dataclass(frozen=True)
class Loss:
    """A reconstruction loss ``l(z, x)`` of the decoder's output ``z``.

    ``elementwise(z, x)`` is the (B, F) loss; ``mean(z, x, weight)`` the batch
    loss ``mean(w * l)`` (``weight`` None weighs all alike);
    ``value_and_gradient(z, x, weight)`` returns that mean, and its gradient with
    respect to ``z`` as a tensor and a scalar factor, left for the caller to
    fold into a later product. ``output`` names the decoder non-linearity the
    loss expects; with ``on_logits`` the loss takes the decoder's
    pre-activation instead of its output (a stable cross-entropy).
    """

    elementwise: Callable
    mean: Callable
    value_and_gradient: Callable
    output: str
    on_logits: bool


LOSSES = {
    "mse": Loss(
        elementwise=lambda z, x: (z - x).square(),
        mean=_mse_mean,
        value_and_gradient=_mse_value_and_gradient,
        output="identity",
        on_logits=False,
    ),
    "bce": Loss(
        elementwise=lambda z, x: F.binary_cross_entropy_with_logits(
            z, x, reduction="none"
        ),
        mean=_bce_mean,
        value_and_gradient=_bce_value_and_gradient,
        output="sigmoid",
        on_logits=True,
    ),
}


def lookup(table, name, what):
    """``table[name]``, or a ValueError that lists the known names."""
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown {what} {name!r}; use one of {sorted(table)}."
        ) from None
