r"""Out-of-core training: ``partial_fit`` over chunks of a ``numpy.memmap``.

Writes ``--rows`` x 784 float32 rows to a file (once), then trains the reference
DAE with one ``partial_fit`` per chunk of ``--chunk-rows`` rows, for ``--passes``
passes, reading the file through a read-only memmap. Prints the file size, the
time and this process's peak resident memory.

To show that the file may exceed the memory the process is given, run it in a
memory-limited cgroup (Linux, cgroup v1, as root), e.g. with 1 GiB:

    cg=/sys/fs/cgroup/memory/dae && mkdir $cg && echo 1G > $cg/memory.limit_in_bytes
    sh -c "echo \$\$ > $cg/cgroup.procs && exec python benchmarks/out_of_core.py"
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from env_info import environment, machine_line, peak_rss_bytes

from sk_dae import DenoisingAutoencoderTransformer


def write_rows(path, rows, features, block=100_000):
    """Random rows in [0, 1], written block by block (never all in memory)."""
    out = np.memmap(path, dtype=np.float32, mode="w+", shape=(rows, features))
    rng = np.random.default_rng(0)
    for start in range(0, rows, block):
        stop = min(rows, start + block)
        out[start:stop] = rng.random((stop - start, features), dtype=np.float32)
    out.flush()
    del out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--file", help="where to keep the rows (default: a temp file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.file or Path(tmp) / "rows.f32")
        if not path.exists():
            write_rows(path, args.rows, args.features)
        shape = (args.rows, args.features)
        X = np.memmap(path, dtype=np.float32, mode="r", shape=shape)
        dae = DenoisingAutoencoderTransformer(random_state=0, device="cpu")
        start = time.perf_counter()
        for _ in range(args.passes):
            for first in range(0, args.rows, args.chunk_rows):
                dae.partial_fit(X[first : first + args.chunk_rows])
        seconds = time.perf_counter() - start
        codes = dae.transform(X[:1000])
    peak = peak_rss_bytes()
    print(
        f"partial_fit over a {X.nbytes / 2**30:.2f} GiB memmap in chunks of "
        f"{args.chunk_rows} rows, {args.passes} pass(es): {seconds:.0f} s; "
        f"peak RSS {peak / 2**30:.2f} GiB; codes finite: {np.isfinite(codes).all()}"
    )
    print(machine_line(environment("cpu")))


if __name__ == "__main__":
    main()
