"""How fast is training and featurization, against the obvious peers?

Side by side on the same data and setting (the reference 784-100-784, sigmoid,
masking 0.3, squared error, Adam, batch 100), seconds per training epoch of:

- ``DenoisingAutoencoderTransformer.partial_fit`` (this project);
- scikit-learn's ``MLPRegressor.partial_fit``, from corrupted X to X;
- skorch's ``NeuralNetRegressor.partial_fit`` on the same torch module, default
  data path;
- one epoch of the minimal hand-written torch loop of ``reference_loop.py``;

the time of ``transform`` against ``PCA.transform`` at the same width, and the
peak memory that ``fit`` adds beyond the training data. The trainers take turns,
one epoch each per round, after a warm-up round; the ratios are medians over the
rounds of this project's time over each peer's in the same round. Prints them
and writes ``speed.json``. With CUDA, also samples per second on the
GPU and the share of the GPU's measured matrix-product throughput that training
reaches at batch 4096 and 784-1000-784.

    python benchmarks/speed.py                    # Fashion-MNIST train set
    python benchmarks/speed.py --smoke            # seconds, synthetic data
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
from reference_loop import Autoencoder, ReferenceLoop
from sklearn.decomposition import PCA
from sklearn.neural_network import MLPRegressor
from skorch import NeuralNetRegressor

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
    args = parser.parse_args(argv)
    if args.smoke:
        args.n_rows, args.rounds = 1000, 1
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
    def __init__(self, X, device="cpu", width=WIDTH, batch_size=BATCH):
        self.X = X
        self.model = DenoisingAutoencoderTransformer(
            hidden_layer_sizes=(width,),
            corruption_level=LEVEL,
            batch_size=batch_size,
            device=device,
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
    def __init__(self, X, device="cpu"):
        self.loop = ReferenceLoop(torch.from_numpy(X).to(device), WIDTH)

    def epoch(self):
        self.loop.epoch()


def round_robin(trainers, rounds, device="cpu"):
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
            if device != "cpu":
                torch.cuda.synchronize()
            seconds[name].append(time.perf_counter() - start)
    return {name: s[1:] for name, s in seconds.items()}


def ratios(seconds, ours="sk_dae"):
    """Median over rounds of this project's epoch time over each peer's."""
    return {
        name: statistics.median(a / b for a, b in zip(seconds[ours], s, strict=True))
        for name, s in seconds.items()
    }


def time_transform(X, repeats=3):
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(WIDTH,), max_epochs=1, random_state=0, device="cpu"
    ).fit(X[:2000])
    pca = PCA(WIDTH, random_state=0).fit(X[:2000])
    out = {}
    for name, model in (("sk_dae", dae), ("pca", pca)):
        durations = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.transform(X)
            durations.append(time.perf_counter() - start)
        out[name] = statistics.median(durations)
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


def matmul_tflops(device, shape=(4096, 784, 1000), repeats=50):
    """fp32 matrix-product throughput of the GPU, at the shapes training uses."""
    m, k, n = shape
    a = torch.randn(m, k, device=device)
    b = torch.randn(k, n, device=device)
    for _ in range(5):
        a @ b
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize(device)
    return 2 * m * k * n * repeats / (time.perf_counter() - start) / 1e12


def gpu_report(X, rounds, cpu_epoch_s):
    """Batch 100 against the CPU, and batch 4096 at 784-1000-784 against the
    GPU's own matrix-product throughput."""
    device = "cuda"
    seconds = round_robin(
        {
            "batch100": SkDae(X, device),
            "batch4096": SkDae(X, device, width=1000, batch_size=4096),
        },
        rounds,
        device,
    )
    small = statistics.median(seconds["batch100"])
    big = statistics.median(seconds["batch4096"])
    # Per sample: 2 forward products and 3 backward ones (no input gradient),
    # each 2 * 784 * 1000 flops.
    flops_per_sample = 5 * 2 * X.shape[1] * 1000
    achieved = flops_per_sample * len(X) / big / 1e12
    peak = matmul_tflops(device)
    return {
        "gpu": torch.cuda.get_device_name(),
        "seconds_per_epoch": seconds,
        "batch100_seconds_per_epoch": small,
        "batch100_speedup_over_cpu": cpu_epoch_s / small,
        "batch100_samples_per_s": len(X) / small,
        "batch4096_width1000_seconds_per_epoch": big,
        "batch4096_samples_per_s": len(X) / big,
        "batch4096_tflops": achieved,
        "matmul_tflops": peak,
        "share_of_matmul_throughput": achieved / peak,
    }


def main(argv=None):
    args = parse_args(argv)
    X, source = load_rows(args)
    env = environment("cpu")
    epochs = round_robin(
        {
            "sk_dae": SkDae(X),
            "MLPRegressor": MLP(X),
            "skorch NeuralNetRegressor": Skorch(X),
            "hand-written torch loop": Reference(X),
        },
        args.rounds,
    )
    seconds = {name: statistics.median(s) for name, s in epochs.items()}
    ratio = ratios(epochs)
    transform = time_transform(X)
    memory = fit_memory(X)
    gpu = None
    if torch.cuda.is_available():
        gpu = gpu_report(X, args.rounds, seconds["sk_dae"])
    report = {
        "gpu": gpu,
        "data": source,
        "shape": list(X.shape),
        "setting": {"width": WIDTH, "level": LEVEL, "batch_size": BATCH},
        "cpu_seconds_per_epoch": seconds,
        "cpu_epoch_seconds_by_round": epochs,
        "ratios_sk_dae_over": ratio,
        "transform_seconds": transform,
        "transform_ratio_over_pca": transform["sk_dae"] / transform["pca"],
        "fit_memory": memory,
        "environment": env,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(report, indent=2))
    print(
        f"### Seconds per epoch, {source} {X.shape[0]} x {X.shape[1]} "
        f"(medians of {args.rounds} rounds)\n"
    )
    print("| trainer | s / epoch | sk_dae / this (median of per-round ratios) |")
    print("|---|---|---|")
    for name, s in seconds.items():
        print(f"| {name} | {s:.3f} | {ratio[name]:.2f} |")
    print(
        f"\ntransform of {X.shape[0]} rows: sk_dae {transform['sk_dae']:.3f} s, "
        f"PCA({WIDTH}) {transform['pca']:.3f} s, ratio "
        f"{report['transform_ratio_over_pca']:.2f}"
    )
    for dtype, m in memory.items():
        if m["peak_added_bytes"] is not None:
            print(
                f"fit on {dtype} X ({m['data_bytes'] / 2**20:.0f} MiB): peak RSS "
                f"+{m['peak_added_bytes'] / 2**20:.0f} MiB"
            )
    if gpu:
        print(
            f"\nGPU {gpu['gpu']}: batch 100 {gpu['batch100_seconds_per_epoch']:.3f} "
            f"s/epoch ({gpu['batch100_speedup_over_cpu']:.1f} x the CPU); batch "
            f"4096, 784-1000-784: {gpu['batch4096_samples_per_s']:.0f} samples/s, "
            f"{gpu['batch4096_tflops']:.1f} TFLOP/s = "
            f"{gpu['share_of_matmul_throughput']:.0%} of the measured fp32 "
            f"matrix-product throughput ({gpu['matmul_tflops']:.1f} TFLOP/s)"
        )
    print(machine_line(env))
    return report


if __name__ == "__main__":
    main()
