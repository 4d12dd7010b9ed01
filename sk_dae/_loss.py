"""The training criterion, and the per-element weights of its loss."""

import torch
from torch import nn

from ._functions import LOSSES, lookup

# Named emphasis settings after Vincent et al. (2010): (alpha, beta) are
# the weights of the corrupted and of the untouched components.
EMPHASIS_PRESETS = {"full": (1.0, 0.0), "double": (1.0, 0.5)}


def loss_weights(corrupted, emphasis, observed=None):
    """Per-element weights of the loss, (B, F), or None to weigh all alike.

    The one place that decides them, for the autograd and the hand-derived
    paths alike: emphasis puts ``alpha`` on the components the corruption
    touched and ``beta`` on the others. Missing entries (False in ``observed``)
    weigh 0, and the observed ones are scaled by ``numel / n_observed``: the
    losses of :data:`~sk_dae._functions.LOSSES` divide by ``numel``, so the
    batch loss is the mean over observed entries only.
    """
    weight = None
    if emphasis is not None and corrupted is not None:
        alpha, beta = emphasis
        weight = corrupted * (alpha - beta) + beta
    if observed is None:
        return weight
    # A tensor, not .item(): no host synchronisation. clamp: a batch with no
    # observed entry weighs 0 everywhere instead of 0 / 0.
    share = observed.numel() / observed.sum().clamp(min=1)
    present = observed * share.to(torch.float32)  # (B, F) float32
    return present if weight is None else present.mul_(weight)


def column_loss(loss, z, x, columns, emphasis, corrupted=None, observed=None):
    """The batch loss of a mixed-type table (``columns``, a
    :class:`~sk_dae._columns.DeviceColumns`): per column, the numeric ones'
    ``loss`` and each categorical one's cross-entropy, weighted by the
    layout's column weights and the emphasis, averaged over the observed
    columns. With no categorical column and unit weights this is the loss
    over entries of :class:`ReconstructionLoss`."""
    values = columns.column_losses(loss, z, x)  # (B, C)
    weight = columns.weights.expand_as(values)
    if emphasis is not None and corrupted is not None:
        alpha, beta = emphasis
        touched = columns.columns_of(corrupted)
        weight = weight * (touched * (alpha - beta) + beta)
    if observed is None:
        total = columns.weights.sum() * len(values)
    else:
        present = columns.columns_of(observed)
        weight = weight * present
        total = (columns.weights * present).sum().clamp(min=1e-12)
    return (values * weight).sum() / total


def row_losses(loss, z, x, observed=None, columns=None):
    """Mean ``loss.elementwise(z, x)`` of each row over its observed entries
    (over its observed columns, weighted, for a mixed-type table):
    (B,), NaN for a row with none."""
    if columns is not None:
        values = columns.column_losses(loss, z, x)
        weight = columns.weights.expand_as(values)
        if observed is not None:
            weight = weight * columns.columns_of(observed)
        return (values * weight).sum(dim=1) / weight.sum(dim=1)
    values = loss.elementwise(z, x)
    if observed is None:
        return values.mean(dim=1)
    return (values * observed).sum(dim=1) / observed.sum(dim=1)


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

    def forward(
        self, output, target, kind="mse", corrupted=None, observed=None, columns=None
    ):
        """``mean(w * l(output, target))`` for the loss ``kind`` of ``LOSSES``;
        ``observed`` (or None: all) marks the entries that are targets;
        ``columns`` (a :class:`~sk_dae._columns.DeviceColumns`, or None) says
        where a mixed-type table's categorical columns lie
        (:func:`column_loss`)."""
        loss = lookup(LOSSES, kind, "loss")
        if columns is not None:
            return column_loss(
                loss, output, target, columns, self.emphasis, corrupted, observed
            )
        weight = loss_weights(corrupted, self.emphasis, observed)
        return loss.mean(output, target, weight)


def consistency_loss(codes, clean_codes, weight):
    """``weight * mean((h~ - h)^2)``: how far the codes of the corrupted rows
    drift from those of the clean rows (Vincent et al. train the codes to
    reconstruct; this also asks them to stay put when inputs go missing)."""
    return weight * (codes - clean_codes).square().mean()
