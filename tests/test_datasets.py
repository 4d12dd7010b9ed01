import gzip

import numpy as np
import pytest

from sk_dae.datasets import (
    load_dataset,
    load_digits_split,
    load_fashion_mnist,
    load_idx_dataset,
    load_mnist,
    read_idx,
)


def _idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_folder(folder, n_train=12, n_test=5, side=4, gz=True):
    """A small IDX dataset in the standard (M)NIST layout."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for stem, array in arrays.items():
        data = _idx_bytes(array)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trip(tmp_path, gz):
    arrays = write_idx_folder(tmp_path, gz=gz)
    X_train, y_train, X_test, y_test = load_idx_dataset(tmp_path)
    assert X_train.shape == (12, 16) and X_test.shape == (5, 16)
    assert X_train.dtype == np.float32
    assert 0 <= X_train.min() and X_train.max() <= 1
    expected = arrays["train-images-idx3-ubyte"].reshape(12, 16) / 255.0
    np.testing.assert_allclose(X_train, expected, rtol=1e-6)
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])


def test_fashion_and_mnist_loaders_read_a_given_folder(tmp_path):
    write_idx_folder(tmp_path)
    assert load_fashion_mnist(tmp_path)[0].shape == (12, 16)
    assert load_mnist(tmp_path)[2].shape == (5, 16)
    assert load_dataset("fashion-mnist", tmp_path)[1].shape == (12,)


def test_missing_folder_says_how_to_get_the_data(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="apt-get install dataset-fashion-mnist"
    ):
        load_fashion_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="--download"):
        load_mnist()


def test_a_missing_file_is_named(tmp_path):
    write_idx_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_idx_dataset(tmp_path)


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    data = _idx_bytes(np.zeros((3, 4, 4)))
    (tmp_path / "images").write_bytes(data[:-5])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "images")


def test_not_an_idx_file_is_a_clear_error(tmp_path):
    (tmp_path / "images").write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "images")


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    (tmp_path / "images.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(ValueError, match="Cannot read the IDX file"):
        read_idx(tmp_path / "images.gz")


def test_label_count_must_match_image_count(tmp_path):
    write_idx_folder(tmp_path)
    labels = _idx_bytes(np.zeros(11))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    with pytest.raises(ValueError, match="12 images but .* 11 labels"):
        load_idx_dataset(tmp_path)


def test_digits_split_is_seeded_stratified_and_scaled():
    a, b = load_digits_split(), load_digits_split()
    np.testing.assert_array_equal(a[0], b[0])
    X_train, y_train, X_test, y_test = a
    assert len(X_train) + len(X_test) == 1797
    assert X_train.max() == 1.0 and X_train.min() == 0.0
    assert set(np.unique(y_test)) == set(range(10))


def test_load_dataset_subsets_training_rows_only(tmp_path):
    write_idx_folder(tmp_path, n_train=12, n_test=5)
    full = load_dataset("mnist", tmp_path)
    a = load_dataset("mnist", tmp_path, n_train=7, random_state=1)
    b = load_dataset("mnist", tmp_path, n_train=7, random_state=1)
    assert a[0].shape == (7, 16) and a[2].shape == (5, 16)
    np.testing.assert_array_equal(a[0], b[0])
    assert all(any(np.array_equal(row, r) for r in full[0]) for row in a[0])


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="Unknown dataset"):
        load_dataset("cifar")
