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

``--autograd`` compares within this checkout instead: the hand-derived
gradients of a one-layer stage (``sk_dae._backprop``) against autograd on the
same model, to say whether they pay.

    git worktree add /tmp/base HEAD~3
    python benchmarks/ab_engine.py /tmp/base            # Fashion-MNIST
    python benchmarks/ab_engine.py /tmp/base --fashion --rounds 11
    python benchmarks/ab_engine.py --autograd           # hand-derived / autograd
    python benchmarks/ab_engine.py /tmp/base --smoke    # seconds, synthetic
"""

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
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
    parser.add_argument("--n-rows", type=int, default=60000)
    parser.add_argument(
        "--fashion", action="store_true", help="784-2000-784, bce (compare_features)"
    )
    parser.add_argument(
        "--autograd", action="store_true", help="hand-derived against autograd"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic run")
    args = parser.parse_args(argv)
    if args.base is None and not args.autograd:
        parser.error("give the other checkout, or --autograd")
    if args.smoke:
        args.rounds, args.n_rows = 2, 500
    return args


def import_base(checkout, folder):
    """The other checkout's package, imported as ``sk_dae_base``: its modules
    import each other relatively, so a renamed copy is self-contained."""
    shutil.copytree(Path(checkout) / "sk_dae", Path(folder) / "sk_dae_base")
    sys.path.insert(0, str(folder))
    return importlib.import_module("sk_dae_base")


def load_rows(args):
    if not args.smoke:
        try:
            return load_fashion_mnist()[0][: args.n_rows], "fashion-mnist"
        except FileNotFoundError as exc:
            print(f"{exc}\nUsing synthetic data instead.", file=sys.stderr)
    rng = np.random.default_rng(0)
    return rng.random((args.n_rows, 784), dtype=np.float32), "synthetic"


def model(package, X, fashion, autograd=False):
    setting = dict(hidden_layer_sizes=(2000,), loss="bce") if fashion else {}
    dae = package.DenoisingAutoencoderTransformer(
        **{"hidden_layer_sizes": (100,), **setting}, device="cpu", random_state=0
    )
    if autograd:
        # The net's switch, set on every net this estimator builds.
        build = dae._build_net

        def autograd_net(*args, **kwargs):
            net = build(*args, **kwargs)
            net.hand_derived = False
            return net

        dae._build_net = autograd_net
    dae.partial_fit(X[:1000])  # warm-up
    assert not autograd or dae.net_.hand_derived is False
    return dae


def main(argv=None):
    args = parse_args(argv)
    X, source = load_rows(args)
    with tempfile.TemporaryDirectory() as folder:
        other = (
            model(sk_dae, X, args.fashion, autograd=True)
            if args.autograd
            else model(import_base(args.base, folder), X, args.fashion)
        )
        models = {"this": model(sk_dae, X, args.fashion), "base": other}
        seconds = {name: [] for name in models}
        for r in range(args.rounds):
            for name in ("this", "base") if r % 2 == 0 else ("base", "this"):
                models[name].partial_fit(X)
                seconds[name].append(models[name].net_.history[-1]["dur"])
    ratios = [a / b for a, b in zip(seconds["this"], seconds["base"], strict=True)]
    low, _, high = (
        statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    )
    names = ("hand-derived", "autograd") if args.autograd else ("this checkout", "base")
    setting = "784-2000-784 bce" if args.fashion else "784-100-784 mse"
    print(
        f"{source} {X.shape[0]} x {X.shape[1]}, {setting}, {args.rounds} rounds: "
        f"{names[0]} {statistics.median(seconds['this']):.3f} s / epoch, "
        f"{names[1]} {statistics.median(seconds['base']):.3f} s; "
        f"{names[0]} / {names[1]}, median of "
        f"per-round ratios {statistics.median(ratios):.3f} (quartiles {low:.3f} "
        f"to {high:.3f})"
    )
    print(machine_line(environment("cpu")))
    return ratios


if __name__ == "__main__":
    main()
