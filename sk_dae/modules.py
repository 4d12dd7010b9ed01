"""Torch modules that follow sk_dae's autoencoder protocol.

A module the estimators train has two methods:

- ``encode(X) -> H``: the codes of a batch ``X`` of shape (batch, n_features).
  ``H`` has the batch first; it may have any shape after that (a
  convolutional encoder's feature maps, say), and ``transform`` returns it
  flattened to (batch, -1).
- ``decode(H) -> X_hat``: the reconstruction, of shape (batch, n_features),
  on the scale of the loss: the output itself for ``loss="mse"``, its logits
  (before the sigmoid) for ``loss="bce"``.

The estimators do the rest: the noise, the input fill of missing and dropped
inputs (applied before ``encode``), the losses, and the training loop. So a
module holds no noise and no fill of its own.

:class:`StackedDenoisingAutoencoder`, the estimators' default, is a stack of
:class:`DAELayer`, each of which follows the protocol too (a greedy stack
trains them one at a time). Pure torch, no scikit-learn. Their parameters are
initialised from an explicit ``torch.Generator``, so building one never
touches torch's global generator.
"""

import torch
from torch import nn

from ._functions import ACTIVATIONS, lookup
from ._kernels import linear

__all__ = ["DAELayer", "StackedDenoisingAutoencoder"]


class DAELayer(nn.Module):
    """One autoencoder layer: encoder ``h = s(W x + b)``, decoder ``s'(W' h + b')``.

    Parameters
    ----------
    n_in : int
        Width of the layer's input.
    n_out : int
        Width of its code.
    activation : str
        Encoder non-linearity ``s``: ``"sigmoid"``, ``"tanh"``, ``"relu"`` or
        ``"identity"``.
    output_activation : str
        Decoder non-linearity ``s'``. ``"identity"`` for a layer that
        reconstructs the input (its output is on the loss's scale: logits for
        cross-entropy); the encoder's for a layer that reconstructs codes.
    tied_weights : bool
        If True the decoder uses ``W' = W.T`` (Vincent et al.), so the layer has
        no decoder weight of its own.

    Examples
    --------
    >>> import torch
    >>> from sk_dae.modules import DAELayer
    >>> layer = DAELayer(
    ...     6, 4, activation="sigmoid", output_activation="identity",
    ...     tied_weights=False)
    >>> layer.reset_parameters(torch.Generator().manual_seed(0))
    >>> layer.decode(layer.encode(torch.rand(3, 6))).shape
    torch.Size([3, 6])
    """

    def __init__(self, n_in, n_out, *, activation, output_activation, tied_weights):
        super().__init__()
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

    @torch.no_grad()
    def reset_parameters(self, generator):
        """Draw Glorot-uniform weights with the activation's gain; zero the biases.

        Parameters
        ----------
        generator : torch.Generator
            The private generator the weights are drawn from.
        """
        gain = nn.init.calculate_gain(ACTIVATIONS[self.activation].init_gain)
        nn.init.xavier_uniform_(self.weight, gain=gain, generator=generator)
        if self.decoder_weight is not None:
            nn.init.xavier_uniform_(self.decoder_weight, generator=generator)
        self.bias.zero_()
        self.decoder_bias.zero_()

    def encode(self, x):  # (B, n_in) -> (B, n_out)
        """Encode a batch: ``s(W x + b)``.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_in)
            The inputs.

        Returns
        -------
        torch.Tensor of shape (batch, n_out)
            The codes.
        """
        z = linear(x, self.weight, self.bias)
        return ACTIVATIONS[self.activation].forward(z)

    def decoder_matrix(self):  # W', (n_in, n_out)
        """Return the decoder's weight: its own, or the encoder's transposed.

        Returns
        -------
        torch.Tensor of shape (n_in, n_out)
            ``W'``.
        """
        return self.weight.t() if self.tied_weights else self.decoder_weight

    def decode(self, h):  # (B, n_out) -> (B, n_in)
        """Decode codes: ``s'(W' h + b')``.

        Parameters
        ----------
        h : torch.Tensor of shape (batch, n_out)
            The codes.

        Returns
        -------
        torch.Tensor of shape (batch, n_in)
            The reconstruction.
        """
        z = linear(h, self.decoder_matrix(), self.decoder_bias)
        return ACTIVATIONS[self.output_activation].forward(z)

    def forward(self, x):
        """Reconstruct a batch: ``decode(encode(x))``.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_in)
            The inputs.

        Returns
        -------
        torch.Tensor of shape (batch, n_in)
            The reconstruction.
        """
        return self.decode(self.encode(x))


class StackedDenoisingAutoencoder(nn.Module):
    """A stack of :class:`DAELayer`, encoding through every layer and decoding back.

    Parameters
    ----------
    n_features : int
        Width of the input.
    hidden_layer_sizes : tuple of int
        Code width of each layer, bottom first.
    activation : str, default="sigmoid"
        Non-linearity of every encoder, and of the decoders of the upper layers
        (they reconstruct codes of the layer below, which live in its range).
        The bottom decoder is affine: its output is on the loss's scale.
    tied_weights : bool, default=False
        Tie each decoder weight to its encoder's transpose.
    init_seed : int, default=0
        Seed of the private generator that initialises the weights.

    Attributes
    ----------
    layers : torch.nn.ModuleList of DAELayer
        The layers, bottom first.

    Examples
    --------
    >>> import torch
    >>> from sk_dae.modules import StackedDenoisingAutoencoder
    >>> stack = StackedDenoisingAutoencoder(12, (8, 3))
    >>> codes = stack.encode(torch.rand(5, 12))
    >>> codes.shape, stack.decode(codes).shape
    (torch.Size([5, 3]), torch.Size([5, 12]))
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes,
        *,
        activation="sigmoid",
        tied_weights=False,
        init_seed=0,
    ):
        super().__init__()
        sizes = (n_features, *hidden_layer_sizes)
        self.layers = nn.ModuleList(
            DAELayer(
                sizes[k],
                sizes[k + 1],
                activation=activation,
                output_activation="identity" if k == 0 else activation,
                tied_weights=tied_weights,
            )
            for k in range(len(hidden_layer_sizes))
        )
        generator = torch.Generator().manual_seed(init_seed)
        for layer in self.layers:
            layer.reset_parameters(generator)

    def encode(self, x, depth=None):
        """Encode a batch through the first ``depth`` layers.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            The inputs.
        depth : int or None, default=None
            How many layers to encode through; None: all of them.

        Returns
        -------
        torch.Tensor of shape (batch, hidden_layer_sizes[depth - 1])
            The codes of that layer.
        """
        for layer in self.layers[:depth]:
            x = layer.encode(x)
        return x

    def decode(self, h):
        """Decode top-layer codes back to input space through every layer.

        Parameters
        ----------
        h : torch.Tensor of shape (batch, hidden_layer_sizes[-1])
            The top layer's codes.

        Returns
        -------
        torch.Tensor of shape (batch, n_features)
            The reconstruction, on the loss's scale (the bottom decoder is
            affine).
        """
        for layer in reversed(self.layers):
            h = layer.decode(h)
        return h

    def forward(self, x):
        """Reconstruct a batch: ``decode(encode(x))``.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            The inputs.

        Returns
        -------
        torch.Tensor of shape (batch, n_features)
            The reconstruction.
        """
        return self.decode(self.encode(x))

    def stages(self, stacking):
        """Return the modules that the training stages train, in order.

        Parameters
        ----------
        stacking : {"greedy", "joint"}
            ``"greedy"``: each layer, each denoising the codes of the one
            below; ``"joint"``: the whole stack. A stack of one layer is
            that layer either way.

        Returns
        -------
        list of torch.nn.Module
            The modules, bottom first.
        """
        if stacking == "joint" and len(self.layers) > 1:
            return [self]
        return list(self.layers)

    def mlp_weights(self, output_activation="identity"):
        """Return the stack as a multi-layer perceptron from the input back to it.

        Layer after layer ``y = activation(x @ coef + intercept)``, the
        encoders bottom up and then the decoders top down, as scikit-learn's
        ``MLPRegressor.coefs_`` and ``intercepts_`` are laid out.

        Parameters
        ----------
        output_activation : str, default="identity"
            The link that takes the bottom decoder's output to the input's
            scale (``"sigmoid"`` for logits).

        Returns
        -------
        coefs : list of torch.Tensor
            Each (n_in, n_out), a view of the parameter it comes from (a tied
            decoder's is its encoder's weight).
        intercepts : list of torch.Tensor
            The biases, aligned with ``coefs``.
        activations : list of str
            The non-linearity of each layer.
        """
        coefs, intercepts, activations = [], [], []
        for layer in self.layers:
            coefs.append(layer.weight.t())
            intercepts.append(layer.bias)
            activations.append(layer.activation)
        for layer in reversed(self.layers):
            coefs.append(layer.decoder_matrix().t())
            intercepts.append(layer.decoder_bias)
            activations.append(layer.output_activation)
        activations[-1] = output_activation
        return coefs, intercepts, activations
