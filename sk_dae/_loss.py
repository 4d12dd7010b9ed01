"""The training criterion, and the per-element weights of its loss."""

from torch import nn

from ._functions import LOSSES, lookup

# Named emphasis settings after Vincent et al. (2010): (alpha, beta) are
# the weights of the corrupted and of the untouched components.
EMPHASIS_PRESETS = {"full": (1.0, 0.0), "double": (1.0, 0.5)}


def loss_weights(corrupted, emphasis):
    """Per-element weights of the loss, (B, F), or None to weigh all alike.

    The one place that decides them, for the autograd and the hand-derived
    paths alike: emphasis puts ``alpha`` on the components the corruption
    touched and ``beta`` on the others.
    """
    if emphasis is None or corrupted is None:
        return None
    alpha, beta = emphasis
    return corrupted * (alpha - beta) + beta


class ReconstructionLoss(nn.Module):
    """skorch criterion: the mean denoising loss of a batch.

    Parameters
    ----------
    emphasis : tuple (alpha, beta) or None
        Emphasized denoising: weight ``alpha`` on the components the corruption
        touched, ``beta`` on the others. None weighs every component alike.
    """

    def __init__(self, emphasis=None):
        super().__init__()
        self.emphasis = emphasis

    def forward(self, output, target, kind="mse", corrupted=None):
        """``mean(w * l(output, target))`` for the loss ``kind`` of ``LOSSES``."""
        weight = loss_weights(corrupted, self.emphasis)
        return lookup(LOSSES, kind, "loss").mean(output, target, weight)
