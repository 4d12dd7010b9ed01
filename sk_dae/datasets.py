"""Loaders for the benchmark datasets: digits, Fashion-MNIST and MNIST.

They live in the package, not in ``benchmarks/``, so that users can reproduce
the benchmark's data exactly and the tests can exercise the IDX reader.
Every loader returns ``(X_train, y_train, X_test, y_test)`` with pixels scaled
to [0, 1] as float32, and nothing is downloaded unless asked for.
"""

import gzip
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = [
    "load_dataset",
    "load_digits_split",
    "load_fashion_mnist",
    "load_idx_dataset",
    "load_mnist",
    "read_idx",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# The IDX header: two zero bytes, a type code, and the number of dimensions.
_IDX_UBYTE = 0x08


def read_idx(path):
    """Read an IDX file (optionally gzipped) of unsigned bytes into an ndarray.

    Parameters
    ----------
    path : str or Path
        The file, e.g. ``train-images-idx3-ubyte`` or its ``.gz``.

    Returns
    -------
    array : ndarray of uint8
        Of the shape the header declares, e.g. (60000, 28, 28) for images.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"Cannot read the IDX file {path}: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE:
        raise ValueError(
            f"{path} is not an IDX file of unsigned bytes (bad header "
            f"{raw[:4].hex()}); download it again."
        )
    n_dims = raw[3]
    header = 4 + 4 * n_dims
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)
    )
    if len(raw) != header + int(np.prod(shape)):
        raise ValueError(
            f"{path} is truncated or corrupt: its header declares shape {shape} "
            f"({int(np.prod(shape))} bytes of data) but it holds {len(raw) - header}; "
            "download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def load_idx_dataset(data_dir, *, name="the dataset", how_to_get=""):
    """Train and test sets from the four standard (M)NIST IDX files in a folder.

    Parameters
    ----------
    data_dir : str or Path
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each may be
        gzipped).
    name, how_to_get : str
        Used in the error message when files are missing.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Images flattened to rows of float32 pixels in [0, 1]; int64 labels.
    """
    data_dir = Path(data_dir)
    paths = {
        stem: _find(data_dir, stem) for pair in _IDX_FILES.values() for stem in pair
    }
    missing = [stem for stem, path in paths.items() if path is None]
    if missing:
        raise FileNotFoundError(
            f"{name}: {', '.join(missing)} (or .gz) not found in {data_dir}. "
            f"{how_to_get}".strip()
        )
    out = []
    for images, labels in _IDX_FILES.values():
        X = read_idx(paths[images])
        y = read_idx(paths[labels]).astype(np.int64)
        if len(X) != len(y):
            raise ValueError(
                f"{paths[images]} has {len(X)} images but {paths[labels]} has "
                f"{len(y)} labels."
            )
        out += [X.reshape(len(X), -1).astype(np.float32) / 255.0, y]
    return tuple(out)


def load_fashion_mnist(data_dir=None):
    """Fashion-MNIST (60,000 train / 10,000 test images of 28 x 28).

    Parameters
    ----------
    data_dir : str or Path, default=None
        Folder with the IDX files; by default where the Debian package
        ``dataset-fashion-mnist`` installs them.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features), float32
        Training rows, scaled to [0, 1].
    y_train : ndarray of shape (n_train,), int64
        Training labels.
    X_test : ndarray of shape (n_test, n_features), float32
        Test rows, scaled to [0, 1].
    y_test : ndarray of shape (n_test,), int64
        Test labels.
    """
    return load_idx_dataset(
        data_dir or FASHION_MNIST_DIR,
        name="Fashion-MNIST",
        how_to_get=(
            "On Debian or Ubuntu: 'apt-get install dataset-fashion-mnist'; or "
            "download the four files from "
            "https://github.com/zalandoresearch/fashion-mnist and pass their "
            "folder as data_dir (--data-dir)."
        ),
    )


def load_mnist(data_dir=None, *, download=False):
    """MNIST: from IDX files in ``data_dir``, or from OpenML when ``download``.

    Parameters
    ----------
    data_dir : str or Path, default=None
        Folder with the standard IDX files.
    download : bool, default=False
        If True and no ``data_dir`` is given, fetch ``mnist_784`` through
        ``sklearn.datasets.fetch_openml`` (needs internet) and use its standard
        split: the first 60,000 rows train, the last 10,000 test.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features), float32
        Training rows, scaled to [0, 1].
    y_train : ndarray of shape (n_train,), int64
        Training labels.
    X_test : ndarray of shape (n_test, n_features), float32
        Test rows, scaled to [0, 1].
    y_test : ndarray of shape (n_test,), int64
        Test labels.
    """
    if data_dir is not None:
        return load_idx_dataset(data_dir, name="MNIST")
    if not download:
        raise FileNotFoundError(
            "MNIST: pass the folder of its IDX files (--data-dir), or allow a "
            "download from OpenML (--download)."
        )
    from sklearn.datasets import fetch_openml

    X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False)
    X = X.astype(np.float32) / 255.0
    y = y.astype(np.int64)
    return X[:60000], y[:60000], X[60000:], y[60000:]


def load_digits_split(test_size=0.3, random_state=0):
    """Load scikit-learn's 8 x 8 digits, scaled to [0, 1], split in two.

    The split is stratified and seeded: the dataset has no standard test set.

    Parameters
    ----------
    test_size : float, default=0.3
        Share of the rows in the test set.
    random_state : int, default=0
        Seed of the split.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features), float32
        Training rows, scaled to [0, 1].
    y_train : ndarray of shape (n_train,), int64
        Training labels.
    X_test : ndarray of shape (n_test, n_features), float32
        Test rows, scaled to [0, 1].
    y_test : ndarray of shape (n_test,), int64
        Test labels.

    Examples
    --------
    >>> from sk_dae.datasets import load_digits_split
    >>> X_train, y_train, X_test, y_test = load_digits_split()
    >>> X_train.shape, X_test.shape
    ((1257, 64), (540, 64))
    """
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=random_state
    )
    return X_train, y_train, X_test, y_test


def load_dataset(name, data_dir=None, *, download=False, n_train=None, random_state=0):
    """Load a benchmark dataset by name, split into training and test rows.

    Parameters
    ----------
    name : {"digits", "fashion-mnist", "mnist"}
        The dataset: :func:`load_digits_split`, :func:`load_fashion_mnist`
        or :func:`load_mnist`.
    data_dir : str or Path, default=None
        Folder with the IDX files of Fashion-MNIST or MNIST.
    download : bool, default=False
        For MNIST without ``data_dir``: fetch it from OpenML (needs internet).
    n_train : int, default=None
        Keep this many training rows, drawn with ``random_state`` (in their
        original order); None keeps them all. The test set is always whole.
    random_state : int, default=0
        Seed of the draw of ``n_train`` rows.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features), float32
        Training rows, scaled to [0, 1].
    y_train : ndarray of shape (n_train,), int64
        Training labels.
    X_test : ndarray of shape (n_test, n_features), float32
        Test rows, scaled to [0, 1].
    y_test : ndarray of shape (n_test,), int64
        Test labels.

    Examples
    --------
    >>> from sk_dae.datasets import load_dataset
    >>> X_train, y_train, X_test, y_test = load_dataset("digits", n_train=500)
    >>> X_train.shape, X_test.shape
    ((500, 64), (540, 64))
    """
    if name == "digits":
        data = load_digits_split()
    elif name == "fashion-mnist":
        data = load_fashion_mnist(data_dir)
    elif name == "mnist":
        data = load_mnist(data_dir, download=download)
    else:
        raise ValueError(
            f"Unknown dataset {name!r}; use 'digits', 'fashion-mnist' or 'mnist'."
        )
    X_train, y_train, X_test, y_test = data
    if n_train is not None and n_train < len(X_train):
        rng = np.random.default_rng(random_state)
        rows = np.sort(rng.choice(len(X_train), n_train, replace=False))
        X_train, y_train = X_train[rows], y_train[rows]
    return X_train, y_train, X_test, y_test
