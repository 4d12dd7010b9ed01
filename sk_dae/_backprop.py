"""Hand-derived gradients of the built-in stack's denoising loss.

Every greedy stage trains one :class:`~sk_dae.modules.DAELayer`
``z = s'(W' s(W x~ + b) + b')``; a joint stage trains the whole
:class:`~sk_dae.modules.StackedDenoisingAutoencoder`, its encoders bottom up
and its decoders top down (a layer is a stack of one). Both train on the loss
``mean(w * l(z, x))``, whose gradients are a few matrix products and
elementwise factors per layer, written here into gradient buffers that live as
long as the stage.

Why not autograd: a step is a handful of small kernels, and autograd's graph,
its engine and a fresh gradient tensor per parameter per batch cost a share of
the step that grows as the kernels shrink. Measured end to end, one
``partial_fit`` epoch of the estimator on Fashion-MNIST in turns with autograd
on the same model (``python benchmarks/ab_engine.py --autograd``, 2-core
Xeon), this path's epoch over autograd's, median of per-round ratios: 0.868 at
the reference setting (60,000 rows, 41 rounds) and 0.938 at 784-2000-784 with
cross-entropy (20,000 rows, 11 rounds). For a joint stack, the imputer's
default three 64-unit relu layers on a 1,000 x 13 table with 30% holes,
whole fits in turns (``python benchmarks/ab_engine.py --autograd --imputer
--rounds 15``, AMD EPYC, 2 cores): 0.790 of autograd's time (quartiles 0.731
to 0.838), as a step of small products is mostly the fixed costs that
autograd adds.
Anything this module does not cover (a mixed-type table's categorical
columns, any user's module, a subclass of the built-in ones) runs through
autograd, and ``tests/test_backprop.py`` holds both to the same loss and
gradients.
"""

import torch
from torch import nn

from ._functions import ACTIVATIONS, LOSSES, lookup
from ._kernels import linear
from ._loss import consistency_loss, loss_weights


def _layers(module):
    """The :class:`~sk_dae.modules.DAELayer` of ``module``, bottom first: the
    built-in stack's, or the layer itself."""
    layers = getattr(module, "layers", None)
    return [module] if layers is None else list(layers)


class StackBackprop:
    """Loss and gradients of the denoising loss of a stack of layers.

    Parameters
    ----------
    module : DAELayer or StackedDenoisingAutoencoder
        What the stage trains: one layer, or the built-in stack trained
        jointly (its encoders bottom up, its decoders top down). Its
        parameters get ``.grad`` buffers of their own. The bottom decoder's
        output is what the loss takes (an affine output, for a loss
        ``on_logits``).
    loss_kind : str
        A key of :data:`~sk_dae._functions.LOSSES`.
    emphasis : tuple (alpha, beta) or None
        Weights of the corrupted and untouched components, as in
        :func:`~sk_dae._loss.loss_weights`.
    consistency : float, default=0.0
        Weight of the code-consistency term of
        :func:`~sk_dae._loss.consistency_loss`, on the top layer's codes.
    fill : torch.Tensor or None, default=None
        The input fill's values (:class:`~sk_dae._fill.InputFill`): when a
        trained parameter, it gets the gradient of the inputs it stood in for.
    """

    def __init__(self, module, loss_kind, emphasis=None, consistency=0.0, fill=None):
        self.layers = _layers(module)
        self.loss = lookup(LOSSES, loss_kind, "loss")
        self.encoders = [
            lookup(ACTIVATIONS, layer.activation, "activation") for layer in self.layers
        ]
        self.decoders = [
            lookup(ACTIVATIONS, layer.output_activation, "activation")
            for layer in self.layers
        ]
        self.emphasis = emphasis
        self.consistency = consistency
        self.fill = fill if isinstance(fill, nn.Parameter) else None
        # One dict of buffers per layer, by the layer's parameter names; a
        # buffer may be swapped for the product a kernel returns (_grad).
        self._grads = [
            {name: torch.zeros_like(p) for name, p in layer.named_parameters()}
            for layer in self.layers
        ]
        self._names = [name for name, _ in module.named_parameters()]
        self._fill_grad = None if self.fill is None else torch.zeros_like(self.fill)
        # (parameter, its layer's buffers, its name there), looked up once:
        # named_parameters costs microseconds a layer, every batch.
        self._slots = [
            (p, g, name)
            for layer, g in zip(self.layers, self._grads, strict=True)
            for name, p in layer.named_parameters()
        ]

    @property
    def grads(self):
        """The gradient buffers, by the module's parameter names (and
        ``"fill"`` for a learned fill)."""
        buffers = [g[name] for g in self._grads for name in g]
        grads = dict(zip(self._names, buffers, strict=True))
        if self._fill_grad is not None:
            grads["fill"] = self._fill_grad
        return grads

    def __call__(
        self, x_tilde, x, corrupted=None, observed=None, holes=None, clean_codes=None
    ):
        """Set the module's gradients for a batch; return ``(loss, output)``.

        ``observed`` (or None: all) marks the entries of ``x`` that are targets.
        ``x_tilde`` is the corrupted input with its ``holes`` filled already
        (:class:`~sk_dae._fill.InputFill`); a learned fill gets the gradient
        of the inputs it stood in for. ``clean_codes``, the top layer's
        codes of the clean input, are those the consistency term pulls the
        codes of ``x_tilde`` towards (None: no such term).

        ``output`` is what the autograd path reconstructs: the bottom
        decoder's output.
        """
        with torch.no_grad():
            inputs, codes, out = self._forward(x_tilde)
            weight = loss_weights(corrupted, self.emphasis, observed)
            loss, d_out, scale = self.loss.value_and_gradient(out, x, weight)
            d_out = self.decoders[0].times_derivative(d_out, out)
            d, loss = self._decoder_gradients(d_out, scale, codes, loss, clean_codes)
            self._encoder_gradients(d, inputs, holes)
        for p, g, name in self._slots:
            p.grad = g[name]
        if self.fill is not None:
            self.fill.grad = self._fill_grad
        return loss, out

    def _forward(self, x_tilde):
        """``(inputs, codes, out)``: each encoder's input (bottom first), each
        decoder's input (``codes[k]`` decodes to layer k's input; the top
        one is the top layer's code), and the reconstruction."""
        inputs, a = [], x_tilde
        for layer, encoder in zip(self.layers, self.encoders, strict=True):
            inputs.append(a)
            a = encoder.forward_(linear(a, layer.weight, layer.bias))
        codes = [None] * len(self.layers)
        for k in reversed(range(len(self.layers))):
            codes[k] = a
            layer = self.layers[k]
            a = linear(a, layer.decoder_matrix(), layer.decoder_bias)
            a = self.decoders[k].forward_(a)
        return inputs, codes, a

    def _decoder_gradients(self, d, scale, codes, loss, clean_codes):
        """The decoders' gradients, bottom decoder first; ``(d, loss)``: dL /
        d(pre-activation of the top encoder), and the loss with the
        consistency term.

        ``d`` is dL / d(pre-activation of the bottom decoder) but for the
        loss's factor ``scale``. The scale rides on the small operands: the
        bottom decoder's codes (B, H) and the gradient it passes up, not a
        pass over the (B, F) ``d``. A tied layer's decoder half is kept for
        its encoder's product (``_tied``)."""
        top = len(self.layers) - 1
        self._tied = [None] * len(self.layers)
        for k, layer in enumerate(self.layers):
            g = self._grads[k]
            y = codes[k]  # the decoder's input
            bias = torch.sum(d, 0, out=g["decoder_bias"])
            d_y = linear(d, layer.decoder_matrix().t())  # (B, H_k)
            if k == 0:
                bias.mul_(scale)
                d_y.mul_(scale)
            if k == top and clean_codes is not None:
                loss = loss + consistency_loss(y, clean_codes, self.consistency)
                drift = y - clean_codes  # (B, H)
                d_y.add_(drift, alpha=2 * self.consistency / drift.numel())
            # What made y: the top encoder, or the decoder above.
            made_y = self.encoders[top] if k == top else self.decoders[k + 1]
            d_next = made_y.times_derivative(d_y, y)
            if k == 0:
                y = y.mul_(scale)  # after its last use unscaled
            if layer.tied_weights:
                self._tied[k] = (y, d)
            else:
                g["decoder_weight"] = linear(d.t(), y.t(), out=g["decoder_weight"])
            d = d_next
        return d, loss

    def _encoder_gradients(self, d, inputs, holes):
        """The encoders' gradients, top first, from ``d``, dL / d(pre-activation
        of the top encoder); then the learned fill's.

        dL/dW (H, F) = d' x (+ y' d_decoder, tied): tied, the two halves are one
        product over 2B rows rather than two and an add. Through
        :func:`~sk_dae._kernels.linear`, like the step's other products, so
        that the kernel is chosen per shape (into the gradient's buffer where
        the kernel can write there)."""
        for k in reversed(range(len(self.layers))):
            layer, g, x_in = self.layers[k], self._grads[k], inputs[k]
            torch.sum(d, 0, out=g["bias"])
            if self._tied[k] is None:
                g["weight"] = linear(d.t(), x_in.t(), out=g["weight"])
            else:
                y, d_decoder = self._tied[k]
                left = torch.cat([d, y])  # (2B, H)
                right = torch.cat([x_in, d_decoder])  # (2B, F)
                g["weight"] = linear(left.t(), right.t(), out=g["weight"])
            if k > 0:
                d_x = linear(d, layer.weight.t())  # (B, n_in)
                d = self.encoders[k - 1].times_derivative(d_x, x_in)
            elif self._fill_grad is not None:
                self._fill_gradient(d, holes)
        self._tied = None

    def _fill_gradient(self, d, holes):
        """dL/d fill: the input's gradient, d W (B, F), summed over the
        entries the fill stood in for."""
        if holes is None:
            self._fill_grad.zero_()
            return
        d_x = linear(d, self.layers[0].weight.t()).mul_(holes)  # (B, F)
        torch.sum(d_x, 0, out=self._fill_grad)
