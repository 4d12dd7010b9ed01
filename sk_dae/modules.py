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

__all__ = ["DAELayer", "StackEnsemble", "StackedDenoisingAutoencoder"]


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


class StackEnsemble(nn.Module):
    """``n_members`` dense stacks side by side, trained as one network.

    Each member is a :class:`StackedDenoisingAutoencoder` of its own (its own
    initial weights, from one private generator): its weights are stacked with
    the other members' as ``[members, n_in, n_out]`` and every layer of every
    member is one batched matrix product (``torch.baddbmm``). The input holds
    one copy of the data per member, so that the estimators' noise, drawn per
    entry, corrupts each member's copy afresh; a member sees only its own copy,
    and its loss is its own part of the reconstruction's (the members'
    gradients do not mix, and Adam's steps are per weight).

    The copies are laid out as the estimators lay out a table repeated
    ``n_members`` times: the numeric entries of every copy, copy after copy
    (``n_numeric`` each), then the one-hot groups of every copy. Without
    categorical columns (``n_numeric=None``) the input is the copies side by
    side.

    Parameters
    ----------
    n_features : int
        Width of the input: ``n_members`` copies.
    hidden_layer_sizes : tuple of int
        Code width of each layer of a member, bottom first.
    n_members : int, default=5
        Number of members.
    n_numeric : int or None, default=None
        Numeric entries of one copy, which come before the copies' one-hot
        groups; None: a copy is all numeric.
    activation : str, default="relu"
        Non-linearity of the encoders and of the upper decoders, as in
        :class:`StackedDenoisingAutoencoder`; the bottom decoder is affine.
    tied_weights : bool, default=False
        Tie each decoder weight to its encoder's transpose.
    init_seed : int, default=0
        Seed of the private generator that initialises the weights.

    Attributes
    ----------
    encoder_weights, decoder_weights : torch.nn.ParameterList
        Each layer's weights, ``(n_members, n_in, n_out)`` and ``(n_members,
        n_out, n_in)``, bottom first (no decoder weights when tied).
    encoder_biases, decoder_biases : torch.nn.ParameterList
        Their biases, ``(n_members, 1, n_out)`` and ``(n_members, 1, n_in)``.

    Examples
    --------
    >>> import torch
    >>> from sk_dae.modules import StackEnsemble
    >>> ensemble = StackEnsemble(3 * 4, (8,), n_members=3)
    >>> codes = ensemble.encode(torch.rand(5, 12))  # (batch, members, code)
    >>> codes.shape, ensemble.decode(codes).shape
    (torch.Size([5, 3, 8]), torch.Size([5, 12]))
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes,
        *,
        n_members=5,
        n_numeric=None,
        activation="relu",
        tied_weights=False,
        init_seed=0,
    ):
        super().__init__()
        if n_features % n_members:
            raise ValueError(
                f"StackEnsemble takes {n_members} copies of the input, but "
                f"n_features={n_features} is not a multiple of n_members."
            )
        lookup(ACTIVATIONS, activation, "activation")
        self.n_members = n_members
        self.activation = activation
        self.tied_weights = tied_weights
        width = n_features // n_members
        order = _member_order(n_features, n_members, n_numeric)
        # Copies side by side need no reordering (a gather and its backward
        # a step saved).
        self._in_order = bool((order == torch.arange(n_features)).all())
        self.register_buffer("_order", order)
        self.register_buffer("_unorder", torch.argsort(order))
        sizes = (width, *hidden_layer_sizes)
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.encoder_weights = nn.ParameterList(
            nn.Parameter(torch.empty(n_members, n_in, n_out)) for n_in, n_out in pairs
        )
        self.encoder_biases = nn.ParameterList(
            nn.Parameter(torch.zeros(n_members, 1, n_out)) for _, n_out in pairs
        )
        self.decoder_weights = nn.ParameterList(
            []
            if tied_weights
            else [
                nn.Parameter(torch.empty(n_members, n_out, n_in))
                for n_in, n_out in pairs
            ]
        )
        self.decoder_biases = nn.ParameterList(
            nn.Parameter(torch.zeros(n_members, 1, n_in)) for n_in, _ in pairs
        )
        self._reset_parameters(torch.Generator().manual_seed(init_seed))

    @torch.no_grad()
    def _reset_parameters(self, generator):
        """Glorot-uniform weights, as :meth:`DAELayer.reset_parameters` draws
        them, member after member."""
        gain = nn.init.calculate_gain(ACTIVATIONS[self.activation].init_gain)
        for m in range(self.n_members):
            for k, weight in enumerate(self.encoder_weights):
                # A (n_in, n_out) slice: xavier's fans are symmetric.
                nn.init.xavier_uniform_(weight[m], gain=gain, generator=generator)
                if not self.tied_weights:
                    nn.init.xavier_uniform_(
                        self.decoder_weights[k][m], generator=generator
                    )

    def _decoder_weight(self, k):  # (M, n_out, n_in)
        if self.tied_weights:
            return self.encoder_weights[k].transpose(1, 2)
        return self.decoder_weights[k]

    def encode(self, x):  # (B, M * F) -> (B, M, H)
        """Encode a batch: each member its own copy.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            The members' copies, laid out as the class says.

        Returns
        -------
        torch.Tensor of shape (batch, n_members, hidden_layer_sizes[-1])
            Each member's codes.
        """
        batch = len(x)
        if not self._in_order:
            x = x.index_select(1, self._order)
        h = x.view(batch, self.n_members, -1)
        h = h.transpose(0, 1)  # (M, B, F)
        # In place on each product's fresh output (baddbmm's backward does
        # not read it): no new tensor per activation.
        act_ = ACTIVATIONS[self.activation].forward_
        for weight, bias in zip(self.encoder_weights, self.encoder_biases, strict=True):
            h = act_(torch.baddbmm(bias, h, weight))
        return h.transpose(0, 1)

    def decode(self, h):  # (B, M, H) -> (B, M * F)
        """Decode each member's codes back to its copy of the input.

        Parameters
        ----------
        h : torch.Tensor of shape (batch, n_members, hidden_layer_sizes[-1])
            The members' codes.

        Returns
        -------
        torch.Tensor of shape (batch, n_features)
            The reconstructions, in the input's layout, on the loss's scale
            (the bottom decoders are affine).
        """
        batch = len(h)
        z = h.transpose(0, 1)  # (M, B, H)
        act_ = ACTIVATIONS[self.activation].forward_
        for k in reversed(range(len(self.encoder_weights))):
            z = torch.baddbmm(self.decoder_biases[k], z, self._decoder_weight(k))
            z = act_(z) if k else z
        z = z.transpose(0, 1).reshape(batch, -1)
        return z if self._in_order else z.index_select(1, self._unorder)

    def forward(self, x):
        """Reconstruct a batch: ``decode(encode(x))``.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            The members' copies.

        Returns
        -------
        torch.Tensor of shape (batch, n_features)
            The reconstructions.
        """
        return self.decode(self.encode(x))

    def member_columns(self, m):
        """Return where member ``m``'s copy lies in the input.

        Parameters
        ----------
        m : int
            The member.

        Returns
        -------
        torch.Tensor of int64
            The input's entries that member ``m`` reads, in its copy's order.
        """
        width = len(self._order) // self.n_members
        return self._order[m * width : (m + 1) * width]

    def mlp_weights(self, m, output_activation="identity"):
        """Return member ``m`` as a multi-layer perceptron.

        Laid out as :meth:`StackedDenoisingAutoencoder.mlp_weights` lays one.

        Parameters
        ----------
        m : int
            The member.
        output_activation : str, default="identity"
            The link of the bottom decoder's output.

        Returns
        -------
        coefs, intercepts, activations : lists
            ``(n_in, n_out)`` weights, biases and non-linearities, the
            encoders bottom up and then the decoders top down.
        """
        n_layers = len(self.encoder_weights)
        coefs = [w[m] for w in self.encoder_weights]
        intercepts = [b[m, 0] for b in self.encoder_biases]
        coefs += [self._decoder_weight(k)[m] for k in reversed(range(n_layers))]
        intercepts += [self.decoder_biases[k][m, 0] for k in reversed(range(n_layers))]
        activations = [self.activation] * (2 * n_layers)
        activations[-1] = output_activation
        return coefs, intercepts, activations


def _member_order(n_features, n_members, n_numeric):
    """The input's entries, member by member: each member's numeric entries,
    then its one-hot entries (the numeric blocks of all members come first)."""
    width = n_features // n_members
    n_numeric = width if n_numeric is None else n_numeric
    n_other = width - n_numeric
    members = torch.arange(n_members)[:, None]
    numeric = members * n_numeric + torch.arange(n_numeric)
    other = n_members * n_numeric + members * n_other + torch.arange(n_other)
    return torch.cat([numeric, other], dim=1).reshape(-1)
