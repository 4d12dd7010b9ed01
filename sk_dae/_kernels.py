"""The matrix-product kernel of the built-in layer's products on the CPU.

torch's CPU matrix products go through MKL, which on AMD processors runs its
AVX2 kernels. oneDNN, which ships inside torch, runs AVX-512 kernels there
and is what torch's own compiler emits for CPU linear layers
(``torch.ops.mkldnn._linear_pointwise``). Measured with ``python
benchmarks/kernels.py --fit`` (AMD EPYC, 2 cores, torch 2.13.0+cpu), the
products of a step at 784-2000-784, batch 100, ran at 105-190 GFLOP/s on MKL
and 168-192 on oneDNN (the encoder's, 105 against 176); at the reference
784-100-784, 87-140 and 77-126. A Fashion-setting epoch took 0.87 of its
time before this module, same-run A/B (``benchmarks/README.md``).

So :func:`linear` picks its kernel per shape (and thread count), by
measurement: the first calls at a shape take turns between the two kernels,
each call's product being its result, and after eight of each the faster is
kept for the life of the process (no product is computed twice for the
choice; the calls of a fit after its first few steps compute with the same
kernels). On Intel, MKL runs its AVX-512 kernels and is expected to win or
tie, so the choice falls back to it there. oneDNN is a private op: it is
used only where :func:`onednn_usable` finds it (torch built with it, float32
CPU tensors, no gradient to record, and a first call that agrees with
``torch.addmm``), and everything else, including every autograd path, takes
``torch.addmm``. ``tests/test_kernels.py`` holds both to the same values.
"""

import statistics
import time

import torch
import torch.nn.functional as F

# The first calls of each kernel at a new shape: warming up (a call's time
# falls over its first two or three, as oneDNN builds its primitive and the
# threads wake), then timed; the median of the timed calls counts, as single
# calls on a shared machine vary by half.
_WARMUP_CALLS = 2
_TIMED_CALLS = 6
# oneDNN is kept only when at least this much faster: where the two are near
# level, trials of single calls on a shared machine would flip between them,
# and the tie goes to the public op. Where oneDNN wins it wins by more (the
# 784-2000-784 encoder's product: 176 GFLOP/s against 105, kernels.py).
_MARGIN = 0.85
# Products of fewer multiply-adds than this take MKL without a trial: at the
# reference step's (100 x 784 x 100, 7.8 million) MKL ran at 87-140 GFLOP/s
# and oneDNN at 77-126 (benchmarks/kernels.py, AMD EPYC, 2 cores), and the
# check alone cost 3% of such a product's time.
_SMALL = 16_000_000

_choice = {}  # (m, k, n, has bias, threads) -> "onednn" or "mkl"
_trials = {}  # the same keys, while undecided -> {kernel: [seconds, ...]}
_probe = {}  # "onednn" -> whether the op exists and agrees with addmm


def _onednn(x, weight, bias, out=None):
    # No out= variant: the product is a new tensor.
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _public(x, weight, bias, out=None):
    if out is None:  # torch.addmm (MKL) for 2-D operands; any batch dimensions
        return F.linear(x, weight, bias)
    if bias is None:
        return torch.mm(x, weight.t(), out=out)
    return torch.addmm(bias, x, weight.t(), out=out)


KERNELS = {"onednn": _onednn, "mkl": _public}


def onednn_available():
    """Whether this torch has oneDNN's linear op and it agrees with
    ``torch.addmm`` on a small product (checked once per process)."""
    if "onednn" not in _probe:
        _probe["onednn"] = _probe_onednn()
    return _probe["onednn"]


def _probe_onednn():
    if not torch.backends.mkldnn.is_available():
        return False
    op = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    if op is None:
        return False
    generator = torch.Generator().manual_seed(0)
    x, w, b = (torch.rand(s, generator=generator) for s in ((5, 7), (3, 7), (3,)))
    try:
        got = _onednn(x, w, b)
    except (RuntimeError, NotImplementedError):
        return False
    return bool(torch.allclose(got, _public(x, w, b), rtol=1e-5, atol=1e-5))


def onednn_usable(x, weight, bias=None):
    """Whether :func:`linear` may take oneDNN for these operands."""
    # Written for speed: it runs before every product of a step (a few
    # microseconds, against a step of about a millisecond at 784-100-784).
    if x.dtype is not torch.float32 or x.device.type != "cpu" or x.dim() != 2:
        return False
    if weight.dtype is not torch.float32 or weight.dim() != 2:
        return False
    if bias is not None and bias.dtype is not torch.float32:
        return False
    if torch.is_grad_enabled() and (
        x.requires_grad
        or weight.requires_grad
        or (bias is not None and bias.requires_grad)
    ):
        return False
    return _probe.get("onednn") or onednn_available()


def linear(x, weight, bias=None, out=None):
    """``x @ weight.T + bias`` (x: (m, k), weight: (n, k)), on the faster of
    oneDNN and MKL at this shape where oneDNN is usable, else ``torch.addmm``.
    Either operand may be a transposed view. With ``out`` (2-D operands), the
    product is written there where the kernel can (MKL) and is a new tensor
    where it cannot (oneDNN): use what is returned."""
    small = x.shape[0] * x.shape[1] * weight.shape[0] < _SMALL
    if small or not onednn_usable(x, weight, bias):
        return _public(x, weight, bias, out)
    key = (x.shape[0], x.shape[1], weight.shape[0], bias is not None)
    key += (torch.get_num_threads(),)  # the faster may change with the threads
    name = _choice.get(key)
    if name is not None:
        return KERNELS[name](x, weight, bias, out)
    return _trial(key, x, weight, bias, out)


def _trial(key, x, weight, bias, out):
    """One of the first calls at a shape: the kernels take turns on the real
    operands, each call timed, and its product is the call's result (nothing
    is computed twice). After ``_WARMUP_CALLS + _TIMED_CALLS`` of each, the
    medians of the timed ones decide."""
    seconds = _trials.setdefault(key, {"mkl": [], "onednn": []})
    name = min(seconds, key=lambda k: len(seconds[k]))  # mkl first, in turns
    start = time.perf_counter()
    out = KERNELS[name](x, weight, bias, out)
    seconds[name].append(time.perf_counter() - start)
    calls = _WARMUP_CALLS + _TIMED_CALLS
    if all(len(s) >= calls for s in seconds.values()):
        mkl, onednn = (statistics.median(s[_WARMUP_CALLS:]) for s in seconds.values())
        _choice[key] = "onednn" if onednn < _MARGIN * mkl else "mkl"
        _trials.pop(key, None)
    return out


def choices():
    """The kernel chosen at each shape so far:
    ``{(m, k, n, bias, threads): name}``."""
    return dict(_choice)
