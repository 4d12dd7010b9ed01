"""What does an ensemble of autoencoders cost, trained as one network?

Issue #32 asked for ``n_estimators`` members in one network, their weights
stacked ``[members, in, out]``, and to measure hand-batched matrix products
against ``torch.func.stack_module_state`` with ``vmap``. This script times, in
turns, one training step (masking 0.3 on a fresh batch, squared error to the
clean batch, backward, Adam) at the imputer's default shape for a table of
``--columns`` columns (three layers of ``max(2 * columns, 64)`` relu units,
batch 64):

- ``one``: one :class:`~sk_dae.modules.StackedDenoisingAutoencoder`;
- ``bmm``: :class:`~sk_dae.modules.StackEnsemble` of ``--members`` members
  (``torch.baddbmm`` per layer), on the batch repeated once per member;
- ``vmap``: the same members as separate stacks, their parameters stacked by
  ``torch.func.stack_module_state`` and run by ``torch.func.vmap`` over
  ``functional_call``;
- ``loop``: the members' steps one after the other (what separate fits cost).

It prints each one's milliseconds per step (median over rounds) and, per
round, its time over ``one``'s (median over rounds). Then, end to end, the
time of ``DenoisingAutoencoderImputer(n_estimators=k).fit`` on a ``--rows``
table with 30% holes, for k = 1, 3 and 5 (in turns), over k = 1's.

    python benchmarks/ensemble.py                  # steps, then fits
    python benchmarks/ensemble.py --smoke          # seconds
"""

import argparse
import copy
import statistics
import time

import numpy as np
import torch
from env_info import environment, machine_line
from torch.func import functional_call, stack_module_state, vmap

from sk_dae import DenoisingAutoencoderImputer
from sk_dae._imputer import _auto_layers
from sk_dae.modules import StackedDenoisingAutoencoder, StackEnsemble

BATCH, LEVEL = 64, 0.3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", type=int, default=13)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200, help="steps a round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--rows", type=int, default=1000, help="of the fits")
    parser.add_argument("--fit-rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.rounds, args.rows, args.fit_rounds = 3, 1, 120, 1
    return args


def _masked(x, generator):
    keep = torch.rand(x.shape, generator=generator) >= LEVEL
    return x * keep


def _training_step(module, copies=1):
    """A step of ``module`` on a batch repeated ``copies`` times: fresh
    masking, squared error to the clean copies, backward, fused Adam."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)
    generator = torch.Generator().manual_seed(0)

    def step(x):
        if copies > 1:
            x = x.repeat(1, copies)
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(module(_masked(x, generator)), x)
        loss.backward()
        optimizer.step()

    return step


def one_step(args):
    """A step of one stack."""
    layers = _auto_layers(args.columns)
    return _training_step(
        StackedDenoisingAutoencoder(args.columns, layers, activation="relu")
    )


def bmm_step(args):
    """A step of the members in one StackEnsemble, on the batch repeated."""
    m, layers = args.members, _auto_layers(args.columns)
    ensemble = StackEnsemble(m * args.columns, layers, n_members=m, activation="relu")
    return _training_step(ensemble, copies=m)


def vmap_step(args):
    """A step of the members as separate stacks under vmap."""
    members = [
        StackedDenoisingAutoencoder(
            args.columns, _auto_layers(args.columns), activation="relu", init_seed=s
        )
        for s in range(args.members)
    ]
    params, buffers = stack_module_state(members)
    base = copy.deepcopy(members[0]).to("meta")
    optimizer = torch.optim.Adam(list(params.values()), lr=1e-3, fused=True)
    generator = torch.Generator().manual_seed(0)

    def member(p, b, x):
        return functional_call(base, (p, b), (x,))

    batched = vmap(member)

    def step(x):
        x = x.expand(args.members, *x.shape)
        optimizer.zero_grad(set_to_none=True)
        out = batched(params, buffers, _masked(x, generator))
        loss = torch.nn.functional.mse_loss(out, x)
        loss.backward()
        optimizer.step()

    return step


def loop_step(args):
    """The members' steps one after the other."""
    steps = [one_step(args) for _ in range(args.members)]

    def step(x):
        for s in steps:
            s(x)

    return step


def time_steps(args):
    """Milliseconds per step of each way, in turns; and each one's time over
    ``one``'s, median over rounds."""
    ways = {"one": one_step, "bmm": bmm_step, "vmap": vmap_step, "loop": loop_step}
    steps = {name: make(args) for name, make in ways.items()}
    x = torch.rand(BATCH, args.columns)
    for step in steps.values():  # warm up
        for _ in range(3):
            step(x)
    times = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step(x)
            times[name].append((time.perf_counter() - start) / args.steps)
    return times


def _holed(rows, columns, seed=0):
    """A table of 5 latent factors, non-linearly mixed, with 30% holes."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((rows, 5))
    X = np.tanh(latent @ rng.standard_normal((5, columns)))
    X += 0.1 * rng.standard_normal(X.shape)
    X[rng.random(X.shape) < 0.3] = np.nan
    return X


def time_fits(args):
    """Seconds of the imputer's fit at n_estimators 1, 3 and 5, in turns."""
    X = _holed(args.rows, args.columns)
    counts = (1, 3, 5)
    times = {k: [] for k in counts}
    for _ in range(args.fit_rounds):
        for k in counts:
            imputer = DenoisingAutoencoderImputer(
                n_estimators=k,
                random_state=0,
                **({"max_epochs": 2} if args.smoke else {}),
            )
            start = time.perf_counter()
            imputer.fit(X)
            times[k].append(time.perf_counter() - start)
    return times


def _ratios(times, base):
    return {
        name: statistics.median(t / b for t, b in zip(ts, times[base], strict=True))
        for name, ts in times.items()
    }


def main(argv=None):
    args = parse_args(argv)
    print(f"# Ensembles, {machine_line(environment('cpu'))}")
    print(
        f"\nOne training step, {args.columns} columns, layers "
        f"{_auto_layers(args.columns)}, batch {BATCH}, {args.members} members "
        f"({args.rounds} rounds of {args.steps} steps, in turns)\n"
    )
    times = time_steps(args)
    ratios = _ratios(times, "one")
    print("| way | ms per step | over one stack's |\n|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {1e3 * statistics.median(ts):.3f} | {ratios[name]:.2f} |")
    fits = time_fits(args)
    fit_ratios = _ratios(fits, 1)
    print(
        f"\nDenoisingAutoencoderImputer().fit, {args.rows} x {args.columns}, 30% "
        f"holes ({args.fit_rounds} rounds, in turns)\n"
    )
    print("| n_estimators | seconds | over one member's |\n|---|---|---|")
    for k, ts in fits.items():
        print(f"| {k} | {statistics.median(ts):.2f} | {fit_ratios[k]:.2f} |")
    return {"steps": times, "fits": fits}


if __name__ == "__main__":
    main()
