"""Peak memory of ``fit`` on a large float32 training set, against the data size.

Generates ``--rows`` x 784 float32 rows in [0, 1], fits one epoch of the reference
setting on the CPU, and prints the process's peak resident memory (everything:
interpreter, torch, the data and training) as a multiple of the data's size.

    python benchmarks/fit_memory.py --rows 1000000     # 3.1 GB of data
"""

import argparse
import time

import numpy as np
from env_info import environment, machine_line, peak_rss_bytes

from sk_dae import DenoisingAutoencoderTransformer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=784)
    args = parser.parse_args(argv)
    X = np.random.default_rng(0).random((args.rows, args.features), dtype=np.float32)
    start = time.perf_counter()
    DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(100,), max_epochs=1, device="cpu", random_state=0
    ).fit(X)
    fit_s = time.perf_counter() - start
    peak = peak_rss_bytes()
    print(
        f"fit of {args.rows} x {args.features} float32 ({X.nbytes / 2**30:.2f} GiB), "
        f"1 epoch in {fit_s:.0f} s: process peak RSS {peak / 2**30:.2f} GiB = "
        f"{peak / X.nbytes:.2f} x the data"
    )
    print(machine_line(environment("cpu")))


if __name__ == "__main__":
    main()
