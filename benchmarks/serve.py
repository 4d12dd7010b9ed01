"""How fast does a fitted DAE serve features? onnxruntime against ``transform``.

One process, on the CPU. A DenoisingAutoencoderTransformer (784 -> 100 on
Fashion-MNIST, the reference setting, or 64 -> 100 on digits) is fitted for a
few epochs (speed does not depend on how well it is trained), exported with
``skl2onnx.to_onnx`` through ``sk_dae.onnx``, and then serves float32 test rows
at 1, 32 and 1,024 rows per call, two ways:

- ``transform``: the estimator's own method, in Python (input checks, torch);
- ``onnxruntime``: ``InferenceSession.run`` on the exported graph;
- ``torch encode``, for reference: the fitted torch module's ``encode`` on a
  tensor, under ``no_grad``, with no input checks (what ``transform`` costs
  beyond it is Python around the product).

The two run in turns (A, B, A, B, ...) for ``--rounds`` rounds of at least
``--round-s`` seconds each. Latency is the median time of one call over all
calls; throughput is rows per call over that median; the speed-up is the median
over rounds of the per-round ratio of mean call times, the one figure that the
noise of a shared machine does not move much. Both use their default thread
counts (printed) unless ``--threads`` sets both.

Output: a markdown table on stdout and ``serve.json``.

    python benchmarks/serve.py --dataset fashion-mnist
    python benchmarks/serve.py                           # digits
    python benchmarks/serve.py --smoke                   # seconds
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skl2onnx
import torch
from env_info import environment, machine_line

import sk_dae.onnx  # noqa: F401  (registers the converters)
from sk_dae import DenoisingAutoencoderTransformer
from sk_dae.datasets import load_dataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dataset", default="digits", choices=["digits", "fashion-mnist"]
    )
    parser.add_argument("--hidden", type=int, default=100, help="code width")
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 32, 1024])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--round-s", type=float, default=0.4)
    parser.add_argument(
        "--threads", type=int, default=None, help="threads of both (default: theirs)"
    )
    parser.add_argument("--out", default="results")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n_train, args.epochs, args.rounds, args.round_s = 500, 1, 3, 0.02
    return args


def fitted_model(args):
    X_train, _, X_test, _ = load_dataset(args.dataset, n_train=args.n_train)
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(args.hidden,),
        max_epochs=args.epochs,
        device="cpu",
        random_state=0,
    ).fit(X_train)
    return dae, np.ascontiguousarray(X_test, dtype=np.float32)


def session(dae, X, threads):
    onx = skl2onnx.to_onnx(dae, X[:1])
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    sess = ort.InferenceSession(
        onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    name = sess.get_inputs()[0].name
    return (lambda rows: sess.run(None, {name: rows})[0]), len(onx.SerializeToString())


def bare_encode(dae):
    module = dae.net_.module_

    def encode(rows):
        with torch.no_grad():
            return module.encode(torch.from_numpy(rows)).numpy()

    return encode


def _timed_round(call, rows, seconds):
    """Per-call times of one round of at least ``seconds``."""
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 3:
        start = time.perf_counter()
        call(rows)
        times.append(time.perf_counter() - start)
    return times


def measure(calls, rows, args):
    """Call times per method, over rounds run in turns."""
    for call in calls.values():  # warm up: first-call allocations, lazy init
        call(rows)
    times = {name: [] for name in calls}
    ratios = []
    for _ in range(args.rounds):
        means = {}
        for name, call in calls.items():
            round_times = _timed_round(call, rows, args.round_s)
            times[name] += round_times
            means[name] = np.mean(round_times)
        ratios.append(means["transform"] / means["onnxruntime"])
    return times, float(np.median(ratios))


def run(args):
    dae, X = fitted_model(args)
    onnx_run, onnx_bytes = session(dae, X, args.threads)
    rows_all = np.tile(X, (max(1, -(-max(args.rows) // len(X))), 1))
    gap = float(np.abs(onnx_run(X) - dae.transform(X)).max())
    calls = {
        "transform": dae.transform,
        "onnxruntime": onnx_run,
        "torch encode": bare_encode(dae),
    }
    results = []
    for n in args.rows:
        times, speedup = measure(calls, np.ascontiguousarray(rows_all[:n]), args)
        row = {"rows": n, "speedup": speedup}
        for name, values in times.items():
            latency = float(np.median(values))
            row[name] = {
                "calls": len(values),
                "median_s": latency,
                "p99_s": float(np.percentile(values, 99)),
                "rows_per_s": n / latency,
            }
        results.append(row)
    model = {
        "n_features": X.shape[1],
        "hidden": args.hidden,
        "onnx_bytes": onnx_bytes,
        "max_abs_difference": gap,
    }
    return model, results


def _us(seconds):
    return f"{seconds * 1e6:,.0f}"


def markdown_table(results):
    lines = [
        "| rows per call | transform: median (p99) µs | onnxruntime: median (p99) µs "
        "| transform rows/s | onnxruntime rows/s | onnxruntime speed-up "
        "| torch encode: median µs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t, o = r["transform"], r["onnxruntime"]
        lines.append(
            f"| {r['rows']:,} | {_us(t['median_s'])} ({_us(t['p99_s'])}) "
            f"| {_us(o['median_s'])} ({_us(o['p99_s'])}) "
            f"| {t['rows_per_s']:,.0f} | {o['rows_per_s']:,.0f} "
            f"| {r['speedup']:.1f}x | {_us(r['torch encode']['median_s'])} |"
        )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)  # this process only
    model, results = run(args)
    env = environment("cpu")
    env["onnxruntime"] = ort.__version__
    env["skl2onnx"] = skl2onnx.__version__
    env["onnxruntime_threads"] = args.threads or "default"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "args": vars(args),
        "model": model,
        "environment": env,
        "results": results,
    }
    (out / "serve.json").write_text(json.dumps(report, indent=2))
    print(
        f"### Serving {model['n_features']} -> {model['hidden']} features "
        f"({args.dataset}), float32, one process\n"
    )
    print(markdown_table(results))
    print(
        f"\n{machine_line(env)}; onnxruntime {ort.__version__}; torch threads "
        f"{torch.get_num_threads()}, onnxruntime threads {env['onnxruntime_threads']}"
        f"; ONNX file {model['onnx_bytes']:,} bytes; largest difference "
        f"{model['max_abs_difference']:.1e}."
    )
    print(f"JSON in {out}/serve.json")
    return report


if __name__ == "__main__":
    main()
