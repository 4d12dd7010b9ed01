"""Would ``torch.compile`` make sk_dae's training step faster on the CPU?

Issue #33 asked to try it where its compile time is repaid within the fit.
This script times, in turns, one pass over the same rows (batch 100, masking
0.3, squared error, Adam at 1e-3, sigmoid codes, untied 784-H-784) by:

- ``partial_fit`` of ``DenoisingAutoencoderTransformer`` (this project, its
  input checks included);
- a minimal torch step, eager (``reference_loop.py``'s arithmetic);
- the same step under ``torch.compile`` (inductor: the forward, the backward
  and Adam's update, fused where it can), after its compile, whose seconds
  are printed beside.

It prints each one's milliseconds per step (medians over rounds) and the
median over rounds of sk_dae's time over each, per width; where
``torch.compile`` cannot compile (inductor needs a C++ compiler), the reason.

    python benchmarks/compile_trial.py                   # widths 100 and 2000
    python benchmarks/compile_trial.py --smoke           # seconds
"""

import argparse
import statistics
import time

import torch
from env_info import environment, machine_line

from sk_dae import DenoisingAutoencoderTransformer

BATCH, LEVEL, N_FEATURES = 100, 0.3, 784


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[100, 2000])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.widths, args.rows, args.rounds = [16], 400, 1
    return args


class Autoencoder(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.encoder = torch.nn.Linear(N_FEATURES, width)
        self.decoder = torch.nn.Linear(width, N_FEATURES)

    def forward(self, x):
        return self.decoder(torch.sigmoid(self.encoder(x)))


def torch_step(width, seed):
    """One training step on a batch: fresh masking noise, squared error to the
    clean batch, Adam."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = Autoencoder(width)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, noise):
        loss = torch.nn.functional.mse_loss(model(x * (noise > LEVEL)), x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    def run(x):  # the noise is drawn outside the compiled region
        return step(x, torch.rand(x.shape, generator=generator))

    return run, step


def one_pass(step, X):
    for start in range(0, len(X), BATCH):
        step(X[start : start + BATCH])


def compiled_step(width, seed, X):
    """The compiled step, and the seconds its compile took (its first calls)."""
    _, step = torch_step(width, seed)
    compiled = torch.compile(step)
    generator = torch.Generator().manual_seed(seed)

    def run(x):
        return compiled(x, torch.rand(x.shape, generator=generator))

    start = time.perf_counter()
    run(X[:BATCH])
    run(X[BATCH : 2 * BATCH])
    return run, time.perf_counter() - start


def trial(width, X, rounds):
    """Seconds per step of each trainer, in turns; the first round warms up."""
    Xn = X.numpy()
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(width,),
        corruption_level=LEVEL,
        max_epochs=1,
        random_state=0,
        device="cpu",
    ).fit(Xn)
    eager, _ = torch_step(width, 0)
    trainers = {
        "sk_dae partial_fit": lambda: dae.partial_fit(Xn),
        "torch eager": lambda: one_pass(eager, X),
    }
    try:
        compiled, compile_seconds = compiled_step(width, 0, X)
        trainers["torch.compile"] = lambda: one_pass(compiled, X)
    except Exception as exc:  # inductor needs a C++ compiler, for one
        compile_seconds = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
    steps = -(-len(X) // BATCH)
    seconds = {name: [] for name in trainers}
    for _ in range(rounds + 1):
        for name, run in trainers.items():
            start = time.perf_counter()
            run()
            seconds[name].append((time.perf_counter() - start) / steps)
    seconds = {name: s[1:] for name, s in seconds.items()}
    ours = seconds["sk_dae partial_fit"]
    return {
        "width": width,
        "compile_seconds": compile_seconds,
        "ms_per_step": {n: 1e3 * statistics.median(s) for n, s in seconds.items()},
        "sk_dae_over": {
            n: statistics.median(a / b for a, b in zip(ours, s, strict=True))
            for n, s in seconds.items()
        },
    }


def main(argv=None):
    args = parse_args(argv)
    X = torch.rand(args.rows, N_FEATURES, generator=torch.Generator().manual_seed(0))
    print(f"Machine: {machine_line(environment('cpu'))}\n")
    print(
        f"| width | trainer | ms / step (median of {args.rounds} rounds) | "
        "sk_dae / this (median of per-round ratios) |"
    )
    print("|---|---|---|---|")
    for width in args.widths:
        result = trial(width, X, args.rounds)
        for name, ms in result["ms_per_step"].items():
            ratio = result["sk_dae_over"][name]
            print(f"| {width} | {name} | {ms:.2f} | {ratio:.3f} |")
        compile_seconds = result["compile_seconds"]
        if isinstance(compile_seconds, str):  # the reason it could not compile
            print(f"\ntorch.compile at width {width} {compile_seconds}\n")
        else:
            cell = f"{compile_seconds:.1f} s"
            print(f"| {width} | (compile, first two steps) | {cell} | |")


if __name__ == "__main__":
    main()
