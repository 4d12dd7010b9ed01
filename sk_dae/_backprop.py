"""Hand-derived gradients of one layer's denoising loss.

Every greedy stage, and a joint stage of a single layer, trains one
:class:`~sk_dae.modules.DAELayer` ``z = s'(W' s(W x~ + b) + b')`` on the loss
``mean(w * l(z, x))``. Its gradients are a few matrix products and elementwise
factors, written here into gradient buffers that live as long as the stage.

Why not autograd: at the reference setting (784-100-784, batch 100, 2-core CPU)
a step is a handful of small kernels, and autograd's graph, its engine and a
fresh gradient tensor per parameter per batch cost about an eighth of the
epoch. Measured end to end, one ``partial_fit`` epoch of the estimator on
Fashion-MNIST in turns with autograd on the same model (``python
benchmarks/ab_engine.py --autograd``, 2-core Xeon), this path's epoch over
autograd's, median of per-round ratios: 0.868 at the reference setting (60,000
rows, 41 rounds) and 0.938 at 784-2000-784 with cross-entropy (20,000 rows,
11 rounds). Anything this module does not cover (a joint stack of several
layers, any user's module) runs through autograd, and
``tests/test_backprop.py`` holds both to the same loss and gradients.
"""

import torch
from torch import nn

from ._functions import ACTIVATIONS, LOSSES, lookup
from ._kernels import linear
from ._loss import consistency_loss, loss_weights


class LayerBackprop:
    """Loss and gradients of the denoising loss of one layer.

    Parameters
    ----------
    layer : DAELayer
        The layer trained; its parameters get ``.grad`` buffers of their own.
        Its decoder's output is what the loss takes (an affine output, for a
        loss ``on_logits``).
    loss_kind : str
        A key of :data:`~sk_dae._functions.LOSSES`.
    emphasis : tuple (alpha, beta) or None
        Weights of the corrupted and untouched components, as in
        :func:`~sk_dae._loss.loss_weights`.
    consistency : float, default=0.0
        Weight of the code-consistency term of
        :func:`~sk_dae._loss.consistency_loss`.
    fill : torch.Tensor or None, default=None
        The input fill's values (:class:`~sk_dae._fill.InputFill`): when a
        trained parameter, it gets the gradient of the inputs it stood in for.
    """

    def __init__(self, layer, loss_kind, emphasis=None, consistency=0.0, fill=None):
        self.layer = layer
        self.loss = lookup(LOSSES, loss_kind, "loss")
        self.encoder = lookup(ACTIVATIONS, layer.activation, "activation")
        self.decoder = lookup(ACTIVATIONS, layer.output_activation, "activation")
        self.emphasis = emphasis
        self.consistency = consistency
        params = dict(layer.named_parameters())
        if isinstance(fill, nn.Parameter):
            params["fill"] = fill
        self.fill = params.get("fill")
        self._params = params
        self.grads = {name: torch.zeros_like(p) for name, p in params.items()}

    def __call__(
        self, x_tilde, x, corrupted=None, observed=None, holes=None, clean_codes=None
    ):
        """Set the layer's gradients for a batch; return ``(loss, output)``.

        ``observed`` (or None: all) marks the entries of ``x`` that are targets.
        ``x_tilde`` is the corrupted input with its ``holes`` filled already
        (:class:`~sk_dae._fill.InputFill`); a learned fill gets the gradient
        of the inputs it stood in for. ``clean_codes``, the layer's
        codes of the clean input, are those the consistency term pulls the
        codes of ``x_tilde`` towards (None: no such term).

        ``output`` is what the autograd path reconstructs: the decoder's
        output.
        """
        layer, g = self.layer, self.grads
        with torch.no_grad():
            h = layer.encode(x_tilde)  # (B, H)
            decoder_weight = layer.decoder_matrix()  # W', (F, H)
            out = linear(h, decoder_weight, layer.decoder_bias)  # (B, F)
            out = self.decoder.forward_(out)
            weight = loss_weights(corrupted, self.emphasis, observed)
            loss, d_out, scale = self.loss.value_and_gradient(out, x, weight)
            d_out = self.decoder.times_derivative(d_out, out)
            # d_out * scale is dL / d(pre-activation of the decoder), (B, F). The
            # scale rides on the small (B, H) operands, not on a pass over d_out.
            torch.sum(d_out, 0, out=g["decoder_bias"]).mul_(scale)
            d_h = linear(d_out, decoder_weight.t()).mul_(scale)  # (B, H)
            if clean_codes is not None:
                loss = loss + consistency_loss(h, clean_codes, self.consistency)
                drift = h - clean_codes  # (B, H)
                d_h.add_(drift, alpha=2 * self.consistency / drift.numel())
            d_a = self.encoder.times_derivative(d_h, h)
            torch.sum(d_a, 0, out=g["bias"])
            self._weight_gradients(d_a, x_tilde, h.mul_(scale), d_out)
            if "fill" in g:
                self._fill_gradient(d_a, holes)
        for name, p in self._params.items():
            p.grad = g[name]
        return loss, out

    def _weight_gradients(self, d_a, x_tilde, scaled_h, d_out):
        """dL/dW (H, F) = d_a' x~ (+ h' d_out, tied); dL/dW' (F, H) = d_out' h.

        Through :func:`~sk_dae._kernels.linear`, like the step's other
        products, so that the kernel is chosen per shape (into the gradient's
        buffer where the kernel can write there). Tied, the two halves are one
        product over 2B rows rather than two and an add. ``scaled_h`` carries
        the loss's scale: the smallest operand, (B, H).
        """
        g = self.grads
        if self.layer.tied_weights:
            left = torch.cat([d_a, scaled_h])  # (2B, H)
            right = torch.cat([x_tilde, d_out])  # (2B, F)
            g["weight"] = linear(left.t(), right.t(), out=g["weight"])
        else:
            g["weight"] = linear(d_a.t(), x_tilde.t(), out=g["weight"])
            g["decoder_weight"] = linear(
                d_out.t(), scaled_h.t(), out=g["decoder_weight"]
            )

    def _fill_gradient(self, d_a, holes):
        """dL/d fill: the input's gradient, d_a W (B, F), summed over the
        entries the fill stood in for."""
        fill_grad = self.grads["fill"]
        if holes is None:
            fill_grad.zero_()
            return
        d_x = linear(d_a, self.layer.weight.t()).mul_(holes)  # (B, F)
        torch.sum(d_x, 0, out=fill_grad)
