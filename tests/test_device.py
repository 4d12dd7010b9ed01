"""Device handling, tested on the CPU with torch's CUDA queries patched: index
resolution, the fork check, placing a loaded model, and moving a fitted one."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._device import resolve_device

X_UNIT = load_digits().data[:300] / 16.0


@pytest.fixture
def two_gpus(monkeypatch):
    """torch's view of a machine with two GPUs, the second one current."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "init", lambda: None)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)


@pytest.mark.parametrize(
    "device, want",
    [
        ("auto", "cuda:1"),
        ("cuda", "cuda:1"),
        ("cuda:0", "cuda:0"),
        (torch.device("cuda", 1), "cuda:1"),
        ("cpu", "cpu"),
    ],
)
def test_cuda_devices_resolve_to_an_explicit_index(two_gpus, device, want):
    assert resolve_device(device) == want


def test_a_gpu_that_does_not_exist_is_a_clear_error(two_gpus):
    with pytest.raises(ValueError, match="'cuda:2' names a GPU that does not exist"):
        resolve_device("cuda:2")


def test_without_cuda_auto_is_the_cpu_and_cuda_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")


@pytest.fixture(scope="module")
def fitted():
    return DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(8,), max_epochs=2, random_state=0, device="cpu"
    ).fit(X_UNIT)


def _saved_on(fitted, device, device_):
    """The pickled state of ``fitted`` as if its network had been on
    ``device_``, with the ``device`` parameter it was fitted with."""
    state = fitted.__getstate__()
    state["device"], state["device_"] = device, device_
    state["_placed_for"] = device
    state["_net_state"] = {
        **state["_net_state"],
        "device": device_,
        "noise_rng": np.zeros(16, np.uint8),  # a CUDA generator's state
    }
    restored = DenoisingAutoencoderTransformer.__new__(DenoisingAutoencoderTransformer)
    restored.__setstate__(pickle.loads(pickle.dumps(state)))
    return restored


def test_loading_makes_no_network_and_touches_no_gpu(fitted, monkeypatch):
    def init():
        raise AssertionError("loading touched CUDA")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "init", init)
    restored = _saved_on(fitted, "cuda:0", "cuda:0")
    assert "net_" not in vars(restored)
    # The documented way to run a GPU model on the CPU of a GPU machine.
    restored.set_params(device="cpu")
    np.testing.assert_array_equal(restored.transform(X_UNIT), fitted.transform(X_UNIT))
    assert restored.device_ == "cpu" and restored.net_.device == "cpu"


def test_a_model_trained_on_cuda_loads_on_a_cpu_only_machine(fitted, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = _saved_on(fitted, "cuda", "cuda:0")  # no warning yet: no net
    with pytest.warns(UserWarning, match="saved from 'cuda:0'.*placed on the CPU"):
        codes = restored.transform(X_UNIT)
    assert restored.device_ == "cpu" and restored.net_.device == "cpu"
    np.testing.assert_array_equal(codes, fitted.transform(X_UNIT))
    restored.partial_fit(X_UNIT)  # and it goes on training there


def test_a_model_saved_on_a_missing_gpu_falls_back_to_the_cpu(fitted, two_gpus):
    restored = _saved_on(fitted, "cuda:3", "cuda:3")
    with pytest.warns(UserWarning, match="saved from 'cuda:3'.*does not exist.*CPU"):
        codes = restored.transform(X_UNIT)
    np.testing.assert_array_equal(codes, fitted.transform(X_UNIT))
    assert restored.device_ == "cpu"
    # Once on the CPU it stays there quietly, and trains there.
    restored.partial_fit(X_UNIT)
    assert restored.net_.device == "cpu"


def test_a_loaded_model_saves_again_without_being_used(fitted):
    restored = pickle.loads(pickle.dumps(fitted))
    again = pickle.loads(pickle.dumps(restored))
    assert "net_" not in vars(again)
    np.testing.assert_array_equal(again.transform(X_UNIT), fitted.transform(X_UNIT))


def test_a_network_saved_elsewhere_goes_where_device_points(fitted, monkeypatch):
    # Saved "on cuda:0" with device="cpu", loaded where cuda:0 does not exist:
    # placed on the CPU, no warning. (Where cuda:0 exists, it goes back there.)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    moved = _saved_on(fitted, "cpu", "cuda:0")
    moved.partial_fit(X_UNIT)  # trains on the CPU; the noise stream is reseeded
    assert moved.net_.device == "cpu" and moved.device_ == "cpu"
    assert moved.n_iter_ == fitted.n_iter_ + 1


def test_float64_inference_runs_in_float32_on_a_gpu():
    from sk_dae._inference import compute_dtype as _compute_dtype

    assert _compute_dtype(np.float64, "cpu") == torch.float64
    assert _compute_dtype(np.float64, "cuda:0") == torch.float32
    assert _compute_dtype(np.float32, "cpu") == torch.float32


def test_a_fitted_model_keeps_its_device_until_device_is_set(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    auto = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(8,), max_epochs=1, random_state=0, device="auto"
    ).fit(X_UNIT)
    assert auto.device_ == "cpu"
    # A GPU appears (or another one becomes current): "auto" would now resolve
    # to cuda:1, but the fitted model stays where it was placed.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "init", lambda: None)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    auto.transform(X_UNIT)
    auto.partial_fit(X_UNIT)
    assert auto.device_ == "cpu" and auto.net_.device == "cpu"


def test_a_device_set_on_a_fitted_model_must_be_met(fitted, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = pickle.loads(pickle.dumps(fitted))
    model.transform(X_UNIT)
    codes = model.transform(X_UNIT)
    for device, message in [("cuda:0", "CUDA is not available"), ("tpu", "'tpu'")]:
        model.set_params(device=device)
        for call in (model.transform, model.partial_fit):
            with pytest.raises(ValueError, match=message):
                call(X_UNIT)
    model.set_params(device="cpu")
    np.testing.assert_array_equal(model.transform(X_UNIT), codes)
    assert model.n_iter_ == fitted.n_iter_


def test_a_loaded_model_comes_back_on_the_gpu_it_was_saved_from(fitted, two_gpus):
    # Saved from cuda:0 with device="auto"; cuda:1 is current here. Forged: the
    # rebuild itself is stopped before it touches the (absent) GPU.
    restored = _saved_on(fitted, "auto", "cuda:0")
    placed = []

    def build_net(device, state=None, **kwargs):
        placed.append(device)
        raise RuntimeError("stop before building on a GPU")

    restored._build_net = build_net
    with pytest.raises(RuntimeError, match="Rebuilding net_ failed|stop before"):
        restored.transform(X_UNIT)
    assert placed == ["cuda:0"]
