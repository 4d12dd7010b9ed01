"""Rows and batches: the per-feature range, and the GPU residency budget."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sk_dae._data import INFERENCE_BATCH_SIZE, RowData, _fits_on

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2 * INFERENCE_BATCH_SIZE + 7, 5)).astype(np.float32)


@pytest.mark.parametrize(
    "make",
    [
        lambda X: RowData(X, "cpu"),  # one resident tensor
        lambda X: RowData(X, "cpu", resident=False),  # numpy on the host
        lambda X: RowData(sp.csr_matrix(X), "cpu"),  # sparse on the host
    ],
    ids=["tensor", "numpy", "sparse"],
)
def test_column_range_of_all_rows_and_of_a_subset(make):
    data = make(X)
    low, high = data.column_range()
    np.testing.assert_array_equal(low, X.min(axis=0))
    np.testing.assert_array_equal(high, X.max(axis=0))
    index = torch.from_numpy(RNG.permutation(len(X))[: len(X) // 3])
    low, high = data.subset(index).column_range()
    np.testing.assert_array_equal(low, X[index.numpy()].min(axis=0))
    np.testing.assert_array_equal(high, X[index.numpy()].max(axis=0))


def test_the_gpu_budget_counts_torchs_cached_blocks_as_free(monkeypatch):
    gib = 2**30
    # 1 GiB free on the card, and 4 GiB that torch holds cached but unused.
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (gib, 80 * gib))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 6 * gib)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 2 * gib)
    assert _fits_on("cuda:0", 2 * gib)  # half of 1 + 4 GiB
    assert not _fits_on("cuda:0", 3 * gib)
    assert _fits_on("cpu", 1000 * gib)
