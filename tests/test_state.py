"""A fitted model's state: each call builds its net the same way, runs the
callbacks the estimator holds, and a call that fails changes nothing.

Each test of a defect found by using the estimators as a user would (issue 19)
names the defect it holds fixed.
"""

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from skorch.callbacks import Callback, EpochScoring

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer
from sk_dae.inspection import FilterDisplay, ReconstructionDisplay


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


matplotlib.use("Agg")

RNG = np.random.default_rng(0)
X = RNG.random((200, 8))
X_HOLED = np.where(RNG.random(X.shape) < 0.2, np.nan, X)


def _dae(**kwargs):
    params = dict(device="cpu", hidden_layer_sizes=(4,), max_epochs=2, random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


def _imputer(**kwargs):
    params = dict(
        autoencoder=on_cpu(), hidden_layer_sizes=(8,), max_epochs=3, random_state=0
    )
    return DenoisingAutoencoderImputer(**{**params, **kwargs})


def _failing_noise(X, level, generator):
    raise RuntimeError("the corruption failed")


class Mark(Callback):
    """Writes its name into the history at the end of every epoch."""

    def __init__(self, name):
        self.name = name

    def on_epoch_end(self, net, **kwargs):
        net.history.record(self.name, True)


def _marks(dae, name):
    return [name in row for row in dae.net_.history]


# -- defect 1: fit with early stopping, then partial_fit ------------------------


def test_partial_fit_after_an_early_stopping_fit_trains_and_warns():
    dae = _dae(early_stopping=True).fit(X)
    with pytest.warns(UserWarning, match="ignores early_stopping"):
        dae.partial_fit(X)
    assert dae.n_iter_ == 3
    assert len(dae.loss_curve_) == len(dae.validation_scores_) == 3
    assert np.isfinite(dae.validation_scores_[:2]).all()
    assert np.isnan(dae.validation_scores_[2])  # that epoch had no validation


# -- defect 2: every call runs the callbacks the estimator holds then ------------


def test_a_warm_fit_that_turns_early_stopping_on_stops_early():
    # Uniform noise has nothing to learn: the validation loss plateaus at once.
    noise = np.random.default_rng(1).uniform(size=(400, 8))
    dae = _dae(max_epochs=2, lr=1e-2).fit(noise)
    dae.set_params(
        warm_start=True, early_stopping=True, n_iter_no_change=2, tol=0.0, max_epochs=50
    ).fit(noise)
    assert dae.n_iter_ < 2 + 50
    assert all(np.isfinite(dae.validation_scores_[2:]))
    assert dae.validation_scores_[:2] == pytest.approx([np.nan] * 2, nan_ok=True)


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_a_continued_call_runs_the_callbacks_given_for_it(how):
    dae = _dae(callbacks=[Mark("a")]).fit(X)
    dae.set_params(callbacks=[Mark("b")])
    if how == "warm_start":
        dae.set_params(warm_start=True).fit(X)
    else:
        dae.partial_fit(X)
    assert _marks(dae, "a") == [True, True] + [False] * (dae.n_iter_ - 2)
    assert _marks(dae, "b") == [False, False] + [True] * (dae.n_iter_ - 2)


def test_a_continued_call_prints_as_verbose_says_at_that_call(capfd):
    dae = _dae().fit(X)
    dae.set_params(verbose=1).partial_fit(X)
    assert "train_loss" in capfd.readouterr().out
    dae.set_params(verbose=0).partial_fit(X)
    assert capfd.readouterr() == ("", "")


# -- defect 3: skorch's scoring callbacks ---------------------------------------


def test_epoch_scoring_on_the_training_rows_scores_each_epoch():
    scoring = EpochScoring(
        "neg_mean_squared_error", on_train=True, name="train_mse", lower_is_better=False
    )
    dae = _dae(callbacks=[scoring], corruption_level=0.0, loss="bce").fit(X)
    scores = dae.net_.history[:, "train_mse"]
    assert len(scores) == 2 and all(s < 0 for s in scores)
    # The scored predictions are reconstructions in [0, 1], not bce's logits:
    # their error is far below that of logits against targets in [0, 1].
    assert -scores[-1] < 0.2


def test_epoch_scoring_on_the_validation_rows():
    scoring = EpochScoring("neg_mean_squared_error", name="valid_mse")
    dae = _dae(callbacks=[scoring], early_stopping=True).fit(X)
    assert all(np.isfinite(dae.net_.history[:, "valid_mse"]))


# -- defect 4: a failed imputer fit changes nothing -------------------------------


@pytest.fixture
def imputer():
    return _imputer().fit(X_HOLED)


def _imputer_state(imputer):
    return {k: v for k, v in vars(imputer).items() if k.endswith("_")}


@pytest.mark.parametrize(
    "make_X",
    [
        lambda: X_HOLED * 1000,
        lambda: np.hstack([X_HOLED, X_HOLED[:, :1]]),  # one more column
    ],
)
def test_a_failed_imputer_fit_leaves_the_fitted_imputer_as_it_was(imputer, make_X):
    before = imputer.transform(X_HOLED)
    state = _imputer_state(imputer)
    imputer.set_params(autoencoder__corruption=_failing_noise)
    with pytest.raises(RuntimeError, match="corruption failed"):
        imputer.fit(make_X())
    assert _imputer_state(imputer).keys() == state.keys()
    for name, value in state.items():
        assert _imputer_state(imputer)[name] is value, name
    np.testing.assert_array_equal(imputer.transform(X_HOLED), before)


def test_a_failed_imputer_fit_on_an_array_keeps_the_frames_names():
    frame = pd.DataFrame(X_HOLED, columns=[f"c{i}" for i in range(8)])
    imputer = _imputer().fit(frame)
    imputer.set_params(autoencoder__corruption=_failing_noise)
    with pytest.raises(RuntimeError):
        imputer.fit(X_HOLED)
    assert list(imputer.feature_names_in_) == list(frame.columns)


# -- defect 5: the imputer takes the layer sizes the transformer takes -------------


def test_the_imputer_takes_an_array_of_layer_sizes():
    imputer = _imputer(hidden_layer_sizes=np.array([8, 4])).fit(X_HOLED)
    assert [c.shape for c in imputer.autoencoder_.coefs_[:2]] == [(8, 8), (8, 4)]


# -- defect 6: ReconstructionDisplay takes what the estimator takes ----------------


def test_the_reconstruction_display_takes_a_coo_matrix():
    dae = _dae().fit(X)
    coo = sp.coo_matrix(X)
    display = ReconstructionDisplay.from_estimator(
        dae, coo, image_shape=(2, 4), n_images=3, random_state=0
    )
    np.testing.assert_array_equal(display.clean, X[:3])


def test_the_reconstruction_display_takes_a_frame_without_warnings():
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(8)])
    dae = _dae().fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ReconstructionDisplay.from_estimator(
            dae, frame, image_shape=(2, 4), n_images=3, random_state=0
        )


def test_the_display_shows_the_noise_the_model_was_fitted_with():
    dae = _dae(corruption="mask").fit(X)
    dae.set_params(corruption="salt_and_pepper", corruption_level=0.9)
    display = ReconstructionDisplay.from_estimator(
        dae, X, image_shape=(2, 4), n_images=5, random_state=0
    )
    assert display.corruption_label == "mask (0.3)"
    changed = display.corrupted != X[:5]
    np.testing.assert_array_equal(display.corrupted[changed], 0)


def test_the_filter_display_reads_the_public_weights():
    dae = _dae().fit(X)
    display = FilterDisplay.from_estimator(dae, image_shape=(2, 4))
    np.testing.assert_array_equal(display.filters, dae.coefs_[0].T)


# -- defect 7: bce's score_samples refuses rows its loss cannot score --------------


def test_bce_score_samples_refuses_rows_outside_the_unit_interval():
    dae = _dae(loss="bce").fit(X)
    dae.score_samples(X)
    with pytest.raises(ValueError, match=r"\[0, 1\].*clip"):
        dae.score_samples(X * 10)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dae.score(X - 1)


# -- defect 8: the skorch net predicts on rows with holes ---------------------------


def test_the_nets_predict_takes_missing_entries_as_transform_does():
    dae = _dae().fit(X_HOLED)
    recon = dae.net_.predict(X_HOLED.astype(np.float32))
    assert np.isfinite(recon).all()
    zeros = np.nan_to_num(X_HOLED).astype(np.float32)
    np.testing.assert_allclose(recon, dae.net_.predict(zeros), rtol=1e-6)


# -- defect 9: random_state=None draws from no global generator ---------------------


@pytest.mark.parametrize(
    "fit",
    [
        lambda: _dae(random_state=None).fit(X),
        lambda: _dae(random_state=None, early_stopping=True).fit(X),
        lambda: _imputer(random_state=None).fit(X_HOLED),
        lambda: ReconstructionDisplay.from_estimator(
            _dae().fit(X), X, image_shape=(2, 4), n_images=2
        ),
    ],
)
def test_random_state_none_leaves_the_global_generators_alone(fit):
    numpy_state, torch_state = np.random.get_state(), torch.get_rng_state()
    fit()
    assert np.array_equal(numpy_state[1], np.random.get_state()[1])
    assert numpy_state[2:] == np.random.get_state()[2:]
    assert torch.equal(torch_state, torch.get_rng_state())


def test_random_state_none_gives_a_new_model_at_each_fit():
    a = _dae(random_state=None).fit(X).transform(X)
    b = _dae(random_state=None).fit(X).transform(X)
    assert not np.allclose(a, b)


# -- the history over many calls --------------------------------------------------


def test_the_best_score_so_far_carries_across_calls():
    dae = _dae(lr=0.05)
    for start in range(0, 200, 25):  # chunks of a stream: the loss goes up and down
        dae.partial_fit(X[start : start + 25] * (1 + start / 100))
    losses = dae.loss_curve_
    flags = [row["train_loss_best"] for row in dae.net_.history]
    assert flags == [
        loss < min(losses[:k], default=np.inf) for k, loss in enumerate(losses)
    ]
    assert not all(flags)
