"""Training lifecycle: early stopping, progress output, callbacks, warm start,
interruption, divergence, persistence, memory and parallel search."""

import io
import os
import pickle
import sys

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from skorch.callbacks import Callback, LRScheduler

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._device import resolve_device


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_UNIT = X_DIGITS / 16.0


def _dae(**kwargs):
    params = dict(device="cpu", hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


class WeightRecorder(Callback):
    """Keeps a copy of the module's weights at the end of every epoch."""

    def initialize(self):
        self.weights_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        state = net.module_.state_dict()
        self.weights_.append({k: v.clone() for k, v in state.items()})


class InterruptAt(Callback):
    """Raises KeyboardInterrupt at the end of epoch ``epoch``, as Ctrl-C would."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def _fitted_callback(dae, cls):
    return next(cb for _, cb in dae.net_.callbacks_ if isinstance(cb, cls))


# -- early stopping ----


def test_early_stopping_stops_on_a_plateau_and_restores_the_best_epoch():
    # Uniform noise has nothing to learn: the validation loss plateaus at once.
    X = np.random.default_rng(0).uniform(size=(600, 20))
    dae = _dae(
        max_epochs=200,
        early_stopping=True,
        n_iter_no_change=3,
        tol=0.0,  # any decrease is an improvement, as argmax below counts it
        lr=1e-2,
        callbacks=[WeightRecorder()],
    ).fit(X)
    assert dae.n_iter_ < 200
    assert len(dae.validation_scores_) == dae.n_iter_
    best = int(np.argmax(dae.validation_scores_))
    assert dae.n_iter_ == best + 1 + 3  # stopped 3 epochs after the best one
    recorded = _fitted_callback(dae, WeightRecorder).weights_[best]
    for name, value in dae.net_.module_.state_dict().items():
        torch.testing.assert_close(value, recorded[name])


def test_early_stopping_holds_out_a_seeded_validation_split():
    a = _dae(early_stopping=True, random_state=3).fit(X_UNIT)
    b = _dae(early_stopping=True, random_state=3).fit(X_UNIT)
    assert a.validation_scores_ == b.validation_scores_
    batches = a.net_.history[-1, "batches"]
    n_train = sum(
        row["train_batch_size"] for row in batches if "train_batch_size" in row
    )
    n_valid = sum(
        row["valid_batch_size"] for row in batches if "valid_batch_size" in row
    )
    assert n_valid == round(0.1 * len(X_UNIT))
    assert n_train + n_valid == len(X_UNIT)


def test_early_stopping_applies_to_each_greedy_layer():
    dae = _dae(hidden_layer_sizes=(16, 8), early_stopping=True, max_epochs=4).fit(
        X_UNIT
    )
    layers = [row["layer"] for row in dae.net_.history]
    assert set(layers) == {0, 1}
    assert len(dae.validation_scores_) == dae.n_iter_


def test_early_stopping_inside_cross_validation_and_grid_search():
    pipe = Pipeline(
        [
            (
                "dae",
                _dae(
                    hidden_layer_sizes=(32,),
                    early_stopping=True,
                    max_epochs=20,
                    n_iter_no_change=2,
                ),
            ),
            ("svm", SVC()),
        ]
    )
    scores = cross_val_score(pipe, X_UNIT, Y_DIGITS, cv=3)
    assert np.all(scores > 0.8)
    search = GridSearchCV(pipe, {"dae__corruption_level": [0.1, 0.3]}, cv=2)
    assert search.fit(X_UNIT, Y_DIGITS).best_score_ > 0.8


@pytest.mark.usefixtures("one_thread")
def test_each_fit_starts_from_fresh_weights():
    dae = _dae()
    dae.fit(X_UNIT[:900])
    refit = dae.fit(X_UNIT[900:]).transform(X_UNIT)
    fresh = clone(dae).fit(X_UNIT[900:]).transform(X_UNIT)
    np.testing.assert_array_equal(refit, fresh)


def test_early_stopping_needs_rows_to_train_on():
    with pytest.raises(ValueError, match="validation_fraction"):
        _dae(early_stopping=True, validation_fraction=0.5).fit(X_UNIT[:1])


# -- output and callbacks ----


def test_verbose_zero_prints_nothing(capfd):
    _dae(hidden_layer_sizes=(8, 4), early_stopping=True).fit(X_UNIT)
    dae = _dae().partial_fit(X_UNIT)
    dae.partial_fit(X_UNIT)
    dae.set_params(warm_start=True).fit(X_UNIT)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_verbose_one_prints_a_line_per_epoch_and_a_progress_bar(capfd):
    _dae(verbose=1, early_stopping=True, max_epochs=3).fit(X_UNIT)
    out, err = capfd.readouterr()
    assert "train_loss" in out and "valid_loss" in out and "dur" in out
    rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 3
    assert "it/s" in err or "s/it" in err  # tqdm's progress bar


def test_callbacks_pass_through_and_the_given_objects_stay_untouched():
    scheduler = LRScheduler(policy="StepLR", step_size=1, gamma=0.5)
    dae = _dae(lr=0.01, max_epochs=3, callbacks=[scheduler]).fit(X_UNIT)
    lr_now = dae.net_.optimizer_.param_groups[0]["lr"]
    assert lr_now == pytest.approx(0.01 * 0.5**3)
    assert not hasattr(scheduler, "lr_scheduler_")  # the fit used a copy


# -- warm start, partial_fit -------------------------------------------------------


def test_warm_start_continues_and_lowers_the_loss():
    dae = _dae(max_epochs=3).fit(X_UNIT)
    score, weights = dae.score(X_UNIT), dae.net_.module_.layers[0].weight.clone()
    dae.set_params(warm_start=True).fit(X_UNIT)
    assert dae.n_iter_ == 6
    assert dae.score(X_UNIT) > score
    # It continued: a cold fit of 3 epochs would have started from the same
    # init and ended at the first fit's weights.
    assert not torch.equal(weights, dae.net_.module_.layers[0].weight)
    assert dae.loss_curve_[3] < dae.loss_curve_[0]


def test_training_knobs_may_change_between_warm_fits():
    dae = _dae().fit(X_UNIT)
    dae.set_params(warm_start=True, emphasis="full", lr=0.01, corruption="swap")
    dae.fit(X_UNIT)
    assert dae.net_.criterion_.emphasis == (1.0, 0.0)
    assert dae.net_.optimizer_.param_groups[0]["lr"] == 0.01
    restored = pickle.loads(pickle.dumps(dae))
    assert restored.net_.criterion_.emphasis == (1.0, 0.0)


@pytest.mark.usefixtures("one_thread")
def test_warm_start_on_an_unfitted_model_is_a_plain_fit():
    a = _dae(warm_start=True).fit(X_UNIT).transform(X_UNIT)
    b = _dae().fit(X_UNIT).transform(X_UNIT)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "change",
    [
        {"hidden_layer_sizes": (8,)},
        {"hidden_layer_sizes": (16, 4)},
        {"activation": "relu"},
        {"tied_weights": True},
    ],
)
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_changing_the_shape_between_warm_fits_is_a_clear_error(change, how):
    dae = _dae().fit(X_UNIT)
    codes = dae.transform(X_UNIT)
    dae.set_params(**change)
    with pytest.raises(
        ValueError,
        match=f"Cannot continue training after changing {next(iter(change))}",
    ):
        if how == "warm_start":
            dae.set_params(warm_start=True).fit(X_UNIT)
        else:
            dae.partial_fit(X_UNIT)
    dae.set_params(**_dae().get_params() | {"warm_start": False})
    np.testing.assert_array_equal(dae.transform(X_UNIT), codes)


def test_partial_fit_with_other_features_is_an_error():
    dae = _dae().fit(X_UNIT)
    with pytest.raises(ValueError, match="64 features"):
        dae.partial_fit(X_UNIT[:, :10])


# -- interruption and divergence ----


def test_interrupt_keeps_a_usable_model_and_says_so():
    with pytest.warns(UserWarning, match="interrupted .* epoch 2"):
        dae = _dae(max_epochs=10, callbacks=[InterruptAt(2)]).fit(X_UNIT)
    assert dae.n_iter_ == 2
    assert np.all(np.isfinite(dae.transform(X_UNIT)))


def test_interrupt_in_a_greedy_stack_stops_every_later_layer():
    with pytest.warns(UserWarning, match="Layers above layer 0 were not trained"):
        dae = _dae(
            hidden_layer_sizes=(16, 8), max_epochs=5, callbacks=[InterruptAt(2)]
        ).fit(X_UNIT)
    assert [row["layer"] for row in dae.net_.history] == [0, 0]
    assert dae.transform(X_UNIT).shape == (len(X_UNIT), 8)


def _assert_finite_model(dae, X):
    for value in dae.net_.module_.state_dict().values():
        assert torch.isfinite(value).all()
    assert not np.any(np.isnan(dae.transform(X)))


def test_a_diverging_fit_warns_and_never_yields_nan_features():
    X = X_DIGITS * 1e3
    dae = _dae(activation="relu", hidden_layer_sizes=(32,), lr=1e10, max_epochs=5)
    with pytest.warns(ConvergenceWarning, match="diverged .* restored. Lower lr"):
        dae.fit(X)
    _assert_finite_model(dae, X)
    # The optimizer was reset: continuing does not re-inject NaN moments.
    for group in dae.net_.optimizer_.state.values():
        for value in group.values():
            assert torch.isfinite(value).all()


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_a_huge_learning_rate_on_unscaled_data_leaves_finite_features(activation):
    X = X_DIGITS * 1e4
    dae = _dae(activation=activation, lr=10.0, max_epochs=5).fit(X)
    _assert_finite_model(dae, X)


# -- persistence ----


@pytest.fixture(scope="module")
def fitted():
    return _dae(hidden_layer_sizes=(16, 8), corruption="salt_and_pepper").fit(X_UNIT)


@pytest.mark.parametrize(
    "dumps, loads",
    [
        (pickle.dumps, pickle.loads),
        (lambda m: _joblib_bytes(m), lambda b: joblib.load(io.BytesIO(b))),
    ],
)
def test_pickle_and_joblib_round_trips_give_identical_features(fitted, dumps, loads):
    restored = loads(dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X_UNIT), fitted.transform(X_UNIT))
    assert restored.n_iter_ == fitted.n_iter_
    assert len(restored.net_.history) == len(fitted.net_.history)


def _joblib_bytes(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def test_the_saved_state_holds_no_torch_objects(fitted):
    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from walk(v)
        else:
            yield value

    state = fitted.__getstate__()
    assert "net_" not in state
    assert not any(type(v).__module__.startswith("torch") for v in walk(state))


@pytest.mark.usefixtures("one_thread")
def test_a_loaded_model_continues_training_exactly_as_the_original():
    a = _dae(corruption="swap").fit(X_UNIT)
    b = pickle.loads(pickle.dumps(a))
    a.partial_fit(X_UNIT)
    b.partial_fit(X_UNIT)
    np.testing.assert_array_equal(a.transform(X_UNIT), b.transform(X_UNIT))


def test_skops_round_trip_trusts_only_this_package(fitted):
    import skops.io as skops_io

    data = skops_io.dumps(fitted)
    untrusted = skops_io.get_untrusted_types(data=data)
    assert untrusted == ["sk_dae._estimator.DenoisingAutoencoderTransformer"]
    restored = skops_io.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(restored.transform(X_UNIT), fitted.transform(X_UNIT))


def test_an_imputers_ensemble_round_trips_through_pickle_and_skops():
    import skops.io as skops_io

    from sk_dae import DenoisingAutoencoderImputer

    X = np.where(
        np.random.default_rng(0).random((200, 8)) < 0.2, np.nan, X_UNIT[:200, :8]
    )
    imputer = DenoisingAutoencoderImputer(
        n_estimators=3, max_epochs=2, random_state=0, autoencoder=on_cpu()
    ).fit(X)
    expected = imputer.transform(X)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(imputer)).transform(X), expected
    )
    data = skops_io.dumps(imputer)
    untrusted = skops_io.get_untrusted_types(data=data)
    # The members' module is stored by reference, as a user's module class is.
    assert "sk_dae.modules.StackEnsemble" in untrusted
    restored = skops_io.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(restored.transform(X), expected)


def test_fitting_writes_nothing_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _dae(early_stopping=True, verbose=0).fit(X_UNIT)
    assert os.listdir(tmp_path) == []


# -- memory ----


def _rss_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_transform_of_a_million_rows_keeps_peak_memory_bounded():
    X = np.random.default_rng(0).random((1_000_000, 64), dtype=np.float32)
    dae = _dae(hidden_layer_sizes=(8,), max_epochs=1).fit(X[:2000])
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak-RSS counter to the current RSS
    before = _rss_bytes("VmRSS")
    codes = dae.transform(X)
    extra = _rss_bytes("VmHWM") - before
    out_bytes = codes.nbytes  # 32 MB; X itself is 256 MB
    print(
        f"transform of {X.shape}: peak RSS +{extra / 2**20:.1f} MiB "
        f"(output {out_bytes / 2**20:.1f} MiB)"
    )
    # A whole-array conversion or concatenation would add at least X's 256 MB.
    assert extra < out_bytes + 64 * 2**20


# -- devices and parallel search ----


def test_parallel_grid_search_on_cpu_matches_the_sequential_one():
    pipe = Pipeline(
        [("dae", _dae(hidden_layer_sizes=(32,), device="cpu")), ("svm", SVC())]
    )
    grid = {"dae__corruption_level": [0.0, 0.3]}
    seq = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X_UNIT, Y_DIGITS)
    par = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X_UNIT, Y_DIGITS)
    np.testing.assert_allclose(
        par.cv_results_["mean_test_score"],
        seq.cv_results_["mean_test_score"],
        atol=0.01,
    )


def test_auto_device_falls_back_to_cpu_in_a_forked_cuda_process(monkeypatch):
    def init():
        raise RuntimeError("Cannot re-initialize CUDA in forked subprocess.")

    monkeypatch.setattr(torch.cuda, "init", init)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.warns(RuntimeWarning, match="forked"):
        assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="forked"):
        resolve_device("cuda")


def test_sparse_training_data_stays_sparse_on_the_host():
    X = sp.random(500, 300, density=0.01, format="csr", random_state=0)
    dae = _dae().fit(X)
    assert dae.transform(X).shape == (500, 16)
