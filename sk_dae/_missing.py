"""Missing entries (NaN): how they enter the network and leave the loss.

A missing entry enters the encoder as an entry that masking noise dropped does:
as 0 in the batch, which the bottom layer then fills (``input_fill``: 0, the
column mean, or a learned value), and it is never a reconstruction target:
the loss averages over observed entries only
(:func:`sk_dae._loss.loss_weights`). The noise functions of :mod:`sk_dae._noise`
take the ``observed`` mask this module splits off a batch.
"""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.sparsefuncs import mean_variance_axis


def has_missing(X):
    """Whether a dense or sparse matrix holds a NaN (one pass, no copy of X)."""
    values = X.data if sp.issparse(X) else X
    if isinstance(values, torch.Tensor):
        return bool(torch.isnan(values).any())
    # np.isnan(X).any() allocates a boolean copy of X; a sum propagates NaN
    # without one. It sums in X's own dtype: a float64 accumulator over float32
    # rows costs a cast of every entry, 27 ms against 7.4 ms for 60,000 x 784
    # (AMD EPYC, 2 cores), a quarter of that transform's time. A sum in float32
    # can overflow to inf, and inf - inf is NaN, so a NaN sum is confirmed
    # entry by entry; a sum that is not NaN proves that no entry is.
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.isnan(np.sum(values)):
            return False
    return bool(np.isnan(values).any())


def split_missing(batch):
    """``(x, observed)``: the batch with its NaN set to 0, and where it had none."""
    observed = ~torch.isnan(batch)
    return batch.nan_to_num(nan=0.0), observed


def holes_of(observed):
    """The mask of the missing entries (None: none), from that of the observed
    ones: what the encoder's input fill replaces."""
    return None if observed is None else ~observed


def empty_columns(X):
    """Indices of the columns of X with no observed (non-NaN) entry."""
    return _empty_lines(X, axis=0)


def empty_rows(X):
    """Indices of the rows of X with no observed (non-NaN) entry."""
    return _empty_lines(X, axis=1)


def _empty_lines(X, axis):
    if not sp.issparse(X):
        return np.flatnonzero(np.isnan(X).all(axis=axis))
    X = sp.coo_matrix(X)
    X.sum_duplicates()
    # A line with fewer stored entries than its length has an implicit 0, which
    # is observed; it is empty when every entry is stored, and NaN.
    lines = X.col if axis == 0 else X.row
    n_lines, length = X.shape[1 - axis], X.shape[axis]
    n_nan = np.bincount(lines[np.isnan(X.data)], minlength=n_lines)
    return np.flatnonzero(n_nan == length)


def column_means(X):
    """Mean of each column's observed (non-NaN) values as a float32 (n_features,)
    array, implicit zeros of a sparse X counted; 0 for a column with none."""
    if sp.issparse(X):
        means, _ = mean_variance_axis(sp.csr_matrix(X, dtype=np.float64), axis=0)
    else:
        counts = (~np.isnan(X)).sum(axis=0)
        sums = np.nansum(X, axis=0, dtype=np.float64)
        means = sums / np.maximum(counts, 1)
    return np.nan_to_num(np.asarray(means, dtype=np.float32), nan=0.0)


def hold_out_entries(X, fraction, seed, columns=None):
    """Hide a random ``fraction`` of the observed entries of dense X.

    Returns ``(X_train, targets)``, two float32 arrays shaped as X: X with the
    held-out entries set to NaN, and NaN everywhere but at the held-out
    entries, which keep their values. A row with two or more observed entries
    keeps at least one in ``X_train`` (a row that would lose all gets one
    back); where X has two or more observed entries, at least one is held out
    (tiny data would otherwise often hold out none). ``seed`` seeds a private
    generator. ``columns`` (an int array, the column of each entry; None:
    each entry is one) holds out whole columns: a categorical column's
    one-hot entries go together.
    """
    X = np.asarray(X, dtype=np.float32)
    if columns is not None:
        first = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]])
        X_train, targets = hold_out_entries(X[:, first], fraction, seed)
        held = np.isnan(X_train) & ~np.isnan(X[:, first])
        held = held[:, columns]
        nan = np.float32(np.nan)
        return np.where(held, nan, X), np.where(held, X, nan)
    observed = ~np.isnan(X)
    rng = np.random.default_rng(seed)
    held = observed & (rng.random(X.shape) < fraction)
    n_observed = observed.sum(axis=1)
    emptied = np.flatnonzero((held.sum(axis=1) == n_observed) & (n_observed >= 2))
    if emptied.size:  # give each such row back one of its entries, at random
        scores = rng.random((emptied.size, X.shape[1])) * held[emptied]
        held[emptied, scores.argmax(axis=1)] = False
    if not held.any() and observed.sum() >= 2:
        rows, columns = np.nonzero(observed)
        pick = rng.integers(rows.size)
        held[rows[pick], columns[pick]] = True
    X_train = np.where(held, np.float32(np.nan), X)
    targets = np.where(held, X, np.float32(np.nan))
    return X_train, targets
