"""Rows of a training or inference set, and the mini-batch iterator over them.

skorch's default ``Dataset`` + ``DataLoader`` build every batch from
per-sample ``__getitem__`` calls and a collate; here a batch is one index
operation on a tensor. Dense training data is converted to float32 once and kept
on the compute device when it fits; sparse data, and data for inference, stay on
the host and are converted (and densified) one batch at a time.
"""

import copy

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.sparsefuncs import min_max_axis

from ._missing import has_missing, hold_out_entries, split_missing

# Rows per forward pass of inference (transform, scoring, the codes of a layer
# for the next greedy stage): large enough to keep the matrix products
# efficient, small enough to bound device memory.
INFERENCE_BATCH_SIZE = 4096

# Keep the training set on a GPU only if it takes at most this share of the free
# memory: the rest is left for activations, gradients and the optimizer state.
_GPU_RESIDENT_SHARE = 0.5


_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def _fits_on(device, nbytes):
    device = torch.device(device)
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    # mem_get_info counts the blocks that torch's caching allocator keeps after
    # an earlier fit as taken; they are free to this process.
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return nbytes <= _GPU_RESIDENT_SHARE * (free + cached)


def _as_float32_tensor(X):
    # torch.from_numpy shares memory; it needs a writeable, native-endian array,
    # so anything else (read-only memmaps, float64) costs its one conversion here.
    if X.dtype != np.float32 or not X.flags.writeable or not X.flags.c_contiguous:
        X = np.array(X, dtype=np.float32, order="C")
    return torch.from_numpy(X)


class RowData:
    """An (n_samples, n_features) matrix served as float32 batches on ``device``.

    Parameters
    ----------
    X : ndarray, scipy sparse matrix or torch.Tensor
        The rows. Sparse matrices are converted to CSR for row slicing.
    device : str
        The device that batches are delivered on.
    resident : bool
        If True, dense ``X`` is converted to one float32 tensor up front and
        moved to ``device`` when it fits (training: every epoch reads all rows).
        If False, rows are converted batch by batch (a single pass).
    dtype : torch.dtype
        Float dtype of the batches: float32 for training, X's own for inference.
    missing : bool, default=None
        Whether X has missing entries, if the caller knows; else X is checked.

    Attributes
    ----------
    missing : bool
        Whether X has missing entries (NaN). Batches keep them as NaN; the
        consumer splits them off (:func:`sk_dae._missing.split_missing`).
    """

    def __init__(self, X, device, resident=True, dtype=torch.float32, missing=None):
        self.device = torch.device(device)
        self.dtype = dtype
        self.n_features = X.shape[1]
        self._index = None  # rows of a subset, see ``subset``
        self._targets = None  # held-out entries to score, see ``with_targets``
        self.missing = has_missing(X) if missing is None else missing
        if sp.issparse(X):
            self._X = sp.csr_matrix(X, dtype=_NUMPY_DTYPES[dtype])
        elif isinstance(X, torch.Tensor):
            self._X = X
        elif resident:
            self._X = _as_float32_tensor(X)
        else:
            self._X = X
        if isinstance(self._X, torch.Tensor) and resident:
            nbytes = self._X.element_size() * self._X.nelement()
            if _fits_on(self.device, nbytes):
                self._X = self._X.to(self.device)
        # Batches bound for a GPU from host memory go through page-locked
        # memory, so that the copy runs asynchronously and the host prepares the
        # next batch (gather, densify) while the GPU computes on this one.
        self._pin = self.device.type == "cuda" and self.storage_device.type == "cpu"

    def __len__(self):
        return self._X.shape[0] if self._index is None else len(self._index)

    def subset(self, index):
        """The rows at ``index`` (a 1-D int64 tensor), sharing this storage: a
        validation split costs no copy of the data."""
        view = copy.copy(self)
        view._index = index.to(self.storage_device)
        if self._targets is not None:
            view._targets = self._targets.subset(index)
        return view

    def with_targets(self, targets):
        """These rows as inputs, scored against ``targets`` rather than
        themselves: a float32 array shaped as the rows, NaN wherever an entry
        is no target (a validation set of held-out entries, see
        :func:`sk_dae._missing.hold_out_entries`)."""
        view = copy.copy(self)
        view._targets = RowData(targets, self.device, missing=True)
        if self._index is not None:
            view._targets = view._targets.subset(self._index)
        return view

    @property
    def has_targets(self):
        return self._targets is not None

    def target_rows(self, index):
        """The targets of the rows at ``index`` (see ``with_targets``)."""
        return self._targets.rows(index)

    @property
    def storage_device(self):
        """Where the rows are kept (the host unless they are a resident tensor)."""
        X = self._X
        return X.device if isinstance(X, torch.Tensor) else torch.device("cpu")

    def rows(self, index):
        """Rows at ``index`` (a slice or a 1-D index tensor) as a tensor on the
        device, in the dtype of the batches."""
        X = self._X
        if self._index is not None:
            index = self._index[index]
        if isinstance(X, torch.Tensor):
            # index_select is a plain row copy; X[index] goes through advanced
            # indexing (30 vs 6.5 us for 100 rows of 784 on CPU).
            batch = X[index] if isinstance(index, slice) else X.index_select(0, index)
        else:
            if isinstance(index, torch.Tensor):
                index = index.numpy()
            batch = X[index]
            batch = batch.toarray() if sp.issparse(batch) else batch
            batch = np.asarray(batch, dtype=_NUMPY_DTYPES[self.dtype])
            if not batch.flags.writeable:  # torch cannot wrap read-only memory
                batch = batch.copy()
            batch = torch.from_numpy(batch)  # a view of X when it is float32 already
        if self._pin:
            batch = batch.pin_memory()
        return batch.to(self.device, dtype=self.dtype, non_blocking=True)

    def column_range(self):
        """Per-feature (min, max) of the observed values as two (n_features,)
        float32 arrays; 0 for a feature with none."""
        if isinstance(self._X, torch.Tensor) or not sp.issparse(self._X):
            low, high = _column_range(self)
        else:
            X = self._X if self._index is None else self._X[self._index.numpy()]
            # NaN ignored, implicit zeros counted; NaN for a column of NaN only.
            low, high = min_max_axis(X, axis=0, ignore_nan=True)
        low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
        empty = ~np.isfinite(low)  # all missing: a range of 0 changes nothing
        low[empty], high[empty] = 0.0, 0.0
        return low, high


def training_rows(X, missing, device, holdout, fraction, seed, columns=None):
    """``(train, valid)``: the rows a training call trains on, and those it
    validates on (None without ``holdout``), the same split at every call
    for the same data and ``seed``. ``missing``: whether X has a missing
    entry (None: not known yet).

    ``holdout="rows"`` holds out a ``fraction`` of the rows (views of one
    storage, no copy); ``"entries"`` a ``fraction`` of every row's observed
    entries, which the training rows then lack and the validation rows
    (the same rows) score (:func:`sk_dae._missing.hold_out_entries`; with
    ``columns``, a mixed-type table's :class:`~sk_dae._columns.ColumnLayout`,
    a categorical column's one-hot entries are held out together).
    """
    if holdout == "entries":
        entry_columns = None if columns is None else columns.bit_columns()
        X_train, targets = hold_out_entries(X, fraction, seed, columns=entry_columns)
        if np.isnan(targets).all():
            raise ValueError(
                "early_stopping with validation='entries' held out none of the "
                f"{int((~np.isnan(X)).sum())} observed entries of X. Use more "
                "data, a larger validation_fraction, or validation='rows'."
            )
        train = RowData(X_train, device, missing=True)
        return train, train.with_targets(targets)
    data = RowData(X, device, missing=missing)
    if holdout is None:
        return data, None
    n_valid = max(1, round(fraction * len(data)))
    if n_valid >= len(data):
        raise ValueError(
            f"early_stopping holds out {n_valid} of {len(data)} rows for "
            "validation, leaving none to train on. Use more rows, a smaller "
            "validation_fraction, or early_stopping=False."
        )
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    return data.subset(order[n_valid:]), data.subset(order[:n_valid])


def _column_range(data):
    """(low, high) over the batches of dense ``data``, kept where the rows are
    (a subset is never copied whole): (inf, -inf) for a column of NaN only."""
    n = data.n_features
    low = torch.full((n,), float("inf"), device=data.device, dtype=data.dtype)
    high = torch.full((n,), float("-inf"), device=data.device, dtype=data.dtype)

    def reduce(rows, x, observed):
        if observed is None:
            batch_low, batch_high = torch.aminmax(x, dim=0)
        else:  # the holes are 0 in x: out of both reductions
            batch_low = x.masked_fill(~observed, float("inf")).amin(0)
            batch_high = x.masked_fill(~observed, float("-inf")).amax(0)
        torch.minimum(low, batch_low, out=low)
        torch.maximum(high, batch_high, out=high)

    each_batch(data, reduce)
    return low.cpu().numpy(), high.cpu().numpy()


def each_batch(data, func, threads=None):
    """Call ``func(rows, x, observed)`` on the batches of ``data`` in order,
    without gradients: the one loop of inference (``transform`` and the other
    methods that map rows, the codes of a layer for the next greedy stage,
    the feature ranges). ``threads``, a
    :class:`~sk_dae._threads.ThreadChooser`, runs each call on the thread
    count it chooses.

    ``rows`` is the slice of the batch's rows, ``x`` the batch on
    ``data.device`` with its missing entries set to 0, and ``observed`` their
    mask (None when ``data`` has no missing entry).
    """
    start = 0
    with torch.no_grad():
        for x, _ in BatchIterator(data, INFERENCE_BATCH_SIZE):
            x, observed = split_missing(x) if data.missing else (x, None)
            rows = slice(start, start + len(x))
            if threads is None:
                func(rows, x, observed)
            else:
                threads.run(func, rows, x, observed)
            start += len(x)


class BatchIterator:
    """Mini-batches of a :class:`RowData`, reshuffled on every pass when asked.

    Each batch is a pair ``(X, y)`` as skorch's are, of one (B, n_features)
    tensor twice: the clean input is also the target (so skorch's scoring
    callbacks find a target to score against). Rows with targets of their own
    (:meth:`RowData.with_targets`) give those as ``y``.
    """

    def __init__(self, data, batch_size, shuffle=False, generator=None):
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        return -(-len(self.data) // self.batch_size)

    def __iter__(self):
        if self.data.has_targets:  # validation on held-out entries
            yield from self._with_targets()
            return
        n_rows, size = len(self.data), self.batch_size
        if self.shuffle:
            order = torch.randperm(n_rows, generator=self.generator)
            # One transfer of the permutation per pass, not one per batch.
            order = order.to(self.data.storage_device)
            for start in range(0, n_rows, size):
                batch = self.data.rows(order[start : start + size])
                yield batch, batch
        else:
            for start in range(0, n_rows, size):
                batch = self.data.rows(slice(start, start + size))
                yield batch, batch

    def _with_targets(self):
        """The batches of rows with targets of their own, in order."""
        for start in range(0, len(self.data), self.batch_size):
            index = slice(start, start + self.batch_size)
            yield self.data.rows(index), self.data.target_rows(index)
