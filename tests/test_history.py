"""RowHistory answers every index as skorch's History does."""

import pytest
from skorch.history import History

from sk_dae._history import RowHistory


def _filled(cls):
    history = cls()
    for epoch in range(3):
        history.new_epoch()
        history.record("epoch", epoch + 1)
        history.record("layer", epoch // 2)
        for batch in range(2):
            history.new_batch()
            history.record_batch("train_loss", epoch + batch / 10)
            history.record_batch("train_batch_size", 10 + batch)
    return history


INDICES = [
    -1,
    0,
    slice(None),
    slice(1, None),
    (-1, "epoch"),
    (0, "layer"),
    (-1, "batches"),
    (-1, "batches", -1),
    (-1, "batches", -1, "train_loss"),
    (-1, "batches", slice(None), "train_loss"),
    (-1, "batches", slice(None), ("train_batch_size", "train_loss")),
    (1, "batches", 0, "train_batch_size"),
    (slice(None), "epoch"),
    (slice(None), "batches", -1, "train_loss"),
    (slice(-2, None), "batches", slice(None), "train_loss"),
]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_every_index_reads_as_skorchs(index):
    assert _filled(RowHistory)[index] == _filled(History)[index]


@pytest.mark.parametrize(
    "index", [(-1, "missing"), (-1, "batches", slice(None), "missing"), 7, (7, "epoch")]
)
def test_a_missing_key_or_epoch_raises_as_skorchs(index):
    with pytest.raises((KeyError, IndexError)) as expected:
        _filled(History)[index]
    with pytest.raises(expected.type):
        _filled(RowHistory)[index]


def test_recording_leaves_the_same_rows():
    assert list(_filled(RowHistory)) == list(_filled(History))
