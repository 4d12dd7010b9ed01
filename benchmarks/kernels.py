"""How fast are the matrix products of a training step, on each CPU kernel?

The built-in layer's step at batch B, F inputs and H units (tied weights) is
five products: the encoder (B x F by F x H), the decoder (B x H by H x F), the
codes' gradient (B x F by F x H) and the two halves of the weight's gradient
(H x B by B x F). This script times each of them, in turns, on every kernel
this machine has:

- ``torch.addmm``, torch's public path (MKL in torch's x86 wheels);
- oneDNN's linear op, ``torch.ops.mkldnn._linear_pointwise`` (the op that
  torch's compiler emits for CPU linear layers), where this torch has it;
- numpy's BLAS (named from threadpoolctl) on float32 arrays;

and prints each kernel's GFLOP/s per product (the median over rounds), the
kernel that ``sk_dae._kernels.linear`` chose at that shape (in the fit, with
``--fit``), and the machine's
GEMM rate for the whole step: the step's flops over the sum of the fastest
kernel's times. ``--fit`` adds the rate that ``partial_fit`` reaches: the
step's flops times the batches of an epoch over the epoch's time (skorch's
``dur``), so that the two rates say how much of the machine a fit uses.

    python benchmarks/kernels.py                  # 784-100-784 and 784-2000-784
    python benchmarks/kernels.py --fit            # and an epoch of each
    python benchmarks/kernels.py --smoke          # seconds
"""

import argparse
import os
import statistics
import time

import numpy as np
import threadpoolctl
import torch
from env_info import environment, machine_line

from sk_dae import DenoisingAutoencoderTransformer, _kernels

SETTINGS = {"reference": (784, 100), "fashion": (784, 2000)}  # (F, H)


def step_products(n_features, width, batch):
    """The products of one step of an untied layer (the default), as
    ``_backprop`` computes them: ``(what, m, k, n, with bias)``."""
    return [
        ("encode", batch, n_features, width, True),
        ("decode", batch, width, n_features, True),
        ("codes' gradient", batch, n_features, width, False),
        ("weight's gradient, encoder", width, batch, n_features, False),
        ("weight's gradient, decoder", n_features, batch, width, False),
    ]


def step_flops(n_features, width, batch):
    products = step_products(n_features, width, batch)
    return sum(2 * m * k * n for _, m, k, n, _ in products)


def blas_name():
    """numpy's BLAS as threadpoolctl names it, e.g. 'openblas 0.3.27 SkylakeX'."""
    for lib in threadpoolctl.threadpool_info():
        if lib["user_api"] == "blas" and "numpy" in lib["filepath"]:
            parts = [lib["internal_api"], lib.get("version"), lib.get("architecture")]
            return " ".join(str(p) for p in parts if p)
    return "numpy's BLAS"


def kernels(m, k, n, with_bias):
    """Callables computing ``x (m, k) @ w.T (+ b)``, one per kernel, on the
    same operands."""
    generator = torch.Generator().manual_seed(0)
    x, w = torch.rand(m, k, generator=generator), torch.rand(n, k, generator=generator)
    b = torch.rand(n, generator=generator) if with_bias else None
    xn, wtn, out = x.numpy(), np.ascontiguousarray(w.numpy().T), np.empty((m, n), "f4")
    found = {"torch.addmm (MKL)": lambda: _kernels.KERNELS["mkl"](x, w, b)}
    if _kernels.onednn_available():
        found["oneDNN linear"] = lambda: _kernels.KERNELS["onednn"](x, w, b)
    found[f"numpy ({blas_name()})"] = lambda: np.dot(xn, wtn, out=out)
    return found, (x, w, b)


def time_calls(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def product_rates(m, k, n, with_bias, rounds, calls):
    """GFLOP/s of each kernel at one shape: the median over rounds. torch's
    kernels take turns (their order reversed every round); numpy's BLAS runs
    its rounds after them, and the script then waits for OpenBLAS's threads,
    which spin for a while after a call and would slow whatever ran next."""
    found, operands = kernels(m, k, n, with_bias)
    for fn in found.values():
        fn()
    _settle()
    seconds = {name: [] for name in found}
    torch_kernels = [name for name in found if not name.startswith("numpy")]
    for r in range(rounds):
        for name in torch_kernels[:: 1 if r % 2 == 0 else -1]:
            seconds[name].append(time_calls(found[name], calls))
    for name in set(found) - set(torch_kernels):
        for _ in range(rounds):
            seconds[name].append(time_calls(found[name], calls))
    _settle()
    return {
        name: 2 * m * k * n / statistics.median(seconds[name]) / 1e9 for name in found
    }


def _settle(seconds=0.5):
    time.sleep(seconds)  # OpenBLAS's idle threads stop spinning


def chosen_kernel(m, k, n, with_bias):
    """The kernel ``sk_dae._kernels.linear`` keeps at this shape, after its
    trials (run here, on fresh operands, where no fit has made them)."""
    key = (m, k, n, with_bias, torch.get_num_threads())
    if m * k * n < _kernels._SMALL:
        return "mkl (small)"
    if key not in _kernels.choices():
        _, operands = kernels(m, k, n, with_bias)
        with torch.no_grad():
            for _ in range(2 * (_kernels._WARMUP_CALLS + _kernels._TIMED_CALLS)):
                _kernels.linear(*operands)
    return _kernels.choices().get(key, "mkl (no oneDNN)")


def step_report(n_features, width, batch, rounds, calls, X=None, fit_epochs=3):
    """Each product's rates and the machine's rate for the step; with ``X``,
    ``partial_fit``'s rate, the fit run first so that the kernels reported as
    chosen are its own."""
    report = {}
    if X is not None:
        report["fit_gflops"] = fit_rate(X[:, :n_features], width, fit_epochs)
    rows = {}
    for what, m, k, n, with_bias in step_products(n_features, width, batch):
        rows[what] = {
            "shape": (m, k, n),
            "sk_dae chose": chosen_kernel(m, k, n, with_bias),
            "gflops": product_rates(m, k, n, with_bias, rounds, calls),
        }
    best = {}  # the fastest kernel's seconds per product
    for row in rows.values():
        m, k, n = row["shape"]
        name, rate = max(row["gflops"].items(), key=lambda item: item[1])
        best[name] = best.get(name, 0) + 2 * m * k * n / rate / 1e9
    flops = step_flops(n_features, width, batch)
    report.update(
        products=rows,
        step_flops=flops,
        machine_gflops=flops / sum(best.values()) / 1e9,
        fastest_kernels=sorted(best),
    )
    return report


def fit_rate(X, width, epochs):
    """GFLOP/s of ``partial_fit``'s epochs: the median over epochs of the
    step's flops times the batches over skorch's epoch duration."""
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(width,), max_epochs=1, random_state=0, device="cpu"
    )
    durations = []
    for _ in range(epochs + 1):  # the first warms up
        dae.partial_fit(X)
        durations.append(dae.net_.history[-1]["dur"])
    batches = -(-len(X) // 100)
    flops = step_flops(X.shape[1], width, 100) * batches
    return flops / statistics.median(durations[1:]) / 1e9


def print_step(name, report):
    print(f"### {name}: {report['step_flops'] / 1e6:.0f} MFLOP a step\n")
    kernels_ = list(next(iter(report["products"].values()))["gflops"])
    print("| product | m x k x n | " + " | ".join(kernels_) + " | sk_dae chose |")
    print("|---|---|" + "---|" * len(kernels_) + "---|")
    for what, row in report["products"].items():
        rates = " | ".join(f"{row['gflops'][k]:.0f}" for k in kernels_)
        shape = " x ".join(str(s) for s in row["shape"])
        print(f"| {what} | {shape} | {rates} | {row['sk_dae chose']} |")
    print(
        f"\nmachine GEMM rate for the step: {report['machine_gflops']:.0f} GFLOP/s "
        f"(fastest kernels: {', '.join(report['fastest_kernels'])})"
    )
    if "fit_gflops" in report:
        print(
            f"partial_fit reaches {report['fit_gflops']:.0f} GFLOP/s, "
            f"{report['fit_gflops'] / report['machine_gflops']:.0%} of it"
        )
    print()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20, help="calls per timing")
    parser.add_argument("--fit", action="store_true", help="time partial_fit too")
    parser.add_argument("--fit-rows", type=int, default=10000)
    parser.add_argument("--fit-epochs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.calls, args.fit_rows, args.fit_epochs = 2, 2, 300, 1
    return args


def settings_report(rounds, calls, X=None, fit_epochs=3):
    """:func:`step_report` at each of :data:`SETTINGS`, with ``partial_fit``'s
    rate on ``X`` (its first columns, as many as the setting has) where given."""
    return {
        name: step_report(n_features, width, 100, rounds, calls, X, fit_epochs)
        for name, (n_features, width) in SETTINGS.items()
    }


def print_settings(reports):
    for name, report in reports.items():
        n_features, width = SETTINGS[name]
        print_step(f"{n_features}-{width}-{n_features}, batch 100", report)
    coretype = os.environ.get("OPENBLAS_CORETYPE") or "(unset)"
    print(f"OPENBLAS_CORETYPE={coretype}; " + machine_line(environment("cpu")))


def main(argv=None):
    args = parse_args(argv)
    X = None
    if args.fit:
        rng = np.random.default_rng(0)
        X = rng.random((args.fit_rows, 784), dtype=np.float32)
    reports = settings_report(args.rounds, args.calls, X, args.fit_epochs)
    print_settings(reports)
    return reports


if __name__ == "__main__":
    main()
