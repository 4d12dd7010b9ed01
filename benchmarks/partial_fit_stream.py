"""Does a partial_fit call cost the same after thousands of calls as at first?

Streams one small batch per ``partial_fit`` call (digits: 100 rows of 64
pixels, a 64 -> 32 transformer, CPU) for ``--calls`` calls, and times each
call whole (input checks, building the net, the epoch, the bookkeeping). A
call whose cost grows with the calls before it (a copy of the whole history,
say) makes the stream quadratic; the script prints the median call of the
first 200 and of the last 200, and their ratio.

With a second checkout (``base``), both stream in the same process, one call
of each per round in alternating order, so that the machine's drift hits both
alike:

    python benchmarks/partial_fit_stream.py                 # this checkout
    git worktree add /tmp/base d1ea5c7
    python benchmarks/partial_fit_stream.py --base /tmp/base
"""

import argparse
import statistics
import tempfile
import time

import numpy as np
from ab_engine import import_base
from env_info import environment, machine_line
from sklearn.datasets import load_digits

import sk_dae


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="another checkout (a folder holding sk_dae/)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    return parser.parse_args(argv)


def model(package):
    return package.DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(32,),
        batch_size=100,
        max_epochs=1,
        device="cpu",
        random_state=0,
    )


def report(name, seconds, window):
    first = statistics.median(seconds[:window])
    last = statistics.median(seconds[-window:])
    return {
        "checkout": name,
        "first_ms": 1e3 * first,
        "last_ms": 1e3 * last,
        "last_over_first": last / first,
    }


def main(argv=None):
    args = parse_args(argv)
    X = load_digits().data.astype(np.float32) / 16
    batches = [
        X[(k * args.batch) % (len(X) - args.batch) :][: args.batch]
        for k in range(args.calls)
    ]
    with tempfile.TemporaryDirectory() as folder:
        models = {"this": model(sk_dae)}
        if args.base:
            models["base"] = model(import_base(args.base, folder))
        seconds = {name: [] for name in models}
        names = list(models)
        for k, batch in enumerate(batches):
            for name in names if k % 2 == 0 else names[::-1]:
                start = time.perf_counter()
                models[name].partial_fit(batch)
                seconds[name].append(time.perf_counter() - start)
    window = min(args.window, args.calls // 2)
    rows = [report(name, seconds[name], window) for name in names]
    print(
        f"{args.calls} partial_fit calls of {args.batch} x {X.shape[1]} rows, "
        f"64 -> 32; median call of the first and of the last {window}:\n"
    )
    print("| checkout | first (ms) | last (ms) | last / first |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['checkout']} | {row['first_ms']:.2f} | {row['last_ms']:.2f} "
            f"| {row['last_over_first']:.2f} |"
        )
    print()
    print(machine_line(environment("cpu")))
    return rows


if __name__ == "__main__":
    main()
