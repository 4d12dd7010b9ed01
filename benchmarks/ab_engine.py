"""Is this checkout's training epoch slower than another checkout's?

Loads the other checkout's ``sk_dae`` package into the same process under
another name, and trains both on the same data at the reference setting
(784-100-784, sigmoid, masking 0.3, squared error, Adam, batch 100, CPU), or
at the Fashion setting (``--fashion``: 784-2000-784, cross-entropy), one
``partial_fit`` epoch of each per round, in alternating order. Each epoch is
timed by skorch's history (``dur``: the epoch alone, without the input
checks). On a shared machine whose speed drifts by tens of percent within
seconds, only the ratio of the two epochs of one round is evidence: the script
prints the median over rounds of this checkout's epoch over the other's, with
its quartiles.

``--imputer`` times whole ``DenoisingAutoencoderImputer().fit`` calls
instead (the wall clock: the standardization, the thread choice, every epoch
and the final reconstruction), on a small synthetic table of 13 columns with
30% holes (``--n-rows``, 1,000 by default there), where a step's fixed cost
rather than its products sets the time: the imputer's default network is a
joint stack of three 64-unit relu layers (``--n-estimators``: that many of
them, as one ensemble). ``--table crabs`` (or another of ``impute.py
--unseen``'s R tables, which need ``Rscript``) takes that table instead,
standardized, with 30% of its entries removed.

``--autograd`` compares within this checkout instead: the hand-derived
gradients of the built-in modules (``sk_dae._backprop``) against autograd on
the same model, to say whether they pay.

    git worktree add /tmp/base HEAD~3
    python benchmarks/ab_engine.py /tmp/base            # Fashion-MNIST
    python benchmarks/ab_engine.py /tmp/base --fashion --rounds 11
    python benchmarks/ab_engine.py /tmp/base --imputer --rounds 11
    python benchmarks/ab_engine.py /tmp/base --imputer --n-estimators 5
    python benchmarks/ab_engine.py /tmp/base --imputer --table quakes
    python benchmarks/ab_engine.py --autograd           # hand-derived / autograd
    python benchmarks/ab_engine.py --autograd --imputer
    python benchmarks/ab_engine.py /tmp/base --smoke    # seconds, synthetic
"""

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from env_info import environment, machine_line

import sk_dae
from sk_dae.datasets import load_fashion_mnist


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "base", nargs="?", help="the other checkout (a folder holding sk_dae/)"
    )
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--n-rows", type=int, help="60,000, or 1,000 with --imputer")
    parser.add_argument(
        "--fashion", action="store_true", help="784-2000-784, bce (compare_features)"
    )
    parser.add_argument(
        "--imputer", action="store_true", help="the imputer's fit on a small table"
    )
    parser.add_argument(
        "--n-estimators", type=int, default=1, help="the imputer's members"
    )
    parser.add_argument(
        "--table", help="with --imputer: one of R's tables of impute.py --unseen"
    )
    parser.add_argument(
        "--autograd", action="store_true", help="hand-derived against autograd"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic run")
    args = parser.parse_args(argv)
    if args.base is None and not args.autograd:
        parser.error("give the other checkout, or --autograd")
    if args.n_rows is None:
        args.n_rows = 1000 if args.imputer else 60000
    if args.smoke:
        args.rounds, args.n_rows = 2, min(args.n_rows, 500)
    return args


def import_base(checkout, folder):
    """The other checkout's package, imported as ``sk_dae_base``: its modules
    import each other relatively, so a renamed copy is self-contained."""
    shutil.copytree(Path(checkout) / "sk_dae", Path(folder) / "sk_dae_base")
    sys.path.insert(0, str(folder))
    return importlib.import_module("sk_dae_base")


def load_rows(args):
    if args.imputer and args.table:
        X = unseen_table(args.table)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        return holed(X, np.random.default_rng(0)), args.table
    if args.imputer:
        return holed_table(args.n_rows), "synthetic table"
    if not args.smoke:
        try:
            return load_fashion_mnist()[0][: args.n_rows], "fashion-mnist"
        except FileNotFoundError as exc:
            print(f"{exc}\nUsing synthetic data instead.", file=sys.stderr)
    rng = np.random.default_rng(0)
    return rng.random((args.n_rows, 784), dtype=np.float32), "synthetic"


def holed_table(rows, columns=13, seed=0):
    """5 latent factors, non-linearly mixed, with 30% of the entries missing."""
    rng = np.random.default_rng(seed)
    X = np.tanh(rng.standard_normal((rows, 5)) @ rng.standard_normal((5, columns)))
    X += 0.1 * rng.standard_normal(X.shape)
    return holed(X, rng)


def holed(X, rng):
    """X with 30% of its entries missing (at random)."""
    X[rng.random(X.shape) < 0.3] = np.nan
    return X


def unseen_table(name):
    """One of R's tables of ``impute.py --unseen`` (needs Rscript)."""
    from impute import load_unseen  # the benchmark's own loader

    tables = load_unseen([name])
    if name not in tables:
        sys.exit(f"{name} could not be loaded (impute.py --unseen says why).")
    return tables[name][0]


def transformer_class(package, autograd):
    """The package's transformer, or a subclass whose nets (every one it
    builds) train through autograd."""
    base = package.DenoisingAutoencoderTransformer
    if not autograd:
        return base

    class AutogradTransformer(base):
        def _build_net(self, *args, **kwargs):
            net = super()._build_net(*args, **kwargs)
            net.hand_derived = False
            return net

    return AutogradTransformer


class EpochTrainer:
    """One ``partial_fit`` epoch of the transformer; its time is skorch's
    ``dur`` (the epoch alone, without the input checks)."""

    def __init__(self, package, X, fashion, autograd):
        setting = dict(hidden_layer_sizes=(2000,), loss="bce") if fashion else {}
        self.X = X
        self.dae = transformer_class(package, autograd)(
            **{"hidden_layer_sizes": (100,), **setting}, device="cpu", random_state=0
        )
        self.dae.partial_fit(X[:1000])  # warm-up
        assert self.dae.net_.hand_derived is not autograd

    def run(self):
        self.dae.partial_fit(self.X)
        return self.dae.net_.history[-1]["dur"]


class ImputerTrainer:
    """One whole ``fit`` of the default imputer; its time is the wall clock."""

    def __init__(self, package, X, autograd, n_estimators=1):
        self.X = X
        self.imputer = package.DenoisingAutoencoderImputer(
            autoencoder=transformer_class(package, autograd)(),
            n_estimators=n_estimators,
            random_state=0,
        )
        self.run()  # warm-up: the first fit of a process imports and probes
        assert self.imputer.autoencoder_.net_.hand_derived is not autograd

    def run(self):
        start = time.perf_counter()
        self.imputer.fit(self.X)
        return time.perf_counter() - start


def trainer(package, X, args, autograd=False):
    if args.imputer:
        return ImputerTrainer(package, X, autograd, args.n_estimators)
    return EpochTrainer(package, X, args.fashion, autograd)


def main(argv=None):
    args = parse_args(argv)
    X, source = load_rows(args)
    with tempfile.TemporaryDirectory() as folder:
        other = (
            trainer(sk_dae, X, args, autograd=True)
            if args.autograd
            else trainer(import_base(args.base, folder), X, args)
        )
        trainers = {"this": trainer(sk_dae, X, args), "base": other}
        seconds = {name: [] for name in trainers}
        for r in range(args.rounds):
            for name in ("this", "base") if r % 2 == 0 else ("base", "this"):
                seconds[name].append(trainers[name].run())
    ratios = [a / b for a, b in zip(seconds["this"], seconds["base"], strict=True)]
    low, _, high = (
        statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    )
    names = ("hand-derived", "autograd") if args.autograd else ("this checkout", "base")
    if args.imputer:
        members = f" of {args.n_estimators} members" if args.n_estimators > 1 else ""
        setting, unit = f"the imputer's fit{members}, 30% holes", "s / fit"
    else:
        setting = "784-2000-784 bce" if args.fashion else "784-100-784 mse"
        unit = "s / epoch"
    print(
        f"{source} {X.shape[0]} x {X.shape[1]}, {setting}, {args.rounds} rounds: "
        f"{names[0]} {statistics.median(seconds['this']):.3f} {unit}, "
        f"{names[1]} {statistics.median(seconds['base']):.3f} s; "
        f"{names[0]} / {names[1]}, median of "
        f"per-round ratios {statistics.median(ratios):.3f} (quartiles {low:.3f} "
        f"to {high:.3f})"
    )
    print(machine_line(environment("cpu")))
    return ratios


if __name__ == "__main__":
    main()
