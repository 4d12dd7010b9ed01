"""The input fill: what a hole (a missing input, or one that masking noise
dropped) enters the autoencoder's encoder as.

This is the one place that fills holes, for every module and every route:
training steps, validation, ``transform`` and the other methods that encode,
and the codes of a greedy stack's bottom layer. The holes of a batch hold 0
already (missing entries and masked ones alike, see :mod:`sk_dae._noise`), so
a zero fill costs nothing. Upper layers of a greedy stack see codes, whose
holes (masking noise) stay 0.
"""

import torch
from torch import nn

from ._functions import lookup

# How the fill is held. None: a hole stays 0, no fill at all; "buffer": a
# fixed per-feature value (the column means of the training data);
# "parameter": a per-feature value trained with the weights, starting at the
# column means.
FILLS = {"zero": None, "mean": "buffer", "learned": "parameter"}


class InputFill(nn.Module):
    """The per-feature values that the holes of the input are filled with.

    Parameters
    ----------
    n_features : int
        Width of the input.
    kind : {"zero", "mean", "learned"}
        A key of :data:`FILLS`.
    values : array-like of shape (n_features,) or None, default=None
        The initial values (the column means); None: zeros.
    """

    def __init__(self, n_features, kind="zero", values=None):
        super().__init__()
        self.kind = kind
        held = lookup(FILLS, kind, "input_fill")
        start = torch.zeros(n_features)
        if values is not None:
            start = torch.as_tensor(values, dtype=torch.float32).clone()
        if held is None:
            self.register_buffer("value", None)
        elif held == "parameter":
            self.value = nn.Parameter(start)
        else:
            self.register_buffer("value", start)

    @torch.no_grad()
    def set_values(self, values):
        """Set the fill, in place (an optimizer keeps the same parameter)."""
        self.value.copy_(torch.as_tensor(values, dtype=self.value.dtype))

    @property
    def active(self):
        """Whether holes are filled with anything but 0."""
        return self.value is not None

    def forward(self, x, holes=None):  # (B, F) -> (B, F)
        """``x`` with its ``holes`` (a boolean (B, F) mask, or None) filled."""
        if holes is None or self.value is None:
            return x
        return torch.where(holes, self.value.to(x.dtype), x)

    def values(self, n_features):
        """The fill as a (n_features,) tensor: zeros for a zero fill."""
        if self.value is None:
            return torch.zeros(n_features)
        return self.value.detach()
