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

from sk_dae import DenoisingAutoencoderImputer

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
HOLES = np.random.default_rng(0).random(X_DIGITS.shape) < 0.3
X_NAN = np.where(HOLES, np.nan, X_DIGITS)


def _imputer(**kwargs):
    params = dict(device="cpu", max_epochs=5, random_state=0)
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
    np.testing.assert_allclose(scaled / scales, plain, rtol=1e-4, atol=1e-6)


def test_the_defaults_resolve_from_the_data():
    small = _imputer().fit(X_NAN[:200])  # under 10,000 rows: no early stopping
    assert small.autoencoder_.hidden_layer_sizes == (128,) * 3  # 2 x 64 features
    assert small.autoencoder_.early_stopping is False
    assert small.autoencoder_.batch_size == 64
    many_rows = np.tile(X_NAN, (6, 1))  # 10,782 rows
    large = _imputer(hidden_layer_sizes=(8,), max_epochs=1).fit(many_rows)
    assert large.autoencoder_.early_stopping is True
    assert large.autoencoder_.validation_scores_
    wide = _imputer(hidden_layer_sizes=(8, 8), early_stopping=False).fit(X_NAN)
    assert wide.autoencoder_.hidden_layer_sizes == (8, 8)


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
    grid = {"columntransformer__numbers__corruption_level": [0.25, 0.5]}
    search = GridSearchCV(model, grid, cv=2).fit(frame, Y_DIGITS)
    assert 0.2 < search.best_score_ <= 1
    assert not np.isnan(search.best_estimator_[0].transform(frame)).any()


@pytest.mark.usefixtures("one_thread")
def test_clone_and_refit_give_the_same_imputations(fitted):
    again = clone(fitted).fit(X_NAN)
    np.testing.assert_array_equal(again.transform(X_NAN), fitted.transform(X_NAN))


def test_auto_batches_grow_with_the_rows_up_to_512():
    from sk_dae._imputer import _auto_batch_size

    sizes = [_auto_batch_size(n) for n in (150, 10_000, 100_000, 10**7)]
    assert sizes == [64, 64, 500, 512]
