"""Scale-out on Dask: grid-search wall time against the number of workers, and
featurization of a dataset larger than the workers' memory.

1. ``GridSearchCV`` of a DAE + SVC pipeline on digits (8 candidates x 3 folds)
   in-process (``n_jobs=1``), then through joblib's dask backend on a
   ``LocalCluster`` of 1, 2 and 4 single-threaded worker processes.
2. ``sk_dae.dask.transform_blocks`` over a lazily generated float32 dask array
   several times larger than the workers' memory limit, reduced to the codes'
   column means so that nothing large is gathered.

Prints a table, writes ``scale.json``.

    python benchmarks/scale.py
    python benchmarks/scale.py --smoke
"""

import argparse
import json
import time
from pathlib import Path

import dask.array as da
import distributed
import joblib
import numpy as np
from env_info import environment, machine_line
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae.dask import transform_blocks
from sk_dae.datasets import load_digits_split


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rows", type=int, default=2_000_000, help="featurized rows")
    parser.add_argument("--memory-limit", default="1GiB", help="per worker")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    if args.smoke:
        args.workers, args.rows = [1, 2], 20_000
    return args


def _cluster(n_workers, memory_limit="auto"):
    return distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=memory_limit,
    )


def grid_search_times(workers, smoke):
    X, y, _, _ = load_digits_split()
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(64,), max_epochs=2 if smoke else 10, random_state=0
    )
    pipe = Pipeline([("dae", dae), ("svm", SVC())])
    grid = {
        "dae__corruption": ["mask", "swap"],
        "dae__corruption_level": [0.0, 0.3] if smoke else [0.0, 0.1, 0.3, 0.5],
    }
    start = time.perf_counter()
    reference = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    n_fits = 3 * len(reference.cv_results_["params"])
    times = {"in-process": time.perf_counter() - start}
    for n in workers:
        with _cluster(n) as cluster, distributed.Client(cluster):
            start = time.perf_counter()
            with joblib.parallel_backend("dask"):
                search = GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y)
            times[f"{n} workers"] = time.perf_counter() - start
        # Workers train with one thread each: float32 rounding may flip a
        # borderline prediction, not more.
        same = np.allclose(
            search.cv_results_["mean_test_score"],
            reference.cv_results_["mean_test_score"],
            atol=0.01,
        )
        if not same:
            raise AssertionError(f"{n} workers gave other scores than in-process")
    return times, n_fits


def featurization(rows, memory_limit, n_workers=2, chunk_rows=20_000):
    rng = np.random.default_rng(0)
    model = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(100,), max_epochs=1, random_state=0, device="cpu"
    ).fit(rng.random((5000, 784), dtype=np.float32))
    X = da.random.default_rng(0).random((rows, 784), chunks=(chunk_rows, 784))
    X = X.astype(np.float32)
    with _cluster(n_workers, memory_limit) as cluster, distributed.Client(cluster):
        start = time.perf_counter()
        means = transform_blocks(model, X).mean(axis=0).compute()
        seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "data_bytes": rows * 784 * 4,
        "workers": n_workers,
        "memory_limit_per_worker": memory_limit,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "codes_finite": bool(np.all(np.isfinite(means))),
    }


def main(argv=None):
    args = parse_args(argv)
    times, n_fits = grid_search_times(args.workers, args.smoke)
    feat = featurization(args.rows, args.memory_limit)
    env = environment("cpu")
    report = {
        "grid_search_fits": n_fits,
        "grid_search_seconds": times,
        "featurization": feat,
        "environment": env,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(report, indent=2))
    print(f"| grid search ({n_fits} fits of DAE + SVC on digits) | wall time (s) |")
    print("|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.1f} |")
    print(
        f"\nfeaturization: {feat['rows']} x 784 float32 "
        f"({feat['data_bytes'] / 2**30:.2f} GiB) on {feat['workers']} workers of "
        f"{feat['memory_limit_per_worker']}: {feat['seconds']:.1f} s, "
        f"{feat['rows_per_s']:.0f} rows/s"
    )
    print(machine_line(env))
    return report


if __name__ == "__main__":
    main()
