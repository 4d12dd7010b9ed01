"""``speed.py --under-load``: how much slower does training get when other
processes keep the cores busy?

Times, quiet and under load, in turns within each condition:

- ``fit`` of the reference setting (784-100-784, batch 100, 2 epochs);
- ``DenoisingAutoencoderImputer().fit_transform`` on a small table (a seeded
  506 x 13 table of correlated columns, a fifth of it missing; the defaults,
  300 epochs);
- scikit-learn's ``MLPRegressor`` (2 epochs, its BLAS threads) and the
  hand-written torch loop of ``reference_loop.py`` (2 epochs, torch's default
  threads) on the same rows.

The load is a pure-Python busy loop per process, each started in a new session
(``start_new_session=True``), as another terminal or notebook would be: under
the kernel's autogroup scheduling, on by default, niceness does not lower
another session's share. Two loads: one busy process, and one per usable core.
The loads are stopped before the function returns.

With ``base`` (another checkout, e.g. the commit before the thread choice),
quiet ``fit`` calls of both checkouts then alternate for ``base_rounds``
rounds: the median of the per-round ratios of this checkout's over the
base's.
"""

import contextlib
import statistics
import subprocess
import sys
import tempfile
import time

import joblib
import numpy as np
import torch
from ab_engine import import_base
from reference_loop import ReferenceLoop
from sklearn.neural_network import MLPRegressor

import sk_dae

BUSY_LOOP = "while True:\n    pass\n"


@contextlib.contextmanager
def busy_processes(n):
    """``n`` CPU-bound processes, each in a session of its own."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUSY_LOOP],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    try:
        time.sleep(0.5)  # let them take their cores
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def small_table(rows=506, columns=13, missing=0.2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, columns)) @ rng.normal(size=(columns, columns))
    X[rng.random(X.shape) < missing] = np.nan
    return X


def workloads(X, table, package=sk_dae, epochs=2, imputer_epochs=300):
    """Name -> a function that runs the workload once."""
    masked = (X * (np.random.default_rng(0).random(X.shape) >= 0.3)).astype(np.float32)

    def fit():
        package.DenoisingAutoencoderTransformer(
            hidden_layer_sizes=(100,), max_epochs=epochs, device="cpu", random_state=0
        ).fit(X)

    def impute():
        on_cpu = package.DenoisingAutoencoderTransformer(device="cpu")
        package.DenoisingAutoencoderImputer(
            max_epochs=imputer_epochs, autoencoder=on_cpu, random_state=0
        ).fit_transform(table)

    def mlp():
        MLPRegressor(
            hidden_layer_sizes=(100,),
            activation="logistic",
            batch_size=100,
            max_iter=epochs,
            random_state=0,
        ).fit(masked, X)

    def torch_loop():
        loop = ReferenceLoop(torch.from_numpy(X))
        for _ in range(epochs):
            loop.epoch()

    return {
        "sk_dae fit": fit,
        "sk_dae imputer": impute,
        "MLPRegressor": mlp,
        "torch loop": torch_loop,
    }


def in_turns(jobs, rounds):
    """Seconds of each job, one run of each per round in turn; medians."""
    seconds = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            start = time.perf_counter()
            with warnings_silenced():
                job()
            seconds[name].append(time.perf_counter() - start)
    return seconds


@contextlib.contextmanager
def warnings_silenced():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLPRegressor's ConvergenceWarning
        yield


def under_load_report(
    X,
    rounds=3,
    base=None,
    loaded_rounds=3,
    epochs=2,
    imputer_epochs=300,
    base_rounds=16,
):
    """Quiet and loaded seconds of each workload, and their ratios."""
    table = small_table()
    cores = joblib.cpu_count()
    jobs = workloads(X, table, epochs=epochs, imputer_epochs=imputer_epochs)
    for job in jobs.values():  # warm up
        with warnings_silenced():
            job()
    quiet = in_turns(jobs, rounds)
    base_ratios = None
    if base:
        with tempfile.TemporaryDirectory() as folder:
            package = import_base(base, folder)
            base_fit = workloads(X, table, package, epochs, imputer_epochs)
            pair = {"this": jobs["sk_dae fit"], "base": base_fit["sk_dae fit"]}
            pair["base"]()  # warm up
            fits = in_turns(pair, base_rounds)
        base_ratios = [a / b for a, b in zip(fits["this"], fits["base"], strict=True)]
    loads = {"1 busy process": 1}
    if cores > 1:
        loads[f"{cores} busy processes"] = cores
    # The peers take a minute a run under load: they run once, sk_dae's
    # workloads loaded_rounds times.
    ours = {name: job for name, job in jobs.items() if name.startswith("sk_dae")}
    peers = {name: job for name, job in jobs.items() if name not in ours}
    loaded = {}
    for label, n in loads.items():
        with busy_processes(n):
            loaded[label] = in_turns(ours, loaded_rounds) | in_turns(peers, 1)
    rows = []
    for name in jobs:
        row = {"workload": name, "quiet_s": statistics.median(quiet[name])}
        for label in loads:
            seconds = statistics.median(loaded[label][name])
            row[label] = {"seconds": seconds, "over_quiet": seconds / row["quiet_s"]}
        rows.append(row)
    report = {
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "rounds": rounds,
        "loaded_rounds": loaded_rounds,
        "rows": rows,
        "loads": list(loads),
    }
    if base_ratios:
        report["base_rounds"] = len(base_ratios)
        report["quiet_fit_over_base"] = statistics.median(base_ratios)
        report["quiet_fit_over_base_quartiles"] = statistics.quantiles(base_ratios, n=4)
    return report


def print_under_load(report, n_rows, epochs):
    loads = report["loads"]
    print(
        f"\n### Under load: {report['cores']} usable cores, torch "
        f"{report['torch_threads']} threads; fit and the loops on {n_rows} rows, "
        f"{epochs} epochs; the imputer on 506 x 13. Medians of "
        f"{report['rounds']} quiet runs, and of {report['loaded_rounds']} "
        f"loaded runs of sk_dae's (one of each peer's)\n"
    )
    header = " | ".join(f"{label} (s) | x quiet" for label in loads)
    print(f"| workload | quiet (s) | {header} |")
    print("|---|---|" + "---|---|" * len(loads))
    for row in report["rows"]:
        cells = " | ".join(
            f"{row[label]['seconds']:.2f} | {row[label]['over_quiet']:.1f}"
            for label in loads
        )
        print(f"| {row['workload']} | {row['quiet_s']:.2f} | {cells} |")
    if "quiet_fit_over_base" in report:
        low, _, high = report["quiet_fit_over_base_quartiles"]
        print(
            f"\nQuiet fit, this checkout over the base, median of "
            f"{report['base_rounds']} per-round ratios: "
            f"{report['quiet_fit_over_base']:.3f} (quartiles {low:.3f} to {high:.3f})"
        )
