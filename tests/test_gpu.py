"""CUDA checks; skipped where no GPU is visible (CI), run on a GPU machine."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sk_dae import DenoisingAutoencoderTransformer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

X_UNIT = load_digits().data / 16.0


def _dae(**kwargs):
    params = dict(hidden_layer_sizes=(32, 16), max_epochs=3, random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


def test_auto_picks_cuda_and_returns_host_arrays():
    gpu = _dae(device="auto").fit(X_UNIT)
    assert gpu.device_.startswith("cuda")
    assert next(gpu.net_.module_.parameters()).is_cuda
    codes = gpu.transform(X_UNIT.astype(np.float32))
    assert isinstance(codes, np.ndarray) and codes.dtype == np.float32
    assert np.all(np.isfinite(codes))


def test_same_random_state_on_cuda_gives_the_same_features():
    a = _dae(device="cuda").fit_transform(X_UNIT)
    b = _dae(device="cuda").fit_transform(X_UNIT)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_cuda_model_pickles_and_reloads():
    gpu = _dae(device="cuda").fit(X_UNIT)
    restored = pickle.loads(pickle.dumps(gpu))
    assert restored.device_.startswith("cuda")
    np.testing.assert_array_equal(restored.transform(X_UNIT), gpu.transform(X_UNIT))


def test_transform_keeps_gpu_memory_bounded():
    X = np.random.default_rng(0).random((1_000_000, 64), dtype=np.float32)
    dae = _dae(hidden_layer_sizes=(8,), device="cuda", max_epochs=1).fit(X[:2000])
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    dae.transform(X)
    extra = torch.cuda.max_memory_allocated() - base
    print(f"GPU peak during transform of {X.shape}: +{extra / 2**20:.1f} MiB")
    assert extra < 0.1 * X.nbytes  # one batch at a time, not the whole array
