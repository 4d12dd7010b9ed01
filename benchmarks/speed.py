"""How fast is training and featurization, against the obvious peers?

Side by side on the same data and setting (the reference 784-100-784, sigmoid,
masking 0.3, squared error, Adam, batch 100), seconds per training epoch of:

- ``DenoisingAutoencoderTransformer.partial_fit`` (this project);
- scikit-learn's ``MLPRegressor.partial_fit``, from corrupted X to X;
- skorch's ``NeuralNetRegressor.partial_fit`` on the same torch module, default
  data path;
- one epoch of the minimal hand-written torch loop of ``reference_loop.py``;

the time of ``transform`` against ``PCA.transform`` at the same width, the
peak memory that ``fit`` adds beyond the training data, and the GFLOP/s that
the training step reaches at the reference and the 2,000-unit settings beside
the machine's GEMM rate at the same products, on the fastest kernel present
(``kernels.py``). The trainers take turns,
one epoch each per round, after a warm-up round; the ratios are medians over the
rounds of this project's time over each peer's in the same round. Prints them
and writes ``speed.json``.

With CUDA, the GPU section times whole ``fit`` calls (input checks, the upload,
every epoch; after a warm-up fit) at batch 100 (784-100-784) and at batch 4096
(784-1000-784), on the GPU and on this machine's CPU: samples per second, the
GPU over the CPU, and the share of the GPU's measured fp32 matrix-product
throughput that training reaches.

    python benchmarks/speed.py                    # Fashion-MNIST train set
    python benchmarks/speed.py --gpu-only         # the GPU section alone
    python benchmarks/speed.py --smoke            # seconds, synthetic data
    python benchmarks/speed.py --under-load       # quiet against busy cores
    python benchmarks/speed.py --under-load --base /tmp/base

``--under-load`` (see ``under_load.py``) times ``fit`` at the reference
setting, the imputer on a small table, ``MLPRegressor`` and the hand-written
loop, quiet and while other sessions' processes keep the cores busy.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from env_info import environment, machine_line
from kernels import print_settings, settings_report
from reference_loop import Autoencoder, ReferenceLoop
from sklearn.decomposition import PCA
from sklearn.neural_network import MLPRegressor
from skorch import NeuralNetRegressor
from under_load import print_under_load, under_load_report

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae.datasets import load_fashion_mnist

WIDTH, LEVEL, BATCH = 100, 0.3, 100


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-rows", type=int, default=60000)
    parser.add_argument(
        "--rounds", type=int, default=7, help="measured epochs of each trainer"
    )
    parser.add_argument("--data-dir", help="Fashion-MNIST IDX folder")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny synthetic run for CI"
    )
    parser.add_argument("--out", default="results", help="output folder")
    parser.add_argument(
        "--gpu-only", action="store_true", help="run the GPU section alone"
    )
    parser.add_argument(
        "--gpu-epochs", type=int, default=10, help="epochs of each timed GPU fit"
    )
    parser.add_argument(
        "--cpu-epochs", type=int, default=2, help="epochs of each timed CPU fit"
    )
    parser.add_argument(
        "--under-load",
        action="store_true",
        help="quiet against loaded cores (the other sections are skipped)",
    )
    parser.add_argument(
        "--load-rows", type=int, default=20000, help="rows of --under-load's fits"
    )
    parser.add_argument("--base", help="another checkout, for --under-load's ratio")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n_rows, args.rounds = 1000, 1
        args.gpu_epochs = args.cpu_epochs = 1
        args.load_rows = 500
    return args


def load_rows(args):
    """Fashion-MNIST training rows, or uniform noise of the same shape."""
    if not args.smoke:
        try:
            return load_fashion_mnist(args.data_dir)[0][: args.n_rows], "fashion-mnist"
        except FileNotFoundError as exc:
            print(f"{exc}\nUsing synthetic data instead.", file=sys.stderr)
    rng = np.random.default_rng(0)
    return rng.random((args.n_rows, 784), dtype=np.float32), "synthetic"


# Each trainer is an object whose ``epoch()`` runs one pass over the data through
# the peer's own incremental API, with its per-call input checks; the timing is
# the wall clock of that call.


class SkDae:
    def __init__(self, X):
        self.X = X
        self.model = DenoisingAutoencoderTransformer(
            hidden_layer_sizes=(WIDTH,),
            corruption_level=LEVEL,
            batch_size=BATCH,
            device="cpu",
            random_state=0,
        )

    def epoch(self):
        self.model.partial_fit(self.X)


def _masked(X):
    # MLPRegressor and skorch's default path cannot draw fresh noise per batch;
    # they get one masked copy (which spares them the noise's cost).
    keep = np.random.default_rng(0).random(X.shape) >= LEVEL
    return (X * keep).astype(np.float32)


class MLP:
    def __init__(self, X):
        self.X, self.X_tilde = X, _masked(X)
        self.model = MLPRegressor(
            hidden_layer_sizes=(WIDTH,),
            activation="logistic",
            solver="adam",
            batch_size=BATCH,
            random_state=0,
        )

    def epoch(self):
        self.model.partial_fit(self.X_tilde, self.X)


class Skorch:
    def __init__(self, X):
        self.X, self.X_tilde = X, _masked(X)
        self.model = NeuralNetRegressor(
            Autoencoder,
            module__n_features=X.shape[1],
            module__width=WIDTH,
            optimizer=torch.optim.Adam,
            lr=1e-3,
            batch_size=BATCH,
            train_split=None,
            iterator_train__shuffle=True,
            verbose=0,
        ).initialize()

    def epoch(self):
        self.model.partial_fit(self.X_tilde, self.X, epochs=1)


class Reference:
    def __init__(self, X):
        self.loop = ReferenceLoop(torch.from_numpy(X), WIDTH)

    def epoch(self):
        self.loop.epoch()


def round_robin(trainers, rounds):
    """Seconds of each trainer's epochs, one epoch of each in turn per round.

    Timings on a shared machine drift by tens of percent over seconds; running
    the peers in turn exposes them to the same drift, so the ratios of one round
    are comparable even when the rounds are not. The first round warms up and is
    dropped."""
    seconds = {name: [] for name in trainers}
    for _ in range(rounds + 1):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            trainer.epoch()
            seconds[name].append(time.perf_counter() - start)
    return {name: s[1:] for name, s in seconds.items()}


def ratios(seconds, ours="sk_dae"):
    """Median over rounds of this project's epoch time over each peer's."""
    return {
        name: statistics.median(a / b for a, b in zip(seconds[ours], s, strict=True))
        for name, s in seconds.items()
    }


# Seconds to wait before each timed transform: numpy's OpenBLAS threads spin
# for a while after a call (PCA's), and a torch call beside them waits for a
# core, which sk_dae's thread choice reads as the machine's load.
_QUIET = 0.5


def time_transform(X, repeats=5):
    """Median seconds of ``transform`` for sk_dae and PCA, which take turns
    (one call each per round, after a warm-up round), each after a pause
    (``_QUIET``); ``ratio`` is the median of the rounds' ratios."""
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(WIDTH,), max_epochs=1, random_state=0, device="cpu"
    ).fit(X[:2000])
    pca = PCA(WIDTH, random_state=0).fit(X[:2000])
    durations = {"sk_dae": [], "pca": []}
    for _ in range(repeats + 1):
        for name, model in (("sk_dae", dae), ("pca", pca)):
            time.sleep(_QUIET)
            start = time.perf_counter()
            model.transform(X)
            durations[name].append(time.perf_counter() - start)
    durations = {name: d[1:] for name, d in durations.items()}
    out = {name: statistics.median(d) for name, d in durations.items()}
    out["ratio"] = ratios(durations)["pca"]
    return out


def _peak_rss_during(fn):
    """Peak resident memory that ``fn()`` adds (Linux), in bytes; None elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        fn()
        return None

    def read(field):
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith(field))
        return int(line.split()[1]) * 1024

    before = read("VmRSS")
    fn()
    return read("VmHWM") - before


def fit_memory(X):
    """Peak memory added by a one-epoch fit, on float32 and on float64 input."""
    out = {}
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)

        def fit(Xd=Xd):
            DenoisingAutoencoderTransformer(
                hidden_layer_sizes=(WIDTH,), max_epochs=1, random_state=0, device="cpu"
            ).fit(Xd)

        out[np.dtype(dtype).name] = {
            "data_bytes": Xd.nbytes,
            "peak_added_bytes": _peak_rss_during(fit),
        }
    return out


def matmul_tflops(device, shape=(8192, 8192, 8192), repeats=20):
    """The device's measured fp32 matrix-product throughput (TFLOP/s), at a
    large square shape: the yardstick of the GPU section."""
    m, k, n = shape
    a = torch.randn(m, k, device=device)
    b = torch.randn(k, n, device=device)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize(device)
    return 2 * m * k * n * repeats / (time.perf_counter() - start) / 1e12


# The GPU section's settings: the reference setting, and a wide net at a large
# batch that gives the GPU matrix products worth its while.
GPU_SETTINGS = {
    "batch 100, 784-100-784": (100, 100),
    "batch 4096, 784-1000-784": (4096, 1000),
}


def time_fit(X, device, batch_size, width, epochs):
    """Seconds of a whole ``fit`` (validation, upload, every epoch), after a
    one-epoch warm-up fit on the same device."""

    def fit(n_epochs):
        dae = DenoisingAutoencoderTransformer(
            hidden_layer_sizes=(width,),
            corruption_level=LEVEL,
            batch_size=batch_size,
            max_epochs=n_epochs,
            device=device,
            random_state=0,
        )
        start = time.perf_counter()
        dae.fit(X)
        if device != "cpu":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    fit(1)
    return fit(epochs)


def gpu_report(X, gpu_epochs=10, cpu_epochs=2, device="cuda"):
    """Samples per second of ``fit`` on the GPU and on this machine's CPU, at
    each of GPU_SETTINGS, and the share of the GPU's measured fp32
    matrix-product throughput that GPU training reaches."""
    peak = matmul_tflops(device)
    rows = {}
    for name, (batch_size, width) in GPU_SETTINGS.items():
        # Per sample: 2 forward products and 3 backward ones (no input
        # gradient), each 2 * n_features * width flops.
        flops_per_sample = 5 * 2 * X.shape[1] * width
        gpu_s = time_fit(X, device, batch_size, width, gpu_epochs)
        cpu_s = time_fit(X, "cpu", batch_size, width, cpu_epochs)
        gpu_rate = len(X) * gpu_epochs / gpu_s
        cpu_rate = len(X) * cpu_epochs / cpu_s
        rows[name] = {
            "gpu_fit_seconds": gpu_s,
            "gpu_epochs": gpu_epochs,
            "gpu_samples_per_s": gpu_rate,
            "cpu_fit_seconds": cpu_s,
            "cpu_epochs": cpu_epochs,
            "cpu_samples_per_s": cpu_rate,
            "gpu_over_cpu": gpu_rate / cpu_rate,
            "gpu_tflops": flops_per_sample * gpu_rate / 1e12,
            "share_of_matmul_throughput": flops_per_sample * gpu_rate / 1e12 / peak,
        }
    return {
        "gpu": torch.cuda.get_device_name(),
        "matmul_tflops": peak,
        "settings": rows,
        "environment": environment(device),
    }


def print_gpu_report(gpu):
    print(
        f"\n### fit on the GPU against this machine's CPU ({gpu['gpu']}; measured "
        f"fp32 matrix products: {gpu['matmul_tflops']:.1f} TFLOP/s)\n"
    )
    print(
        "| setting | GPU samples/s | CPU samples/s | GPU / CPU | GPU TFLOP/s | "
        "share of matmul throughput |"
    )
    print("|---|---|---|---|---|---|")
    for name, r in gpu["settings"].items():
        print(
            f"| {name} | {r['gpu_samples_per_s']:.0f} | {r['cpu_samples_per_s']:.0f} "
            f"| {r['gpu_over_cpu']:.1f} | {r['gpu_tflops']:.2f} "
            f"| {r['share_of_matmul_throughput']:.1%} |"
        )
    print(machine_line(gpu["environment"]))


def cpu_report(X, source, rounds):
    epochs = round_robin(
        {
            "sk_dae": SkDae(X),
            "MLPRegressor": MLP(X),
            "skorch NeuralNetRegressor": Skorch(X),
            "hand-written torch loop": Reference(X),
        },
        rounds,
    )
    seconds = {name: statistics.median(s) for name, s in epochs.items()}
    transform = time_transform(X, repeats=5 if rounds > 2 else 1)
    return {
        "cpu_seconds_per_epoch": seconds,
        "cpu_epoch_seconds_by_round": epochs,
        "ratios_sk_dae_over": ratios(epochs),
        "transform_seconds": transform,
        "transform_ratio_over_pca": transform["ratio"],
        "fit_memory": fit_memory(X),
        "step_rates": settings_report(
            rounds=max(rounds, 2),
            calls=20 if rounds > 2 else 2,
            X=X[:10000],
            fit_epochs=3 if rounds > 2 else 1,
        ),
    }


def print_cpu_report(report, X, source, rounds):
    seconds, ratio = report["cpu_seconds_per_epoch"], report["ratios_sk_dae_over"]
    transform = report["transform_seconds"]
    print(
        f"### Seconds per epoch, {source} {X.shape[0]} x {X.shape[1]} "
        f"(medians of {rounds} rounds)\n"
    )
    print("| trainer | s / epoch | sk_dae / this (median of per-round ratios) |")
    print("|---|---|---|")
    for name, s in seconds.items():
        print(f"| {name} | {s:.3f} | {ratio[name]:.2f} |")
    print(
        f"\ntransform of {X.shape[0]} rows: sk_dae {transform['sk_dae']:.3f} s, "
        f"PCA({WIDTH}) {transform['pca']:.3f} s, in turns; ratio (median of "
        f"per-round ratios) {report['transform_ratio_over_pca']:.2f}"
    )
    for dtype, m in report["fit_memory"].items():
        if m["peak_added_bytes"] is not None:
            print(
                f"fit on {dtype} X ({m['data_bytes'] / 2**20:.0f} MiB): peak RSS "
                f"+{m['peak_added_bytes'] / 2**20:.0f} MiB"
            )
    print("\n## The training step's GFLOP/s against the machine's GEMM rate\n")
    print_settings(report["step_rates"])


def main(argv=None):
    args = parse_args(argv)
    X, source = load_rows(args)
    env = environment("cpu")
    report = {
        "data": source,
        "shape": list(X.shape),
        "setting": {"width": WIDTH, "level": LEVEL, "batch_size": BATCH},
        "environment": env,
    }
    if args.under_load:
        epochs = 1 if args.smoke else 2
        report["under_load"] = under_load_report(
            X[: args.load_rows],
            rounds=1 if args.smoke else 3,
            loaded_rounds=1 if args.smoke else 3,
            base=args.base,
            epochs=epochs,
            imputer_epochs=5 if args.smoke else 300,
            base_rounds=2 if args.smoke else 16,
        )
        print_under_load(report["under_load"], min(args.load_rows, len(X)), epochs)
        print(machine_line(env))
    elif not args.gpu_only:
        report.update(cpu_report(X, source, args.rounds))
        print_cpu_report(report, X, source, args.rounds)
        print(machine_line(env))
    report["gpu"] = None
    if torch.cuda.is_available() and not args.under_load:
        report["gpu"] = gpu_report(X, args.gpu_epochs, args.cpu_epochs)
        print_gpu_report(report["gpu"])
    elif args.gpu_only:
        print("No CUDA device is visible: no GPU section to run.", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
