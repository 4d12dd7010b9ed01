"""Hostile input, property-based checks, safe loading and concurrency."""

import io
import json
import pickle
import threading
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skops.io as skops_io
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._callbacks import _Snapshot

X_UNIT = load_digits().data[:300] / 16.0
METHODS = [
    "fit",
    "partial_fit",
    "transform",
    "inverse_transform",
    "score",
    "score_samples",
]
FIT_METHODS = {"fit", "partial_fit"}


def _dae(**kwargs):
    params = dict(device="cpu", hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


@pytest.fixture(scope="module")
def fitted():
    return _dae().fit(X_UNIT)


def _with(value, rows=5, cols=64):
    X = np.full((rows, cols), 0.5)
    X[1, 2] = value
    return X


def _frame(X, names=None):
    return pd.DataFrame(X, columns=names or [f"c{i}" for i in range(X.shape[1])])


# Each bad input, and what the message must name. Inputs for inverse_transform
# are codes (width 8), for the other methods rows of 64 features.
BAD_INPUTS = {
    "nan": (lambda w: _with(np.nan, cols=w), "NaN"),
    "+inf": (lambda w: _with(np.inf, cols=w), "infinity"),
    "-inf": (lambda w: _with(-np.inf, cols=w), "infinity"),
    "sparse nan": (lambda w: sp.csr_matrix(_with(np.nan, cols=w)), "NaN"),
    "sparse inf": (lambda w: sp.csr_matrix(_with(np.inf, cols=w)), "infinity"),
    "0 rows": (lambda w: np.empty((0, w)), "0 sample"),
    "0 columns": (lambda w: np.empty((5, 0)), "0 feature"),
    # Strings are categories to a fresh fit; a model fitted on numbers refuses
    # them, naming the column.
    "strings": (
        lambda w: np.full((5, w), "a", dtype=object),
        "could not convert|fitted on numeric columns only",
    ),
    "complex": (lambda w: np.full((5, w), 1 + 1j), "[Cc]omplex"),
    "3-D": (lambda w: np.zeros((5, w, 2)), "dim 3"),
    "1-D": (lambda w: np.zeros(w), "2D array"),
}
# A fresh fit may change the width; every other method must refuse it.
WRONG_WIDTH = (lambda w: np.zeros((5, w + 1)), "features|width")


# NaN is a missing value for every method but inverse_transform, whose codes
# have none; X with every entry missing is refused by the methods that train.
NAN_ONLY_BAD_FOR = {"nan": {"inverse_transform"}, "sparse nan": {"inverse_transform"}}
NAN_ONLY_BAD_FOR["strings"] = set(METHODS) - {"fit"}
BAD_INPUTS["all missing"] = (lambda w: np.full((5, w), np.nan), "missing|NaN")
NAN_ONLY_BAD_FOR["all missing"] = FIT_METHODS | {"inverse_transform"}

CASES = [
    (case, m)
    for case in sorted(BAD_INPUTS)
    for m in METHODS
    if m in NAN_ONLY_BAD_FOR.get(case, METHODS)
] + [("wrong width", m) for m in METHODS if m != "fit"]


@pytest.mark.parametrize("case, method", CASES)
def test_bad_input_gets_a_clear_error_and_leaves_the_model_unchanged(
    case, method, fitted
):
    make, match = BAD_INPUTS.get(case, WRONG_WIDTH)
    width = 8 if method == "inverse_transform" else 64
    dae = pickle_copy(fitted)
    before = dae.transform(X_UNIT)
    with pytest.raises((ValueError, TypeError), match=match):
        getattr(dae, method)(make(width))
    np.testing.assert_array_equal(dae.transform(X_UNIT), before)
    assert dae.n_features_in_ == 64 and dae.n_iter_ == fitted.n_iter_


def pickle_copy(model):
    return pickle.loads(pickle.dumps(model))


@pytest.mark.parametrize(
    "make",
    [
        lambda: X_UNIT.astype(bool),
        lambda: (X_UNIT * 16).astype(np.int32),
        lambda: X_UNIT.astype(np.float16),
        lambda: X_UNIT.astype(object),
        lambda: X_UNIT.tolist(),
        lambda: X_UNIT[:1],
        lambda: X_UNIT * 1e30,
    ],
    ids=["bool", "int", "float16", "object numbers", "list of lists", "1 row", "1e30"],
)
def test_unusual_but_valid_input_gives_finite_features(make):
    X = make()
    dae = _dae().fit(X)  # 1e30 diverges: a ConvergenceWarning, finite weights
    codes = dae.transform(X)
    assert codes.shape == (np.shape(X)[0], 8)
    assert np.all(np.isfinite(codes))
    assert np.all(np.isfinite(dae.score_samples(X)))


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_training_refuses_values_beyond_float32(method):
    with pytest.raises(ValueError, match="beyond the float32 range"):
        getattr(_dae(), method)(_with(1e39))


def test_float64_inference_takes_values_beyond_float32(fitted):
    # transform and scoring of float64 input run in float64.
    assert np.all(np.isfinite(fitted.transform(_with(1e39))))


def test_a_frame_with_a_non_numeric_column_is_refused_when_none_is_categorical():
    # With categorical_features="from_dtype" the column is a category
    # (tests/test_tables.py); declared numeric, it cannot be.
    df = _frame(X_UNIT[:20])
    df["c3"] = "text"
    with pytest.raises(ValueError, match="could not convert"):
        _dae(categorical_features=None).fit(df)


@pytest.mark.parametrize("change", ["names", "order"])
def test_a_frame_with_other_columns_than_at_fit_is_refused(change):
    df = _frame(X_UNIT)
    dae = _dae().fit(df)
    if change == "names":
        other = _frame(X_UNIT, [f"x{i}" for i in range(64)])
    else:
        other = df[df.columns[::-1]]
    with pytest.raises(ValueError, match="feature names"):
        dae.transform(other)


def test_bce_at_fit_refuses_values_outside_the_unit_interval_for_every_method():
    for call in ("fit", "partial_fit"):
        with pytest.raises(ValueError, match="MinMaxScaler"):
            getattr(_dae(loss="bce"), call)(X_UNIT * 2)


def test_huge_codes_at_inverse_transform_raise_instead_of_returning_inf(fitted):
    # Codes aligned with the first output's decoder weights overflow float32.
    weight = fitted.net_.module_.layers[0].decoder_weight.detach().numpy()
    codes = np.tile(3e38 * np.sign(weight[0]), (3, 1)).astype(np.float32)
    with pytest.raises(ValueError, match="non-finite"):
        fitted.inverse_transform(codes)


# -- property-based ----


@st.composite
def problems(draw):
    n_rows = draw(st.integers(1, 40))
    n_features = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    loss = draw(st.sampled_from(["mse", "bce"]))
    seed = draw(st.integers(0, 2**16))
    X = np.random.default_rng(seed).random((n_rows, n_features)).astype(dtype)
    if loss == "mse":
        X = (X - 0.5) * draw(st.sampled_from([1.0, 10.0, 1000.0]))
    params = dict(
        hidden_layer_sizes=tuple(
            draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
        ),
        corruption=draw(
            st.sampled_from(["mask", "gaussian", "salt_and_pepper", "swap"])
        ),
        corruption_level=draw(st.floats(0.0, 0.9)),
        activation=draw(st.sampled_from(["sigmoid", "relu", "tanh"])),
        stacking=draw(st.sampled_from(["greedy", "joint"])),
        tied_weights=draw(st.booleans()),
        loss=loss,
        batch_size=draw(st.integers(1, 16)),
        max_epochs=draw(st.integers(1, 2)),
        random_state=seed,
        device="cpu",  # bit-for-bit reproducibility is the CPU's promise
    )
    return X, params


@pytest.mark.usefixtures("one_thread")  # bit for bit: one thread, no choice
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the same each
)
@given(problems())
def test_random_valid_problems_give_finite_reproducible_features(problem):
    X, params = problem
    dae = DenoisingAutoencoderTransformer(**params).fit(X)
    codes = dae.transform(X)
    width = params["hidden_layer_sizes"][-1]
    assert codes.shape == (len(X), width) and codes.dtype == X.dtype
    assert np.all(np.isfinite(codes))
    assert dae.inverse_transform(codes).shape == X.shape
    again = DenoisingAutoencoderTransformer(**params).fit(X).transform(X)
    np.testing.assert_array_equal(codes, again)


# -- safe loading ----


class Tripwire:
    """Counts its constructions: a loader that builds it has run foreign code."""

    built = 0

    def __new__(cls, *args, **kwargs):
        Tripwire.built += 1
        return super().__new__(cls)

    def __setstate__(self, state):
        pass


def _tampered(data):
    """The skops file ``data`` with one attribute replaced by a Tripwire."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    schema["content"]["content"]["activation"] = {
        "__class__": "Tripwire",
        "__module__": __name__,
        "__loader__": "ObjectNode",
        "content": {
            "__class__": "dict",
            "__module__": "builtins",
            "__loader__": "DictNode",
            "content": {},
            "key_types": {
                "__class__": "list",
                "__module__": "builtins",
                "__loader__": "ListNode",
                "content": [],
            },
        },
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "schema.json":
                content = json.dumps(schema).encode()
            target.writestr(name, content)
    return out.getvalue()


def test_skops_refuses_a_tampered_file_without_running_it(fitted):
    ours = "sk_dae._estimator.DenoisingAutoencoderTransformer"
    data = _tampered(skops_io.dumps(fitted))
    assert f"{__name__}.Tripwire" in skops_io.get_untrusted_types(data=data)
    Tripwire.built = 0
    with pytest.raises(Exception, match="Untrusted types"):
        skops_io.loads(data, trusted=[ours])
    assert Tripwire.built == 0
    # The tripwire is live: trusting it does build it.
    skops_io.loads(data, trusted=[ours, f"{__name__}.Tripwire"])
    assert Tripwire.built == 1


# -- concurrency ----


def _in_threads(functions):
    results = [None] * len(functions)
    errors = []

    def run(k):
        try:
            results[k] = functions[k]()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    return results


def test_eight_threads_transforming_at_once_get_the_sequential_results(fitted):
    X = np.random.default_rng(0).random((20000, 64))
    expected = fitted.transform(X)
    results = _in_threads([lambda: fitted.transform(X)] * 8)
    # Threads that share the cores may get other BLAS blockings: float64
    # rounding apart at most.
    for result in results:
        np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)


def test_two_fits_in_two_threads_do_not_interfere():
    torch_state, threads = torch.get_rng_state(), torch.get_num_threads()
    params = [dict(random_state=1, corruption="swap"), dict(random_state=2)]
    expected = [_dae(**p).fit(X_UNIT).transform(X_UNIT) for p in params]
    results = _in_threads(
        [lambda p=p: _dae(**p).fit(X_UNIT).transform(X_UNIT) for p in params]
    )
    for result, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(result, want, rtol=1e-4, atol=1e-5)
    assert torch.equal(torch_state, torch.get_rng_state())
    assert torch.get_num_threads() == threads


# -- resource limits ----


def _read_status(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field))
    return int(line.split()[1]) * 1024


# Many narrow rows: a copy of X is large while each batch's temporaries are
# small, so that the allocator's leftovers cannot pass for a copy.
N_ROWS, N_FEATURES = 2_000_000, 64


def _peak_of_fit(X):
    # A first fit at these shapes loads code and per-thread buffers (about
    # 90 MiB, once per process); only the second is measured.
    _dae(hidden_layer_sizes=(8,), max_epochs=1, batch_size=1000).fit(X[:10_000])
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _read_status("VmRSS")
    _dae(hidden_layer_sizes=(8,), max_epochs=1, batch_size=1000).fit(X)
    extra = _read_status("VmHWM") - before
    mib = X.nbytes / 2**20
    print(f"fit on {mib:.0f} MiB of {X.dtype}: peak RSS +{extra / 2**20:.0f} MiB")
    return extra


def test_fit_adds_little_memory_beyond_float32_data():
    X = np.random.default_rng(0).random((N_ROWS, N_FEATURES), dtype=np.float32)
    assert _peak_of_fit(X) < 0.25 * X.nbytes  # no copy of the training set


def test_fit_converts_float64_data_to_float32_once():
    X = np.random.default_rng(0).random((N_ROWS // 2, N_FEATURES))
    # One float32 copy is half of X; a float64 temporary would add all of X.
    assert _peak_of_fit(X) < 0.7 * X.nbytes


# -- the divergence guard's copy of the weights -------------------------------


def _guarded_states():
    """A module with float weights, an integer buffer and a float64 buffer."""
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    module.register_buffer("scale", torch.ones(2, dtype=torch.float64))
    fill = torch.nn.Linear(2, 2)
    return module, fill


def test_the_guards_copy_holds_every_tensor_as_it_was():
    module, fill = _guarded_states()
    want = {
        "module": {k: v.clone() for k, v in module.state_dict().items()},
        "fill": {k: v.clone() for k, v in fill.state_dict().items()},
    }
    snapshot = _Snapshot({"module": module.state_dict(), "fill": fill.state_dict()})
    with torch.no_grad():  # the copy is a copy
        for p in [*module.parameters(), *fill.parameters()]:
            p.add_(1.0)
    got = snapshot.states()
    assert snapshot.finite()
    assert set(got) == set(want)
    for name, state in want.items():
        assert list(got[name]) == list(state)
        for key, value in state.items():
            assert got[name][key].dtype == value.dtype
            assert torch.equal(got[name][key], value), (name, key)
    module.load_state_dict(got["module"])  # loads as a state_dict does


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("where", ["weight", "float64 buffer"])
def test_the_guards_copy_finds_a_value_that_is_not_finite(bad, where):
    module, fill = _guarded_states()
    with torch.no_grad():
        if where == "weight":
            module[0].weight[1, 2] = bad
        else:
            module.scale[1] = bad
    snapshot = _Snapshot({"module": module.state_dict(), "fill": fill.state_dict()})
    assert not snapshot.finite()
    # Huge finite weights are finite (their sum would overflow).
    with torch.no_grad():
        module[0].weight.fill_(3e38)
        module.scale.fill_(1.0)
    assert _Snapshot({"module": module.state_dict()}).finite()
