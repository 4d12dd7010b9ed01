"""Does a partial_fit call cost the same after thousands of calls as at first?

Streams one small batch per ``partial_fit`` call (digits: 100 rows of 64
pixels, a 64 -> 32 transformer, CPU) for ``--calls`` calls, and times each
call whole (input checks, building the net, the epoch, the bookkeeping). A
call whose cost grows with the calls before it (a copy of the whole history,
say) makes the stream quadratic; the script prints the median call of the
first 200 and of the last 200, and their ratio. The machine's speed drifts
over a run, so the first 200 calls are timed again, on a fresh model whose
calls run in turns with the last 200: the ratio is last over that.

With a second checkout (``base``), each streams in a process of its own, one
after the other: in one process, the garbage collector's passes over the
other model's objects would slow both. The ratio of each is taken within its
own run.

    python benchmarks/partial_fit_stream.py                 # this checkout
    git worktree add /tmp/base d1ea5c7
    python benchmarks/partial_fit_stream.py --base /tmp/base
"""

import argparse
import json
import statistics
import subprocess
import sys
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
    parser.add_argument(
        "--stream", help="stream this checkout's calls alone, print JSON (internal)"
    )
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


def stream(checkout, args):
    """Seconds of each call of a stream, streamed with ``checkout``'s package
    ("this": the one installed here), and of the first calls of a second,
    fresh stream that runs in turns with the last calls of the first: the
    machine's speed drifts over a run, so the first calls are timed again
    beside the last ones."""
    X = load_digits().data.astype(np.float32) / 16
    window = min(args.window, args.calls // 2)
    with tempfile.TemporaryDirectory() as folder:
        package = sk_dae if checkout == "this" else import_base(checkout, folder)
        long_stream, fresh = model(package), model(package)
        seconds = {"long": [], "fresh": []}
        for k in range(args.calls):
            turn = [("long", long_stream, k)]
            if k >= args.calls - window:
                fresh_turn = ("fresh", fresh, k - (args.calls - window))
                turn = [*turn, fresh_turn] if k % 2 else [fresh_turn, *turn]
            for name, dae, call in turn:
                start_row = (call * args.batch) % (len(X) - args.batch)
                batch = X[start_row : start_row + args.batch]
                start = time.perf_counter()
                dae.partial_fit(batch)
                seconds[name].append(time.perf_counter() - start)
    return seconds


def report(name, seconds, window):
    first = statistics.median(seconds["long"][:window])
    again = statistics.median(seconds["fresh"])
    last = statistics.median(seconds["long"][-window:])
    return {
        "checkout": name,
        "first_ms": 1e3 * first,
        "first_again_ms": 1e3 * again,
        "last_ms": 1e3 * last,
        "last_over_first": last / again,
    }


def main(argv=None):
    args = parse_args(argv)
    if args.stream:
        print(json.dumps(stream(args.stream, args)))
        return None
    checkouts = {"this": "this"} | ({"base": args.base} if args.base else {})
    window = min(args.window, args.calls // 2)
    rows = []
    for name, checkout in checkouts.items():
        command = [sys.executable, __file__, "--stream", checkout]
        command += ["--calls", str(args.calls), "--batch", str(args.batch)]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(report(name, json.loads(out.stdout), window))
    print(
        f"{args.calls} partial_fit calls of {args.batch} x 64 rows, 64 -> 32, "
        f"each checkout in its own process. Median call of the first {window} "
        f"calls; of the first {window} again, of a fresh stream run in turns "
        f"with the last {window}; of the last {window}:\n"
    )
    print(
        "| checkout | first (ms) | first again (ms) | last (ms) | last / first again |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['checkout']} | {row['first_ms']:.2f} "
            f"| {row['first_again_ms']:.2f} | {row['last_ms']:.2f} "
            f"| {row['last_over_first']:.2f} |"
        )
    print()
    print(machine_line(environment("cpu")))
    return rows


if __name__ == "__main__":
    main()
