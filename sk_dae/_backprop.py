"""Hand-derived gradients of one layer's denoising loss.

Every greedy stage, and a joint stage of a single layer, trains one
:class:`~sk_dae._modules.DAELayer` ``z = s'(W' s(W x~ + b) + b')`` on the loss
``mean(w * l(z, x))``. Its gradients are a few matrix products and elementwise
factors, written here into gradient buffers that live as long as the stage.

Why not autograd: at the reference setting (784-100-784, batch 100, 2-core CPU)
a step is a handful of small kernels, and autograd's graph, its engine and a
fresh gradient tensor per parameter per batch cost about an eighth of the
epoch. Measured on Fashion-MNIST, seconds per epoch of the same bare loop: 0.72
with autograd, 0.63 with this (``benchmarks/README.md``). Anything this module
does not cover (a joint stack of several layers) runs through autograd, and
``tests/test_backprop.py`` holds both to the same loss and gradients.
"""

import torch
import torch.nn.functional as F

_ACTIVATE_IN_PLACE = {
    "sigmoid": torch.sigmoid_,
    "tanh": torch.tanh_,
    "relu": torch.relu_,
    "identity": lambda y: y,
}


def _times_derivative(grad, y, activation):
    """``grad * s'(a)`` for ``y = s(a)``, with the kernels autograd itself uses
    for the backward of each activation of ``sk_dae._modules.ACTIVATIONS``."""
    aten = torch.ops.aten
    if activation == "sigmoid":
        return aten.sigmoid_backward(grad, y)  # grad * y * (1 - y)
    if activation == "tanh":
        return aten.tanh_backward(grad, y)  # grad * (1 - y^2)
    if activation == "relu":
        return aten.threshold_backward(grad, y, 0)  # grad where y > 0
    return grad


class LayerBackprop:
    """Loss and gradients of the denoising loss of one layer.

    Parameters
    ----------
    layer : DAELayer
        The layer trained; its parameters get ``.grad`` buffers of their own.
    loss_kind : {"mse", "bce"}
        ``"bce"`` takes the decoder's pre-activation as logits.
    emphasis : tuple (alpha, beta) or None
        Weights of the corrupted and untouched components, as in
        :class:`~sk_dae._loss.ReconstructionLoss`.
    """

    def __init__(self, layer, loss_kind, emphasis=None):
        self.layer = layer
        self.loss_kind = loss_kind
        self.emphasis = emphasis
        self.grads = {name: torch.zeros_like(p) for name, p in layer.named_parameters()}
        self._pairs = [(p, self.grads[name]) for name, p in layer.named_parameters()]

    def __call__(self, x_tilde, x, corrupted=None):
        """Set the layer's gradients for a batch; return ``(loss, output)``.

        ``output`` is what the autograd path reconstructs: the decoder's logits
        for ``"bce"``, its activation otherwise.
        """
        layer, g = self.layer, self.grads
        with torch.no_grad():
            h = layer.encode(x_tilde)  # (B, H)
            decoder_weight = layer.decoder_matrix()  # W', (F, H)
            out = torch.addmm(layer.decoder_bias, h, decoder_weight.t())  # (B, F)
            if self.loss_kind != "bce":
                out = _ACTIVATE_IN_PLACE[layer.output_activation](out)
            loss, d_out, scale = self._loss_and_gradient(out, x, corrupted)
            if self.loss_kind != "bce":
                d_out = _times_derivative(d_out, out, layer.output_activation)
            # d_out * scale is dL / d(pre-activation of the decoder), (B, F). The
            # scale rides on the products (alpha) rather than costing a pass.
            torch.sum(d_out, 0, out=g["decoder_bias"]).mul_(scale)
            d_h = d_out.mm(decoder_weight).mul_(scale)  # (B, H)
            d_a = _times_derivative(d_h, h, layer.activation)
            torch.sum(d_a, 0, out=g["bias"])
            torch.mm(d_a.t(), x_tilde, out=g["weight"])
            if layer.tied_weights:
                g["weight"].addmm_(h.t(), d_out, alpha=scale)
            else:
                g["decoder_weight"].addmm_(d_out.t(), h, beta=0, alpha=scale)
        for p, grad in self._pairs:
            p.grad = grad
        return loss, out

    def _loss_and_gradient(self, out, x, corrupted):
        """Mean loss of the batch, and its gradient with respect to ``out`` as a
        tensor and a scale factor to apply later."""
        weight = None
        if self.emphasis is not None and corrupted is not None:
            alpha, beta = self.emphasis
            weight = corrupted * (alpha - beta) + beta
        n = out.numel()
        if self.loss_kind == "bce":
            # mean(w * (softplus(o) - x o)); its gradient is w * (sigmoid(o) - x) / n.
            loss = F.binary_cross_entropy_with_logits(out, x, weight=weight)
            d_out = torch.sigmoid(out).sub_(x)
            if weight is not None:
                d_out.mul_(weight)
            return loss, d_out, 1.0 / n
        # mean(w * (z - x)^2); its gradient is 2 w (z - x) / n.
        diff = out - x
        d_out = diff if weight is None else weight * diff
        loss = torch.dot(d_out.view(-1), diff.view(-1)) / n
        return loss, d_out, 2.0 / n
