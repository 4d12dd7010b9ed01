"""Where each column of a mixed-type table lies in the network's input, and
the per-column operations that the noise, the loss and inference need.

The input is the numeric columns first, one entry each, then one one-hot
group per categorical column (``sizes``: its number of levels). The noise
draws once per *column* and spreads the draw over the column's entries
(:meth:`DeviceColumns.expand`), so that masking drops a whole categorical
column and swap noise moves a whole category; the loss is computed per
column, a categorical column's being the softmax cross-entropy over its group;
and inference returns each group's softmax probabilities.

A table without categorical columns never reaches this module: every path
it does not take costs nothing.
"""

import math

import numpy as np
import torch

# The weight of a categorical column's cross-entropy in the loss, against 1
# for a numeric column's loss, by its number of levels k. "column": every
# column counts once; "log_levels": the cross-entropy is divided by log k, so
# that a uniform guess costs 1 whatever k; "levels": k, as its one-hot entries
# would count in a loss over entries. benchmarks/mixed_tables.py measures the
# three (AMD EPYC, 2 cores, 3 seeds): categorical error over the most frequent
# value's 0.605, 0.591 and 0.589 on the 11 search tables, 0.529, 0.511 and
# 0.492 on the 6 held out, numeric RMSE level (0.770-0.774). "levels" it is.
CATEGORY_WEIGHTS = {
    "column": lambda k: 1.0,
    "log_levels": lambda k: 1.0 / math.log(k) if k > 1 else 1.0,
    "levels": lambda k: float(k),
}
DEFAULT_WEIGHTING = "levels"


class ColumnLayout:
    """The input's columns: ``n_numeric`` numeric ones, then a one-hot group
    of each of ``sizes`` levels (a group of 0 levels, a column with no
    observed category, has no entry). Plain values only, so that a model
    that holds one pickles and loads with ``skops.io``."""

    def __init__(self, n_numeric, sizes, weighting=None):
        self.n_numeric = int(n_numeric)
        self.sizes = tuple(int(s) for s in sizes)
        self.weighting = weighting or DEFAULT_WEIGHTING
        self._on = {}

    @property
    def live_sizes(self):
        return [s for s in self.sizes if s]

    @property
    def width(self):
        """Entries of the network's input."""
        return self.n_numeric + sum(self.sizes)

    @property
    def n_columns(self):
        """Columns that have entries (numeric, then the live groups)."""
        return self.n_numeric + len(self.live_sizes)

    def to_dict(self):
        return {
            "n_numeric": self.n_numeric,
            "sizes": self.sizes,
            "weighting": self.weighting,
        }

    def __getstate__(self):
        return self.to_dict()

    def __setstate__(self, state):
        self.__init__(**state)

    def __eq__(self, other):
        return isinstance(other, ColumnLayout) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(tuple(self.to_dict().items()))

    def column_weights(self):
        """(n_columns,) float: 1 per numeric column, the weighting's per group."""
        weigh = CATEGORY_WEIGHTS[self.weighting]
        groups = [weigh(k) for k in self.live_sizes]
        return np.array([1.0] * self.n_numeric + groups)

    def bit_columns(self):
        """(width,) int: the column of each input entry."""
        groups = [np.full(k, self.n_numeric + g) for g, k in enumerate(self.live_sizes)]
        return np.concatenate([np.arange(self.n_numeric), *groups]).astype(np.int64)

    def on(self, device):
        """The layout's index tensors on ``device`` (made once per device)."""
        device = torch.device(device)
        if device not in self._on:
            self._on[device] = DeviceColumns(self, device)
        return self._on[device]

    # -- host arrays ----------------------------------------------------------

    def one_hot(self, numeric, codes, n_rows=None):
        """The input matrix of ``numeric`` columns (float arrays) and the
        level ``codes`` of each categorical column (NaN: missing)."""
        n = len(numeric[0]) if numeric else n_rows
        out = np.zeros((n, self.width))
        for k, column in enumerate(numeric):
            out[:, k] = column
        start = self.n_numeric
        for size, code in zip(self.sizes, codes, strict=True):
            if not size:
                continue
            missing = np.isnan(code)
            group = out[:, start : start + size]
            rows = np.flatnonzero(~missing)
            group[rows, code[rows].astype(np.int64)] = 1.0
            group[missing] = np.nan
            start += size
        return out

    def split(self, Z):
        """``(numeric, groups)``: a decoded matrix's numeric columns, (n,
        n_numeric), and each categorical column's (n, k) slice (empty for a
        group of 0 levels)."""
        numeric = Z[:, : self.n_numeric]
        groups, start = [], self.n_numeric
        for size in self.sizes:
            groups.append(Z[:, start : start + size])
            start += size
        return numeric, groups


class DeviceColumns:
    """A :class:`ColumnLayout`'s index tensors on one device, and the
    per-column operations of training and inference."""

    def __init__(self, layout, device):
        self.layout = layout
        self.n_numeric = layout.n_numeric
        self.n_columns = layout.n_columns
        bits = layout.bit_columns()
        self.bit_column = torch.as_tensor(bits, device=device)  # (F,)
        starts = np.flatnonzero(np.r_[True, bits[1:] != bits[:-1]])
        self.first_bit = torch.as_tensor(starts, device=device)  # (C,)
        groups = bits[self.n_numeric :] - self.n_numeric
        self.bit_group = torch.as_tensor(groups, device=device)  # (Fc,)
        levels = np.concatenate([np.arange(k) for k in layout.live_sizes] or [[]])
        self.bit_level = torch.as_tensor(levels.astype(np.int64), device=device)
        self.sizes = torch.as_tensor(layout.live_sizes, device=device)  # (G,)
        weights = layout.column_weights().astype(np.float32)
        self.weights = torch.as_tensor(weights, device=device)  # (C,)

    @property
    def n_groups(self):
        return self.n_columns - self.n_numeric

    def expand(self, per_column):  # (B, C) -> (B, F)
        """A per-column tensor spread over each column's entries."""
        return per_column.index_select(1, self.bit_column)

    def columns_of(self, per_entry):  # (B, F) -> (B, C)
        """A per-entry tensor read at each column's first entry (the entries
        of a group agree: a category is missing, or corrupted, as a whole)."""
        return per_entry.index_select(1, self.first_bit)

    def random_levels(self, n_rows, generator):  # -> (B, Fc) bool
        """A uniformly drawn level of each group, one-hot."""
        u = torch.rand(
            (n_rows, self.n_groups), generator=generator, device=self.sizes.device
        )
        level = (u * self.sizes).long().clamp_(max=self.sizes - 1)  # (B, G)
        return level.index_select(1, self.bit_group) == self.bit_level

    def _group_sums(self, values):  # (B, Fc) -> (B, G)
        out = values.new_zeros((len(values), self.n_groups))
        return out.index_add_(1, self.bit_group, values)

    def log_normalizers(self, logits):  # (B, Fc) -> (B, G)
        """Each group's log-sum-exp, shifted by its largest logit (held
        constant: the shift changes no gradient)."""
        index = self.bit_group.expand(len(logits), -1)
        top = logits.new_full((len(logits), self.n_groups), -torch.inf)
        top = top.scatter_reduce(1, index, logits.detach(), "amax")
        shifted = logits - top.index_select(1, self.bit_group)
        return top + self._group_sums(shifted.exp()).log()

    def cross_entropy(self, logits, one_hot):  # (B, Fc) x2 -> (B, G)
        """Each group's softmax cross-entropy against its one-hot target."""
        return self.log_normalizers(logits) - self._group_sums(logits * one_hot)

    def softmax(self, logits):  # (B, Fc) -> (B, Fc)
        norm = self.log_normalizers(logits)
        return (logits - norm.index_select(1, self.bit_group)).exp()

    def column_losses(self, loss, z, x):  # (B, F) x2 -> (B, C)
        """The numeric columns' ``loss.elementwise``, then each group's
        cross-entropy."""
        n = self.n_numeric
        numeric = loss.elementwise(z[:, :n], x[:, :n])
        return torch.cat([numeric, self.cross_entropy(z[:, n:], x[:, n:])], dim=1)

    def link(self, link, z):  # (B, F) -> (B, F)
        """The output: ``link`` of the numeric columns, each group's softmax."""
        n = self.n_numeric
        return torch.cat([link(z[:, :n]), self.softmax(z[:, n:])], dim=1)
