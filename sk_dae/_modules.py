"""Torch modules: one denoising-autoencoder layer and a stack of them.

Pure torch, no scikit-learn. Parameters are created empty and initialised from an
explicit ``torch.Generator``, so building a module never touches the global RNG.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ._functions import ACTIVATIONS, lookup

# What a hole (a missing or masked input) enters the bottom encoder as: how the
# fill is held. None: a hole stays 0, no fill at all; "buffer": a fixed
# per-feature value (the column means of the training data); "parameter": a
# per-feature value trained with the weights, starting at the column means.
FILLS = {"zero": None, "mean": "buffer", "learned": "parameter"}


class DAELayer(nn.Module):
    """One autoencoder layer: encoder ``h = s(W x + b)``, decoder ``z = s'(W' h + b')``.

    Parameters
    ----------
    n_in, n_out : int
        Width of the layer's input and of its code.
    activation : str
        Encoder non-linearity ``s``, a key of
        :data:`~sk_dae._functions.ACTIVATIONS`.
    output_activation : str
        Decoder non-linearity ``s'``.
    tied_weights : bool
        If True the decoder uses ``W' = W.T`` (Vincent et al.), so the layer has
        no decoder weight of its own.
    fill : {"zero", "mean", "learned"}, default="zero"
        What an input the layer does not see (missing, or dropped by masking
        noise) enters the encoder as: 0, or a per-feature value ``fill``,
        a buffer set once (``"mean"``: the column means, see
        :meth:`set_fill`) or a parameter trained with the rest
        (``"learned"``).
    """

    def __init__(
        self,
        n_in,
        n_out,
        *,
        activation,
        output_activation,
        tied_weights,
        fill="zero",
    ):
        super().__init__()
        lookup(FILLS, fill, "input_fill")
        lookup(ACTIVATIONS, activation, "activation")  # unknown names fail here
        lookup(ACTIVATIONS, output_activation, "activation")
        self.activation = activation
        self.output_activation = output_activation
        self.tied_weights = tied_weights
        self.weight = nn.Parameter(torch.empty(n_out, n_in))
        self.bias = nn.Parameter(torch.empty(n_out))
        if tied_weights:
            self.register_parameter("decoder_weight", None)
        else:
            self.decoder_weight = nn.Parameter(torch.empty(n_in, n_out))
        self.decoder_bias = nn.Parameter(torch.empty(n_in))
        if FILLS[fill] is None:
            self.register_buffer("fill", None)
        elif FILLS[fill] == "parameter":
            self.fill = nn.Parameter(torch.zeros(n_in))
        else:
            self.register_buffer("fill", torch.zeros(n_in))

    @torch.no_grad()
    def set_fill(self, values):
        """Set the per-feature fill, (n_in,), e.g. to the column means."""
        self.fill.copy_(torch.as_tensor(values, dtype=self.fill.dtype))

    def fill_in(self, x, holes=None):  # (B, n_in) -> (B, n_in)
        """``x`` with its ``holes`` (a boolean (B, n_in) mask, or None) filled.

        The holes of ``x`` hold 0 already (missing entries and masked ones
        alike, see :mod:`sk_dae._noise`), so a zero fill costs nothing.
        """
        if holes is None or self.fill is None:
            return x
        return torch.where(holes, self.fill.to(x.dtype), x)

    @torch.no_grad()
    def reset_parameters(self, generator):
        # Glorot-uniform weights with the activation's gain; zero biases.
        gain = nn.init.calculate_gain(ACTIVATIONS[self.activation].init_gain)
        nn.init.xavier_uniform_(self.weight, gain=gain, generator=generator)
        if self.decoder_weight is not None:
            nn.init.xavier_uniform_(self.decoder_weight, generator=generator)
        self.bias.zero_()
        self.decoder_bias.zero_()

    def encode(self, x):  # (B, n_in) -> (B, n_out)
        return ACTIVATIONS[self.activation].forward(F.linear(x, self.weight, self.bias))

    def decoder_matrix(self):  # W', (n_in, n_out)
        return self.weight.t() if self.tied_weights else self.decoder_weight

    def decode(self, h, logits=False):  # (B, n_out) -> (B, n_in)
        z = F.linear(h, self.decoder_matrix(), self.decoder_bias)
        return z if logits else ACTIVATIONS[self.output_activation].forward(z)


class StackedDenoisingAutoencoder(nn.Module):
    """A stack of :class:`DAELayer`, encoding through every layer and decoding back.

    Parameters
    ----------
    n_features : int
        Width of the input.
    hidden_layer_sizes : tuple of int
        Code width of each layer, bottom first.
    activation : str
        Non-linearity of every encoder, and of the decoders of the upper layers
        (they reconstruct codes of the layer below, which live in its range).
    input_output : str
        Non-linearity of the bottom decoder, which reconstructs the input: the
        ``output`` of the input loss in :data:`~sk_dae._functions.LOSSES`
        (``"sigmoid"`` for cross-entropy, ``"identity"`` for squared error).
    tied_weights : bool
        Tie each decoder weight to its encoder's transpose.
    input_fill : {"zero", "mean", "learned"}, default="zero"
        The bottom layer's ``fill``: what a hole in the input enters as.
    init_seed : int
        Seed of the private generator that initialises the weights.
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes,
        *,
        activation="sigmoid",
        input_output="identity",
        tied_weights=False,
        input_fill="zero",
        init_seed=0,
    ):
        super().__init__()
        sizes = (n_features, *hidden_layer_sizes)
        self.layers = nn.ModuleList(
            DAELayer(
                sizes[k],
                sizes[k + 1],
                activation=activation,
                output_activation=input_output if k == 0 else activation,
                tied_weights=tied_weights,
                # Upper layers see codes, whose holes (masking noise) stay 0.
                fill=input_fill if k == 0 else "zero",
            )
            for k in range(len(hidden_layer_sizes))
        )
        generator = torch.Generator().manual_seed(init_seed)
        for layer in self.layers:
            layer.reset_parameters(generator)

    def encode(self, x, depth=None, holes=None):
        """Codes of layer ``depth`` (default: the top layer); ``holes`` marks
        the inputs that are missing (they hold 0 in ``x``)."""
        x = self.layers[0].fill_in(x, holes)
        for layer in self.layers[:depth]:
            x = layer.encode(x)
        return x

    def decode(self, h, logits=False):
        """Decode top-layer codes back to input space through every layer."""
        for layer in reversed(self.layers[1:]):
            h = layer.decode(h)
        return self.layers[0].decode(h, logits=logits)

    def reconstruct(self, x_tilde, layer=None, logits=False, holes=None, codes=False):
        """Reconstruction of a (corrupted) input, as the training loss expects it.

        ``layer=None`` runs the whole stack (joint training): ``x_tilde`` is in
        input space. ``layer=k`` runs layer ``k`` alone (greedy pretraining):
        ``x_tilde`` are corrupted codes of layer ``k - 1``. ``logits`` asks the
        bottom decoder for its pre-activation output (for a stable cross-entropy).
        ``holes`` marks the inputs to fill (those the corruption dropped, and
        the missing ones), as the stage's bottom layer fills them. ``codes``
        asks for ``(h, z)``: the stage's codes too.
        """
        if layer is None:
            h = self.encode(x_tilde, holes=holes)
            z = self.decode(h, logits=logits)
        else:
            current = self.layers[layer]
            h = current.encode(current.fill_in(x_tilde, holes))
            z = current.decode(h, logits=logits and layer == 0)
        return (h, z) if codes else z

    def stage_codes(self, x, layer=None, holes=None):
        """The codes a stage trains (those of ``layer``; None: the top) for
        its input ``x``, whose ``holes`` (missing entries) are filled."""
        if layer is None:
            return self.encode(x, holes=holes)
        current = self.layers[layer]
        return current.encode(current.fill_in(x, holes))

    def forward(self, x, holes=None):
        return self.decode(self.encode(x, holes=holes))

    def mlp_weights(self):
        """The stack as a multi-layer perceptron from the input back to it:
        ``(coefs, intercepts, activations)``, with ``y = activation(x @ coef +
        intercept)`` layer after layer, the encoders bottom up and then the
        decoders top down, as scikit-learn's ``MLPRegressor.coefs_`` and
        ``intercepts_`` are laid out. Each coef is (n_in, n_out), a view of the
        parameter it comes from (a tied decoder's is its encoder's weight)."""
        coefs, intercepts, activations = [], [], []
        for layer in self.layers:
            coefs.append(layer.weight.t())
            intercepts.append(layer.bias)
            activations.append(layer.activation)
        for layer in reversed(self.layers):
            coefs.append(layer.decoder_matrix().t())
            intercepts.append(layer.decoder_bias)
            activations.append(layer.output_activation)
        return coefs, intercepts, activations
