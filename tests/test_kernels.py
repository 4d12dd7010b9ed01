"""The matrix-product kernel: oneDNN where measured faster, held to addmm."""

import time

import numpy as np
import pytest
import torch

from sk_dae import DenoisingAutoencoderTransformer, _kernels
from sk_dae._kernels import KERNELS, linear

needs_onednn = pytest.mark.skipif(
    not _kernels.onednn_available(), reason="this torch has no usable oneDNN op"
)


@pytest.fixture
def fresh_choices(monkeypatch):
    """An empty kernel cache for the test, the process's own restored after."""
    monkeypatch.setattr(_kernels, "_choice", {})
    monkeypatch.setattr(_kernels, "_trials", {})
    monkeypatch.setattr(_kernels, "_SMALL", 0)  # the tests' products are small


def _operands(m, k, n, transposed):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((k, m) if transposed else (m, k), generator=generator)
    w = torch.randn((k, n) if transposed else (n, k), generator=generator)
    b = torch.randn(n, generator=generator)
    return (x.t(), w.t(), b) if transposed else (x, w, b)


@needs_onednn
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_each_kernel_gives_addmms_product(name, with_bias, transposed):
    x, w, b = _operands(37, 50, 23, transposed)
    b = b if with_bias else None
    got = KERNELS[name](x, w, b)
    expected = x.double() @ w.double().t() + (0 if b is None else b.double())
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-4)


def _slowed(kernel, seconds, calls):
    def slow(*operands):
        calls.append(kernel)
        time.sleep(seconds)
        return KERNELS[kernel](*operands)

    return slow


@needs_onednn
@pytest.mark.parametrize("slow", ["mkl", "onednn"])
def test_the_kernels_take_turns_then_the_faster_is_kept(fresh_choices, slow):
    x, w, b = _operands(8, 5, 3, False)
    calls = []
    kernels = {
        name: _slowed(name, 0.01 if name == slow else 0, calls) for name in KERNELS
    }
    expected = x @ w.t() + b
    per_kernel = _kernels._WARMUP_CALLS + _kernels._TIMED_CALLS
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_kernels, "KERNELS", kernels)
        with torch.no_grad():
            results = [linear(x, w, b) for _ in range(2 * per_kernel + 2)]
    faster = "onednn" if slow == "mkl" else "mkl"
    trials = 2 * per_kernel
    assert calls[:trials] == ["mkl", "onednn"] * per_kernel
    assert calls[trials:] == [faster, faster]
    threads = torch.get_num_threads()
    assert _kernels.choices() == {(8, 5, 3, True, threads): faster}
    for result in results:  # every call's product is its result
        torch.testing.assert_close(result, expected)


def test_autograd_float64_and_a_missing_op_take_addmm(fresh_choices, monkeypatch):
    x, w, b = _operands(8, 5, 3, False)
    w.requires_grad_(True)
    out = linear(x, w, b)  # a gradient to record: oneDNN's op has none
    assert out.grad_fn is not None
    out.sum().backward()
    torch.testing.assert_close(w.grad, x.sum(0).expand(3, 5))
    with torch.no_grad():
        linear(x.double(), w.double(), b.double())
    monkeypatch.setattr(_kernels, "_probe", {"onednn": False})
    with torch.no_grad():
        linear(x, w, b)
    assert _kernels.choices() == {}


def test_the_probe_says_no_when_the_op_is_absent(monkeypatch):
    monkeypatch.setattr(_kernels, "_probe", {})
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert not _kernels.onednn_available()


def _chose(key, name, *operands):
    _kernels._choice[key] = name
    return KERNELS[name](*operands)


@needs_onednn
def test_a_fit_on_either_kernel_gives_the_same_model(fresh_choices, monkeypatch):
    X = np.random.default_rng(0).random((300, 40)).astype(np.float32)
    codes = {}
    for name in sorted(KERNELS):
        monkeypatch.setattr(_kernels, "_choice", {})
        monkeypatch.setattr(
            _kernels, "_trial", lambda key, *a, name=name: _chose(key, name, *a)
        )
        dae = DenoisingAutoencoderTransformer(
            hidden_layer_sizes=(16,), max_epochs=3, batch_size=50, random_state=0
        ).fit(X)
        assert set(_kernels.choices().values()) == {name}
        codes[name] = dae.transform(X)
    np.testing.assert_allclose(codes["onednn"], codes["mkl"], rtol=1e-4, atol=1e-5)


def test_a_batch_of_matrices_takes_the_public_path(fresh_choices):
    x, w, b = _operands(6, 5, 3, False)
    with torch.no_grad():
        got = linear(x.reshape(2, 3, 5), w, b)
    torch.testing.assert_close(got.reshape(6, 3), x @ w.t() + b)
    assert _kernels.choices() == {}


def test_a_small_product_takes_mkl_without_a_trial(fresh_choices, monkeypatch):
    monkeypatch.setattr(_kernels, "_SMALL", 8 * 5 * 3 + 1)
    x, w, b = _operands(8, 5, 3, False)
    with torch.no_grad():
        linear(x, w, b)
    assert _kernels.choices() == {} and _kernels._trials == {}


def test_out_is_written_by_mkl_and_replaced_by_onednn(fresh_choices, monkeypatch):
    x, w, _ = _operands(8, 5, 3, False)
    for name in sorted(KERNELS):
        out = torch.zeros(8, 3)
        key = (8, 5, 3, False, torch.get_num_threads())
        monkeypatch.setitem(_kernels._choice, key, name)
        with torch.no_grad():
            got = linear(x, w, out=out)
        torch.testing.assert_close(got, x @ w.t())
        if name == "mkl" or not _kernels.onednn_available():
            assert got.data_ptr() == out.data_ptr()
