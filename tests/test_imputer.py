"""DenoisingAutoencoderImputer: the sklearn.impute conventions, and imputations
that use what the autoencoder learned."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
HOLES = np.random.default_rng(0).random(X_DIGITS.shape) < 0.3
X_NAN = np.where(HOLES, np.nan, X_DIGITS)


def _imputer(**kwargs):
    params = dict(autoencoder=on_cpu(), max_epochs=5, random_state=0)
    return DenoisingAutoencoderImputer(**{**params, **kwargs})


@pytest.fixture(scope="module")
def fitted():
    return _imputer(max_epochs=30).fit(X_NAN)


def _rmse(filled):
    return np.sqrt(np.mean((filled - X_DIGITS)[HOLES] ** 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_observed_entries_come_back_bit_for_bit_in_the_input_dtype(fitted, dtype):
    X = X_NAN.astype(dtype)
    filled = fitted.transform(X)
    assert filled.dtype == dtype
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~HOLES], X[~HOLES])


def test_imputations_beat_column_means(fitted):
    mean = SimpleImputer().fit_transform(X_NAN)
    assert _rmse(fitted.transform(X_NAN)) < 0.9 * _rmse(mean)


def test_it_imputes_new_rows_one_at_a_time_as_all_together(fitted):
    together = fitted.transform(X_NAN[:50])
    alone = np.vstack([fitted.transform(X_NAN[i : i + 1]) for i in range(50)])
    # Equal within float32 rounding (the network's precision), not bit for bit:
    # a product of 1 row and one of 50 may take other BLAS kernels.
    scale = np.abs(together).max()
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-6 * scale)


def test_columns_on_any_scale_impute_alike():
    scales = np.logspace(-6, 6, X_DIGITS.shape[1])
    plain = _imputer().fit(X_NAN).transform(X_NAN)
    scaled = _imputer().fit(X_NAN * scales).transform(X_NAN * scales)
    # Equal within rounding, in units of each column's spread: the rounding of
    # the standardized values differs with the scale, and training carries it.
    spread = np.nanstd(X_NAN, axis=0) + 1.0
    np.testing.assert_allclose(scaled / scales / spread, plain / spread, atol=1e-5)


def test_the_defaults_resolve_from_the_data():
    small = DenoisingAutoencoderImputer(autoencoder=on_cpu(), random_state=0)
    small.set_params(max_epochs="auto").fit(X_NAN[:200, :8])
    autoencoder = small.autoencoder_
    assert autoencoder.hidden_layer_sizes == (64,) * 3  # at least 64 units
    assert autoencoder.early_stopping is False
    assert autoencoder.batch_size == 64
    assert autoencoder.max_epochs == autoencoder.n_iter_ == 263  # 200 rows
    names = [name for name, _ in autoencoder.callbacks]
    assert names == ["cosine_lr"]
    wide = _imputer(hidden_layer_sizes=(8, 8)).fit(X_NAN)
    assert wide.autoencoder_.hidden_layer_sizes == (8, 8)


def test_the_cosine_schedule_anneals_the_rate_and_constant_keeps_it():
    cosine = _imputer(max_epochs=4, lr=1e-2).fit(X_NAN[:300])
    constant = _imputer(max_epochs=4, lr=1e-2, lr_schedule="constant").fit(X_NAN[:300])
    # CosineAnnealingLR over 4 epochs: after the last one the rate reaches 0.
    last = cosine.autoencoder_.net_.optimizer_.param_groups[0]["lr"]
    assert last == pytest.approx(1e-2 * (1 + np.cos(np.pi * 4 / 4)) / 2, abs=1e-12)
    assert constant.autoencoder_.net_.optimizer_.param_groups[0]["lr"] == 1e-2
    assert constant.autoencoder_.callbacks is None


def test_the_user_callbacks_come_first_and_are_not_changed():
    from skorch.callbacks import EpochTimer

    mine = [("timer", EpochTimer())]
    template = DenoisingAutoencoderTransformer(device="cpu", callbacks=mine)
    imputer = _imputer(max_epochs=2, autoencoder=template).fit(X_NAN[:100])
    assert mine == template.callbacks and len(mine) == 1
    assert [n for n, _ in imputer.autoencoder_.callbacks] == ["timer", "cosine_lr"]


def test_early_stopping_judges_held_out_entries_at_any_size():
    template = DenoisingAutoencoderTransformer(
        device="cpu", early_stopping=True, n_iter_no_change=2
    )
    imputer = _imputer(autoencoder=template, max_epochs=50)
    imputer.fit(X_NAN[:150])  # 150 rows: every row still trains
    autoencoder = imputer.autoencoder_
    assert autoencoder.validation == "entries"
    assert len(autoencoder.validation_scores_) == autoencoder.n_iter_ <= 50
    assert np.isfinite(autoencoder.validation_scores_).all()


# -- the autoencoder template ----------------------------------------------------


def test_the_template_is_cloned_and_completed_with_the_imputers_settings():
    template = on_cpu(corruption_level=0.1, input_fill="learned", emphasis="double")
    before = template.get_params()
    imputer = _imputer(autoencoder=template, lr_schedule="constant").fit(X_NAN[:200])
    autoencoder = imputer.autoencoder_
    assert autoencoder is not template and not hasattr(template, "net_")
    assert template.get_params() == before  # never completed in place
    # The template's own settings...
    assert (autoencoder.corruption_level, autoencoder.input_fill) == (0.1, "learned")
    assert autoencoder.emphasis == "double"
    # ...and the imputer's, its "auto" ones resolved on the 200 rows.
    assert autoencoder.hidden_layer_sizes == (128,) * 3  # 2 x 64 columns
    assert (autoencoder.activation, autoencoder.stacking) == ("relu", "joint")
    assert (autoencoder.batch_size, autoencoder.max_epochs) == (64, 5)
    assert autoencoder.lr == 5e-3 and autoencoder.random_state == 0
    assert autoencoder.validation == "entries"
    assert autoencoder.coefs_[0].shape == (64, 128)


@pytest.mark.usefixtures("one_thread")
def test_no_template_is_the_transformers_defaults():
    plain = _imputer(autoencoder=None).fit_transform(X_NAN[:200])
    default = _imputer(autoencoder=DenoisingAutoencoderTransformer())
    np.testing.assert_array_equal(default.fit_transform(X_NAN[:200]), plain)


@pytest.mark.parametrize(
    ("setting", "moved"),
    [
        ({"hidden_layer_sizes": (8,)}, "Pass hidden_layer_sizes to Denoising"),
        ({"lr": 0.01, "max_epochs": 3}, "Pass max_epochs, lr to Denoising"),
        ({"random_state": 0}, "Pass random_state to DenoisingAutoencoderImputer"),
        ({"activation": "relu"}, "Pass activation to DenoisingAutoencoderImputer"),
        ({"validation": "entries"}, "always validates on held-out entries"),
        ({"categorical_features": None}, "set it on the imputer"),
        ({"loss": "bce"}, "standardized columns"),
        ({"warm_start": True}, "afresh at every fit"),
        ({"image_shape": (8, 8)}, "no image shape"),
        ({"corruption": "block_mask"}, "a table's rows are not images"),
    ],
)
def test_a_template_that_sets_the_imputers_settings_is_refused(fitted, setting, moved):
    before = fitted.transform(X_NAN[:50])
    imputer = clone(fitted).set_params(autoencoder=on_cpu(**setting))
    with pytest.raises(ValueError, match=moved):
        imputer.fit(X_NAN)
    fitted.set_params(autoencoder=on_cpu(**setting))
    try:
        with pytest.raises(ValueError, match=moved):
            fitted.fit(X_NAN)
        np.testing.assert_array_equal(fitted.transform(X_NAN[:50]), before)
    finally:
        fitted.set_params(autoencoder=on_cpu())


def test_the_autoencoder_must_be_a_transformer():
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="autoencoder"):
        _imputer(autoencoder=SimpleImputer()).fit(X_NAN)


def test_a_template_of_a_subclass_trains_as_that_subclass():
    class Mine(DenoisingAutoencoderTransformer):
        pass

    imputer = _imputer(autoencoder=Mine(device="cpu"), max_epochs=1).fit(X_NAN[:100])
    assert type(imputer.autoencoder_) is Mine


def test_add_indicator_appends_the_missing_indicator():
    X = X_NAN.copy()
    X[:, 0] = 1.0  # never missing: no indicator column
    imputer = _imputer(add_indicator=True).fit(X)
    out = imputer.transform(X)
    assert out.shape == (len(X), 64 + 63)
    np.testing.assert_array_equal(out[:, 64:], np.isnan(X[:, 1:]))
    names = imputer.get_feature_names_out()
    assert names[0] == "x0" and names[64] == "missingindicator_x1"


def test_empty_features_are_dropped_or_kept_as_zeros():
    X = X_NAN.copy()
    X[:, 5] = np.nan
    dropped = _imputer().fit(X)
    assert dropped.transform(X).shape == (len(X), 63)
    assert "x5" not in dropped.get_feature_names_out()
    kept = _imputer(keep_empty_features=True).fit(X)
    out = kept.transform(X)
    assert out.shape == (len(X), 64) and np.all(out[:, 5] == 0)
    assert len(kept.get_feature_names_out()) == 64


def test_a_numeric_placeholder_marks_missing_values():
    X = np.where(HOLES, -1.0, X_DIGITS)
    by_placeholder = _imputer(missing_values=-1.0).fit(X).transform(X)
    by_nan = _imputer().fit(X_NAN).transform(X_NAN)
    np.testing.assert_array_equal(by_placeholder, by_nan)
    with pytest.raises(ValueError, match="NaN"):
        _imputer(missing_values=-1.0).fit(X_NAN)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="Every column of X is entirely missing"):
        _imputer().fit(np.full((10, 3), np.nan))
    X = X_NAN.copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        _imputer().fit(X)


def test_feature_names_follow_a_dataframe():
    frame = pd.DataFrame(X_NAN, columns=[f"pixel{i}" for i in range(64)])
    imputer = _imputer(add_indicator=True).fit(frame)
    names = imputer.get_feature_names_out()
    assert names[0] == "pixel0" and names[64] == "missingindicator_pixel0"
    imputer.set_output(transform="pandas")
    assert list(imputer.transform(frame).columns) == list(names)


def test_in_a_column_transformer_and_a_grid_search():
    frame = pd.DataFrame(X_NAN[:, :8], columns=list("abcdefgh"))
    frame["kind"] = np.where(Y_DIGITS % 2, "odd", "even")
    columns = ColumnTransformer(
        [("numbers", _imputer(), list("abcdefgh"))], remainder="drop"
    )
    model = make_pipeline(columns, StandardScaler(), LogisticRegression(max_iter=500))
    grid = {"columntransformer__numbers__autoencoder__corruption_level": [0.25, 0.5]}
    search = GridSearchCV(model, grid, cv=2).fit(frame, Y_DIGITS)
    assert 0.2 < search.best_score_ <= 1
    assert not np.isnan(search.best_estimator_[0].transform(frame)).any()


@pytest.mark.usefixtures("one_thread")
def test_clone_and_refit_give_the_same_imputations(fitted):
    # Both fits here, on one thread: the fixture's may have run on another
    # count, whose rounding training carries on.
    first = clone(fitted).fit(X_NAN)
    again = clone(fitted).fit(X_NAN)
    np.testing.assert_array_equal(again.transform(X_NAN), first.transform(X_NAN))


def test_auto_batches_grow_with_the_rows_up_to_512():
    from sk_dae._imputer import _auto_batch_size

    sizes = [_auto_batch_size(n) for n in (150, 2_560, 10_000, 100_000, 10**7)]
    assert sizes == [64, 64, 250, 512, 512]


def test_auto_lr_is_lower_for_wide_layers():
    from sk_dae._imputer import _auto_lr

    assert [_auto_lr(w) for w in ((128,) * 3, (129,), (8, 1024), 64)] == [
        5e-3,
        1e-3,
        1e-3,
        5e-3,
    ]
    imputer = _imputer(lr="auto", hidden_layer_sizes=(200,), max_epochs=1)
    assert imputer.fit(X_NAN[:100]).autoencoder_.lr == 1e-3
    assert _imputer(lr=0.02, max_epochs=1).fit(X_NAN[:100]).autoencoder_.lr == 0.02


def test_auto_epochs_shrink_as_the_rows_grow():
    from sk_dae._imputer import _auto_epochs

    epochs = [_auto_epochs(n) for n in (10, 150, 1_000, 10_000, 100_000, 10**9)]
    assert epochs == [300, 291, 150, 67, 30, 1]


def test_an_ensemble_fills_the_holes_with_the_members_mean():
    ensemble = _imputer(n_estimators=3, max_epochs=2).fit(X_NAN[:300])
    # One network of three members, each reading its own copy of the columns.
    (network,) = ensemble.autoencoders_
    assert ensemble.autoencoder_ is network
    assert network.net_.module_.n_members == 3
    Z = ensemble._standardized(X_NAN[:300])
    recons = np.split(network.inverse_transform(network.transform(np.tile(Z, 3))), 3, 1)
    kept = ensemble.observed_features_
    expected = np.mean(recons, axis=0) * ensemble.scale_[kept] + ensemble.mean_[kept]
    filled = ensemble.transform(X_NAN[:300])
    holes = HOLES[:300][:, kept]
    # Within float32 rounding: the members' batches may differ from these.
    scale = np.abs(expected).max()
    np.testing.assert_allclose(
        filled[holes], expected[holes], rtol=1e-5, atol=1e-6 * scale
    )
    assert not np.allclose(recons[0], recons[1])  # the members differ


def test_a_greedy_ensemble_fits_its_members_one_by_one():
    ensemble = _imputer(
        n_estimators=3, max_epochs=2, stacking="greedy", hidden_layer_sizes=(16, 8)
    ).fit(X_NAN[:300])
    members = ensemble.autoencoders_
    assert len(members) == 3 and ensemble.autoencoder_ is members[0]
    assert len({m.random_state for m in members}) == 3  # a seed each
    Z = ensemble._standardized(X_NAN[:300])
    recons = [m.inverse_transform(m.transform(Z)) for m in members]
    kept = ensemble.observed_features_
    expected = np.mean(recons, axis=0) * ensemble.scale_[kept] + ensemble.mean_[kept]
    holes = HOLES[:300][:, kept]
    filled = ensemble.transform(X_NAN[:300])
    np.testing.assert_allclose(filled[holes], expected[holes], rtol=1e-5, atol=1e-4)


def test_one_estimator_is_the_plain_imputer():
    one = _imputer(n_estimators=1).fit(X_NAN[:300])
    assert one.autoencoder_.random_state == 0 and len(one.autoencoders_) == 1
