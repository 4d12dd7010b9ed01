"""Reconstruction losses, per sample, with optional emphasis on corrupted inputs."""

import torch.nn.functional as F
from torch import nn

# Named emphasis settings after Vincent et al. (2010): (alpha, beta) are
# the weights of the corrupted and of the untouched components.
EMPHASIS_PRESETS = {"full": (1.0, 0.0), "double": (1.0, 0.5)}


def elementwise_loss(output, target, kind):
    """(B, F) loss: ``"mse"`` on the reconstruction, ``"bce"`` on its logits."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    return (output - target).square()


class ReconstructionLoss(nn.Module):
    """Per-sample reconstruction loss ``L(x, z)``, averaged over features.

    Parameters
    ----------
    emphasis : tuple (alpha, beta) or None
        Emphasized denoising: weight ``alpha`` on the components the corruption
        touched, ``beta`` on the others. None weighs every component alike.
    """

    def __init__(self, emphasis=None):
        super().__init__()
        self.emphasis = emphasis

    def forward(self, output, target, kind="mse", corrupted=None):  # -> (B,)
        """Per-sample losses; see :meth:`mean` for the batch loss of training."""
        loss = elementwise_loss(output, target, kind)
        if self.emphasis is not None and corrupted is not None:
            alpha, beta = self.emphasis
            loss = loss * (corrupted * (alpha - beta) + beta)
        return loss.mean(dim=1)

    def mean(self, output, target, kind="mse", corrupted=None):
        """The batch's mean loss; without emphasis, one fused kernel."""
        if self.emphasis is None or corrupted is None:
            if kind == "bce":
                return F.binary_cross_entropy_with_logits(output, target)
            return F.mse_loss(output, target)
        return self(output, target, kind, corrupted).mean()
