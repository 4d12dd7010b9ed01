"""Hand-derived gradients of the built-in modules' denoising loss.

Every greedy stage trains one :class:`~sk_dae.modules.DAELayer`
``z = s'(W' s(W x~ + b) + b')``; a joint stage trains the whole
:class:`~sk_dae.modules.StackedDenoisingAutoencoder`, its encoders bottom up
and its decoders top down (a layer is a stack of one), or the imputer's
:class:`~sk_dae.modules.StackEnsemble`, the same stack for every member at
once in batched products. All train on the loss ``mean(w * l(z, x))``, whose
gradients are a few matrix products and elementwise factors per layer,
written here into gradient buffers that live as long as the stage. The
products are those of :class:`_Dense` (a layer's ``x W^T + b``, through
:func:`~sk_dae._kernels.linear`) or :class:`_Batched` (a member's
``x W + b``, through ``torch.bmm``); the chain rule is written once.

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
autograd adds; for five such stacks as one ensemble (``--n-estimators 5
--rounds 11``), 0.847 (quartiles 0.821 to 0.850).

Anything this module does not cover (a mixed-type table's categorical
columns, any user's module, a subclass of the built-in ones) runs through
autograd, and ``tests/test_backprop.py`` holds both to the same loss and
gradients.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ._functions import ACTIVATIONS, LOSSES, Activation, lookup
from ._kernels import linear
from ._loss import consistency_loss, loss_weights
from .modules import StackEnsemble


class _Dense:
    """The products of a :class:`~sk_dae.modules.DAELayer`'s affine maps,
    ``a W^T + b`` with ``W`` (out, in), on (B, in) batches."""

    @staticmethod
    def layers(module):
        layers = getattr(module, "layers", None)
        layers = [module] if layers is None else list(layers)
        return [
            _Layer(
                weight=layer.weight,
                bias=layer.bias,
                decoder_weight=layer.decoder_weight,
                decoder_bias=layer.decoder_bias,
                encoder=lookup(ACTIVATIONS, layer.activation, "activation"),
                decoder=lookup(ACTIVATIONS, layer.output_activation, "activation"),
                decoder_matrix=layer.decoder_matrix,
            )
            for layer in layers
        ]

    @staticmethod
    def affine(a, weight, bias):
        return linear(a, weight, bias)

    @staticmethod
    def back(d, weight):  # dL/d(input) from dL/d(output)
        return linear(d, weight.t())

    @staticmethod
    def weight_grad(d, a, out):  # d^T a, (out, in)
        return linear(d.t(), a.t(), out=out)

    @staticmethod
    def tied_grad(d, a, d_decoder, y, out):
        # d^T a + y^T d_decoder: one product over 2B rows rather than two and
        # an add.
        left = torch.cat([d, y])  # (2B, H)
        right = torch.cat([a, d_decoder])  # (2B, F)
        return linear(left.t(), right.t(), out=out)

    @staticmethod
    def bias_grad(d, out):
        return torch.sum(d, 0, out=out)

    @staticmethod
    def to_chain(module, x):
        return x

    @staticmethod
    def from_chain(module, z):
        return z

    @staticmethod
    def codes_to_chain(h):
        return h


class _Batched:
    """The products of a :class:`~sk_dae.modules.StackEnsemble`'s affine
    maps, ``a W + b`` with ``W`` (M, in, out), on (M, B, in) batches: each
    member's own copy of the input, through its own weights."""

    @staticmethod
    def layers(ensemble):
        act = lookup(ACTIVATIONS, ensemble.activation, "activation")
        tied = ensemble.tied_weights
        return [
            _Layer(
                weight=ensemble.encoder_weights[k],
                bias=ensemble.encoder_biases[k],
                decoder_weight=None if tied else ensemble.decoder_weights[k],
                decoder_bias=ensemble.decoder_biases[k],
                encoder=act,
                decoder=act if k else ACTIVATIONS["identity"],
                decoder_matrix=lambda k=k: ensemble._decoder_weight(k),
            )
            for k in range(len(ensemble.encoder_weights))
        ]

    @staticmethod
    def affine(a, weight, bias):
        return torch.baddbmm(bias, a, weight)

    @staticmethod
    def back(d, weight):
        return torch.bmm(d, weight.transpose(1, 2))

    @staticmethod
    def weight_grad(d, a, out):  # a^T d, (M, in, out)
        return torch.bmm(a.transpose(1, 2), d, out=out)

    @staticmethod
    def tied_grad(d, a, d_decoder, y, out):
        # a^T d + d_decoder^T y, as one product over 2B rows.
        left = torch.cat([a, d_decoder], dim=1)  # (M, 2B, F)
        right = torch.cat([d, y], dim=1)  # (M, 2B, H)
        return torch.bmm(left.transpose(1, 2), right, out=out)

    @staticmethod
    def bias_grad(d, out):
        return torch.sum(d, 1, keepdim=True, out=out)

    @staticmethod
    def to_chain(ensemble, x):  # (B, M * F) -> (M, B, F)
        if not ensemble._in_order:
            x = x.index_select(1, ensemble._order)
        return x.view(len(x), ensemble.n_members, -1).transpose(0, 1)

    @staticmethod
    def from_chain(ensemble, z):  # (M, B, F) -> (B, M * F)
        # contiguous, not reshape: with one column a member, reshape returns a
        # view with the members' strides, which the loss cannot flatten.
        z = z.transpose(0, 1).contiguous().view(z.shape[1], -1)
        return z if ensemble._in_order else z.index_select(1, ensemble._unorder)

    @staticmethod
    def codes_to_chain(h):  # encode's (B, M, H) -> (M, B, H)
        return h.transpose(0, 1)


@dataclass(frozen=True)
class _Layer:
    """One layer's parameters and non-linearities, as the chain rule reads
    them: the encoder's ``weight`` and ``bias``, the decoder's
    (``decoder_weight`` None: tied to ``weight``), the ``encoder`` and
    ``decoder`` activations, and ``decoder_matrix()``, the decoder's weight
    as its products take it."""

    weight: nn.Parameter
    bias: nn.Parameter
    decoder_weight: nn.Parameter | None
    decoder_bias: nn.Parameter
    encoder: Activation
    decoder: Activation
    decoder_matrix: Callable[[], torch.Tensor]

    def named_parameters(self):
        names = ("weight", "bias", "decoder_weight", "decoder_bias")
        parameters = ((name, getattr(self, name)) for name in names)
        return [(name, p) for name, p in parameters if p is not None]


def _products(module):
    """The product kind of one of the built-in modules."""
    return _Batched if isinstance(module, StackEnsemble) else _Dense


class StackBackprop:
    """Loss and gradients of the denoising loss of a stack of layers.

    Parameters
    ----------
    module : DAELayer, StackedDenoisingAutoencoder or StackEnsemble
        What the stage trains: one layer, the built-in stack trained
        jointly (its encoders bottom up, its decoders top down), or an
        ensemble of such stacks. Its parameters get ``.grad`` buffers of
        their own. The bottom decoder's output is what the loss takes (an
        affine output, for a loss ``on_logits``).
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
        self.module = module
        self.products = _products(module)
        self.layers = self.products.layers(module)
        self.loss = lookup(LOSSES, loss_kind, "loss")
        self.emphasis = emphasis
        self.consistency = consistency
        self.fill = fill if isinstance(fill, nn.Parameter) else None
        # One dict of buffers per layer, by the layer's parameter names; a
        # buffer may be swapped for the product a kernel returns.
        self._grads = [
            {name: torch.zeros_like(p) for name, p in layer.named_parameters()}
            for layer in self.layers
        ]
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
        buffers = {id(p): g[name] for p, g, name in self._slots}
        grads = {n: buffers[id(p)] for n, p in self.module.named_parameters()}
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
        codes of the clean input (as the module's ``encode`` returns them),
        are those the consistency term pulls the codes of ``x_tilde``
        towards (None: no such term).

        ``output`` is what the autograd path reconstructs: the bottom
        decoder's output, in the input's layout.
        """
        chain = self.products
        with torch.no_grad():
            inputs, codes, z = self._forward(chain.to_chain(self.module, x_tilde))
            out = chain.from_chain(self.module, z)
            weight = loss_weights(corrupted, self.emphasis, observed)
            loss, d_out, scale = self.loss.value_and_gradient(out, x, weight)
            d_out = chain.to_chain(self.module, d_out)
            d_out = self.layers[0].decoder.times_derivative(d_out, z)
            if clean_codes is not None:
                clean_codes = chain.codes_to_chain(clean_codes)
            d, loss, tied = self._decoder_gradients(
                d_out, scale, codes, loss, clean_codes
            )
            self._encoder_gradients(d, inputs, tied, holes)
        for p, g, name in self._slots:
            p.grad = g[name]
        if self.fill is not None:
            self.fill.grad = self._fill_grad
        return loss, out

    def _forward(self, a):
        """``(inputs, codes, out)``: each encoder's input (bottom first), each
        decoder's input (``codes[k]`` decodes to layer k's input; the top
        one is the top layer's code), and the reconstruction."""
        inputs = []
        for layer in self.layers:
            inputs.append(a)
            a = layer.encoder.forward_(
                self.products.affine(a, layer.weight, layer.bias)
            )
        codes = [None] * len(self.layers)
        for k in reversed(range(len(self.layers))):
            codes[k] = a
            layer = self.layers[k]
            a = self.products.affine(a, layer.decoder_matrix(), layer.decoder_bias)
            a = layer.decoder.forward_(a)
        return inputs, codes, a

    def _decoder_gradients(self, d, scale, codes, loss, clean_codes):
        """The decoders' gradients, bottom decoder first; ``(d, loss, tied)``:
        dL / d(pre-activation of the top encoder), the loss with the
        consistency term, and each tied layer's decoder half ``(y, d)`` for
        its encoder's product (None for a layer of its own decoder weight).

        ``d`` is dL / d(pre-activation of the bottom decoder) but for the
        loss's factor ``scale``. The scale rides on the small operands: the
        bottom decoder's codes (B, H) and the gradient it passes up, not a
        pass over the (B, F) ``d``."""
        chain, top = self.products, len(self.layers) - 1
        tied = [None] * len(self.layers)
        for k, layer in enumerate(self.layers):
            g = self._grads[k]
            y = codes[k]  # the decoder's input
            bias = chain.bias_grad(d, g["decoder_bias"])
            d_y = chain.back(d, layer.decoder_matrix())  # (B, H_k)
            if k == 0:
                bias.mul_(scale)
                d_y.mul_(scale)
            if k == top and clean_codes is not None:
                loss = loss + consistency_loss(y, clean_codes, self.consistency)
                drift = y - clean_codes  # (B, H)
                d_y.add_(drift, alpha=2 * self.consistency / drift.numel())
            # What made y: the top encoder, or the decoder above.
            made_y = layer.encoder if k == top else self.layers[k + 1].decoder
            d_next = made_y.times_derivative(d_y, y)
            if k == 0:
                y = y.mul_(scale)  # after its last use unscaled
            if layer.decoder_weight is None:
                tied[k] = (y, d)
            else:
                g["decoder_weight"] = chain.weight_grad(d, y, g["decoder_weight"])
            d = d_next
        return d, loss, tied

    def _encoder_gradients(self, d, inputs, tied, holes):
        """The encoders' gradients, top first, from ``d``, dL / d(pre-activation
        of the top encoder); then the learned fill's. Through the product
        kind's kernels, into the gradient's buffer where the kernel can write
        there."""
        chain = self.products
        for k in reversed(range(len(self.layers))):
            layer, g, a = self.layers[k], self._grads[k], inputs[k]
            chain.bias_grad(d, g["bias"])
            if tied[k] is None:
                g["weight"] = chain.weight_grad(d, a, g["weight"])
            else:
                y, d_decoder = tied[k]
                g["weight"] = chain.tied_grad(d, a, d_decoder, y, g["weight"])
            if k > 0:
                d_a = chain.back(d, layer.weight)
                d = self.layers[k - 1].encoder.times_derivative(d_a, a)
            elif self._fill_grad is not None:
                self._fill_gradient(d, holes)

    def _fill_gradient(self, d, holes):
        """dL/d fill: the input's gradient, d W (B, F), summed over the
        entries the fill stood in for."""
        if holes is None:
            self._fill_grad.zero_()
            return
        d_x = self.products.back(d, self.layers[0].weight)
        d_x = self.products.from_chain(self.module, d_x).mul_(holes)  # (B, F)
        torch.sum(d_x, 0, out=self._fill_grad)
