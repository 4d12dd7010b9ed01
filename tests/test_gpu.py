"""CUDA checks; skipped where no GPU is visible (CI), run on a GPU machine.

Every training path on the GPU (greedy and joint stacks, each noise, each loss,
emphasis, tied weights, early stopping, sparse and host-resident data, warm
start and partial_fit), placement and loading, a statistical comparison with
the CPU, and a check that an epoch on GPU-resident data never synchronises
with the host.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sk_dae._data
from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer
from sk_dae._net import DenoisingAutoencoderNet

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_UNIT = X_DIGITS / 16.0
X32 = X_UNIT.astype(np.float32)


def _dae(**kwargs):
    params = dict(hidden_layer_sizes=(32, 16), max_epochs=3, random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


def _on_gpu(dae):
    return next(dae.net_.module_.parameters()).is_cuda


# -- placement ----


def test_auto_picks_the_current_gpu_with_its_index_and_returns_host_arrays():
    gpu = _dae(device="auto").fit(X_UNIT)
    assert gpu.device_ == f"cuda:{torch.cuda.current_device()}"
    assert _on_gpu(gpu)
    codes = gpu.transform(X32)
    assert isinstance(codes, np.ndarray) and codes.dtype == np.float32
    assert np.all(np.isfinite(codes))


def test_float64_input_is_computed_in_float32_and_returned_as_float64():
    gpu = _dae(device="cuda").fit(X32)
    codes64 = gpu.transform(X_UNIT)
    assert codes64.dtype == np.float64
    np.testing.assert_allclose(codes64, gpu.transform(X32), rtol=1e-5, atol=1e-6)


def test_same_random_state_on_cuda_gives_the_same_features():
    a = _dae(device="cuda").fit_transform(X_UNIT)
    b = _dae(device="cuda").fit_transform(X_UNIT)
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_a_model_on_the_second_gpu_stays_there_whatever_gpu_is_current():
    current = torch.cuda.current_device()
    try:
        dae = _dae(device="cuda:1").fit(X_UNIT)
        assert dae.device_ == "cuda:1"
        torch.cuda.set_device(0)
        codes = dae.transform(X_UNIT)
        dae.partial_fit(X_UNIT)
        torch.cuda.set_device(1)
        auto = _dae(device="cuda").fit(X_UNIT)  # "cuda" is the current GPU
        torch.cuda.set_device(0)
        assert auto.device_ == "cuda:1"
        auto.transform(X_UNIT)
        auto.partial_fit(X_UNIT)
    finally:
        torch.cuda.set_device(current)
    assert np.all(np.isfinite(codes))


def test_set_params_device_moves_a_fitted_model_and_back():
    gpu = _dae(device="cuda", hidden_layer_sizes=(16,)).fit(X_UNIT)
    want = gpu.transform(X32)
    gpu.set_params(device="cpu")
    np.testing.assert_allclose(gpu.transform(X32), want, rtol=1e-4, atol=1e-5)
    assert gpu.device_ == "cpu" and not _on_gpu(gpu)
    gpu.partial_fit(X_UNIT)  # trains on the CPU, optimizer state carried over
    gpu.set_params(device="cuda")
    gpu.partial_fit(X_UNIT)
    assert gpu.device_.startswith("cuda:") and _on_gpu(gpu)
    assert gpu.n_iter_ == 3 + 2


# -- persistence ----


def test_cuda_model_pickles_and_reloads_on_the_gpu():
    gpu = _dae(device="cuda").fit(X_UNIT)
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_array_equal(restored.transform(X_UNIT), gpu.transform(X_UNIT))
    assert restored.device_ == gpu.device_ and _on_gpu(restored)


def test_a_cuda_model_loads_onto_the_cpu_without_touching_the_gpu():
    gpu = _dae(device="cuda").fit(X_UNIT)
    want = gpu.transform(X32)
    data = pickle.dumps(gpu)
    torch.cuda.synchronize()
    allocated = torch.cuda.memory_allocated()
    restored = pickle.loads(data)
    restored.set_params(device="cpu")
    codes = restored.transform(X32)
    assert torch.cuda.memory_allocated() == allocated
    assert restored.device_ == "cpu" and not _on_gpu(restored)
    np.testing.assert_allclose(codes, want, rtol=1e-4, atol=1e-5)


# -- every training path ----


def _identity_mask(X, level, generator):
    keep = torch.rand(X.shape, generator=generator, device=X.device) >= level
    return X * keep


@pytest.mark.parametrize(
    "params",
    [
        {"stacking": "joint"},
        {"corruption": "gaussian", "corruption_level": 0.2},
        {"corruption": "swap"},
        {"corruption": "salt_and_pepper", "corruption_level": 0.1},
        {"corruption": _identity_mask},
        {"loss": "bce", "emphasis": "double"},
        {"tied_weights": True, "activation": "relu"},
        {"stacking": "joint", "loss": "bce", "tied_weights": True},
        {"corruption": "block_mask", "image_shape": (8, 8), "input_fill": "learned"},
        {"corruption": "block_mask", "image_shape": (8, 8), "stacking": "joint"},
        {"input_fill": "mean", "emphasis": "double"},
        {"input_fill": "learned", "stacking": "joint", "loss": "bce"},
    ],
    ids=lambda p: "-".join(f"{k}={getattr(v, '__name__', v)}" for k, v in p.items()),
)
def test_every_training_path_learns_on_the_gpu(params):
    dae = _dae(device="cuda", max_epochs=5, **params).fit(X_UNIT)
    assert _on_gpu(dae)
    assert np.all(np.isfinite(dae.loss_curve_))
    # Each stage's loss falls (a greedy stack runs one stage per layer).
    per_stage = 5 if dae.stacking == "greedy" else len(dae.loss_curve_)
    for stage in range(0, len(dae.loss_curve_), per_stage):
        curve = dae.loss_curve_[stage : stage + per_stage]
        assert curve[-1] < curve[0]
    assert np.all(np.isfinite(dae.transform(X_UNIT)))


def test_early_stopping_on_the_gpu():
    dae = _dae(device="cuda", early_stopping=True, max_epochs=30, n_iter_no_change=2)
    dae.fit(X_UNIT)
    assert len(dae.validation_scores_) == dae.n_iter_
    assert np.all(np.isfinite(dae.validation_scores_))


def test_sparse_and_host_resident_data_train_as_resident_data(monkeypatch):
    resident = _dae(device="cuda").fit(X32)
    sparse = _dae(device="cuda").fit(sp.csr_matrix(X32))
    # No room on the GPU: the rows stay on the host, batches go over pinned.
    monkeypatch.setattr(sk_dae._data, "_GPU_RESIDENT_SHARE", 0.0)
    host = _dae(device="cuda").fit(X32)
    for other in (sparse, host):
        np.testing.assert_allclose(other.loss_curve_, resident.loss_curve_, rtol=1e-4)
        np.testing.assert_allclose(
            other.transform(X32), resident.transform(X32), rtol=1e-4, atol=1e-5
        )


def test_warm_start_and_partial_fit_continue_on_the_gpu():
    dae = _dae(device="cuda", hidden_layer_sizes=(16,), warm_start=True).fit(X_UNIT)
    dae.fit(X_UNIT)
    for _ in range(2):
        dae.partial_fit(X_UNIT)
    assert dae.n_iter_ == 3 + 3 + 2 and _on_gpu(dae)
    assert dae.loss_curve_[-1] < dae.loss_curve_[0]


# -- the GPU against the CPU ----


def _probe_accuracy(dae, X_train, X_test, y_train, y_test):
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    probe.fit(dae.transform(X_train), y_train)
    return probe.score(dae.transform(X_test), y_test)


def test_gpu_training_matches_cpu_training_statistically():
    # Same weights at the start and same shuffling, other noise streams: compare
    # the mean loss curves and the mean accuracy of a linear probe over seeds.
    # On the CPU, other noise seeds moved the mean curve by 0.4% at most and the
    # accuracy by 0.06 points.
    split = train_test_split(X32, Y_DIGITS, test_size=0.3, random_state=0)
    X_train = split[0]
    curves, accuracy = {}, {}
    for device in ("cpu", "cuda"):
        runs = [
            _dae(hidden_layer_sizes=(64,), max_epochs=15, device=device, random_state=s)
            for s in range(3)
        ]
        runs = [dae.fit(X_train) for dae in runs]
        curves[device] = np.mean([dae.loss_curve_ for dae in runs], axis=0)
        accuracy[device] = np.mean([_probe_accuracy(dae, *split) for dae in runs])
    print(f"mean loss curves {curves}; mean probe accuracy {accuracy}")
    np.testing.assert_allclose(curves["cuda"], curves["cpu"], rtol=0.02)
    assert abs(accuracy["cuda"] - accuracy["cpu"]) <= 0.01


# -- no synchronisation inside an epoch ----


class _NoSyncBatches:
    """Batches with CUDA's sync debug mode at "error" from the first training
    step to the end of the last one: any host-device synchronisation inside the
    epoch raises. The per-epoch work around it (the permutation's upload, the
    one read of the batch losses) is outside."""

    def __init__(self, iterator):
        self.iterator = iterator

    def __len__(self):
        return len(self.iterator)

    def __iter__(self):
        batches = iter(self.iterator)
        first = next(batches)
        torch.cuda.set_sync_debug_mode("error")
        try:
            yield first
            yield from batches
        finally:
            torch.cuda.set_sync_debug_mode("default")


X_HOLED = np.where(np.random.default_rng(0).random(X32.shape) < 0.3, np.nan, X32)


@pytest.mark.parametrize("stacking", ["greedy", "joint"])
@pytest.mark.parametrize("X", [X32, X_HOLED], ids=["complete", "missing"])
def test_an_epoch_on_resident_data_never_synchronises(monkeypatch, stacking, X):
    get_iterator = DenoisingAutoencoderNet.get_iterator

    def no_sync_iterator(self, dataset, training=False):
        iterator = get_iterator(self, dataset, training)
        return _NoSyncBatches(iterator) if training else iterator

    monkeypatch.setattr(DenoisingAutoencoderNet, "get_iterator", no_sync_iterator)
    dae = _dae(device="cuda", stacking=stacking).fit(X)  # raises on a sync
    assert dae.n_iter_ == (6 if stacking == "greedy" else 3)


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


@pytest.mark.parametrize("corruption", ["mask", "swap", "salt_and_pepper", "gaussian"])
def test_missing_values_train_on_the_gpu_and_infer_as_on_the_cpu(corruption):
    dae = _dae(device="cuda", corruption=corruption, corruption_level=0.2)
    dae.set_params(max_epochs=5).fit(X_HOLED)
    for stage in (dae.loss_curve_[:5], dae.loss_curve_[5:]):
        assert np.all(np.isfinite(stage)) and stage[-1] < stage[0]
    codes, scores = dae.transform(X_HOLED), dae.score_samples(X_HOLED)
    dae.set_params(device="cpu")  # the same weights; holes handled on the CPU
    np.testing.assert_allclose(dae.transform(X_HOLED), codes, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dae.score_samples(X_HOLED), scores, rtol=1e-4)


@pytest.mark.parametrize("stacking", ["greedy", "joint"])
def test_a_learned_fill_trains_on_the_gpu_and_fills_as_on_the_cpu(stacking):
    dae = _dae(
        device="cuda",
        corruption="block_mask",
        image_shape=(8, 8),
        input_fill="learned",
        stacking=stacking,
        max_epochs=5,
    ).fit(X_HOLED)
    assert _on_gpu(dae)
    start = np.nanmean(X_HOLED, axis=0)
    assert np.abs(dae.input_fill_ - start).max() > 1e-3  # the fill trained
    codes = dae.transform(X_HOLED)
    dae.set_params(device="cpu")
    np.testing.assert_allclose(dae.transform(X_HOLED), codes, rtol=1e-4, atol=1e-5)


def test_the_imputer_on_the_gpu_fills_only_the_holes():
    imputer = DenoisingAutoencoderImputer(
        autoencoder=DenoisingAutoencoderTransformer(device="cuda"),
        max_epochs=5,
        random_state=0,
    )
    filled = imputer.fit_transform(X_HOLED)
    observed = ~np.isnan(X_HOLED)
    assert not np.isnan(filled).any() and filled.dtype == np.float32
    np.testing.assert_array_equal(filled[observed], X_HOLED[observed])


def test_an_ensemble_trains_as_one_network_on_the_gpu_and_fills_as_on_the_cpu():
    imputer = DenoisingAutoencoderImputer(
        n_estimators=3,
        autoencoder=DenoisingAutoencoderTransformer(device="cuda"),
        max_epochs=5,
        random_state=0,
    )
    filled = imputer.fit_transform(X_HOLED)
    assert _on_gpu(imputer.autoencoder_)
    assert imputer.autoencoder_.net_.module_.n_members == 3
    imputer.autoencoder_.set_params(device="cpu")
    np.testing.assert_allclose(imputer.transform(X_HOLED), filled, rtol=1e-4, atol=1e-5)


# -- export ----


def test_a_model_trained_on_the_gpu_exports_to_onnx_as_it_transforms_on_the_cpu():
    ort = pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    import sk_dae.onnx  # noqa: F401

    gpu = _dae(device="cuda").fit(X_UNIT)
    onx = skl2onnx.to_onnx(gpu, X32[:1])
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    served = session.run(None, {session.get_inputs()[0].name: X32})[0]
    assert _on_gpu(gpu)  # exporting copies the weights; the model stays put
    on_cpu = pickle.loads(pickle.dumps(gpu)).set_params(device="cpu")
    np.testing.assert_allclose(served, on_cpu.transform(X32), rtol=1e-5, atol=1e-6)


# -- a user's module ----


class _ConvAE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.decoder = torch.nn.ConvTranspose2d(
            4, 1, 3, stride=2, padding=1, output_padding=1
        )

    def encode(self, x):
        return torch.relu(self.encoder(x.view(-1, 1, 8, 8)))

    def decode(self, h):
        return self.decoder(h).flatten(1)


def test_a_users_module_trains_on_the_gpu_with_holes_and_moves_to_the_cpu():
    X = X32.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    gpu = _dae(
        module=_ConvAE,
        hidden_layer_sizes=(100,),
        device="cuda",
        corruption="block_mask",
        image_shape=(8, 8),
        input_fill="learned",
    ).fit(X)
    assert _on_gpu(gpu) and gpu.net_.fill_.value.is_cuda
    codes = gpu.transform(X)
    cpu = pickle.loads(pickle.dumps(gpu)).set_params(device="cpu")
    np.testing.assert_allclose(cpu.transform(X), codes, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("corruption", ["mask", "swap", "salt_and_pepper"])
def test_a_mixed_table_trains_and_imputes_on_the_gpu(corruption):
    import pandas as pd

    rng = np.random.default_rng(0)
    kind = rng.choice(["a", "b", "c"], 300)
    x = np.select([kind == "a", kind == "b"], [-1.0, 0.0], 1.0)
    frame = pd.DataFrame({"x": x + 0.1 * rng.standard_normal(300), "kind": kind})
    dae = _dae(corruption=corruption, device="cuda").fit(frame)
    assert _on_gpu(dae)
    back = dae.inverse_transform(dae.transform(frame))
    assert set(back["kind"]) <= {"a", "b", "c"}
    holed = frame.copy()
    holed.loc[::5, "kind"] = None
    imputer = DenoisingAutoencoderImputer(
        max_epochs=30,
        autoencoder=DenoisingAutoencoderTransformer(device="cuda"),
        random_state=0,
        sample_posterior=True,
    ).fit(holed)
    out = imputer.transform(holed)
    assert np.mean(out[::5, 1] == kind[::5]) > 0.8
