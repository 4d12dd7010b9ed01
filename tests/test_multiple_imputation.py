"""Multiple imputation: DenoisingAutoencoderImputer(sample_posterior=True)
measures its error of imputation on held-out entries and draws imputations
with it."""

import numpy as np
import pytest
from sklearn.base import clone

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


def _table(n_rows=400, seed=0):
    """Five columns driven by two factors, plus noise; 30% of entries missing."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n_rows, 2))
    X = np.tanh(factors @ rng.normal(size=(2, 5))) + 0.2 * rng.normal(size=(n_rows, 5))
    holes = rng.random(X.shape) < 0.3
    return X, holes, np.where(holes, np.nan, X)


X, HOLES, X_NAN = _table()


@pytest.fixture(scope="module")
def drawing():
    imputer = DenoisingAutoencoderImputer(
        sample_posterior=True, max_epochs=40, autoencoder=on_cpu(), random_state=0
    )
    return imputer.fit(X_NAN)


def test_draws_keep_the_observed_entries_and_differ_at_the_holes(drawing):
    draws = drawing.sample(X_NAN, n_draws=4, random_state=0)
    assert draws.shape == (4, *X.shape)
    for draw in draws:
        np.testing.assert_array_equal(draw[~HOLES], X[~HOLES])
    assert not np.isnan(draws).any()
    assert (draws[0][HOLES] != draws[1][HOLES]).all()


def test_draws_are_seeded(drawing):
    first = drawing.sample(X_NAN, n_draws=3, random_state=7)
    again = drawing.sample(X_NAN, n_draws=3, random_state=7)
    other = drawing.sample(X_NAN, n_draws=3, random_state=8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_transform_returns_one_draw_the_same_at_every_call(drawing):
    fresh = clone(drawing).set_params(max_epochs=3)
    once = fresh.fit_transform(X_NAN)
    np.testing.assert_array_equal(fresh.transform(X_NAN), once)
    np.testing.assert_array_equal(fresh.transform(X_NAN), once)
    point = clone(fresh).set_params(sample_posterior=False).fit(X_NAN)
    assert point.residual_scale_ is None
    assert not np.array_equal(once[HOLES], point.transform(X_NAN)[HOLES])


def test_the_draws_spread_as_the_error_they_measured(drawing):
    # The spread of the draws at a hole is its column's residual_scale_ ...
    draws = drawing.sample(X_NAN, n_draws=200, random_state=0)
    spread = draws.std(axis=0)
    rows, columns = np.nonzero(HOLES)
    np.testing.assert_allclose(
        spread[rows, columns], drawing.residual_scale_[columns], rtol=0.25
    )
    # ... and their 90% intervals cover about 90% of the true values.
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    coverage = ((X >= low) & (X <= high))[HOLES].mean()
    assert 0.8 < coverage < 0.97


def test_residual_scale_is_in_the_columns_units():
    scales = np.array([1e-3, 1.0, 10.0, 1e3, 1.0])
    plain = DenoisingAutoencoderImputer(
        sample_posterior=True, max_epochs=5, autoencoder=on_cpu(), random_state=0
    ).fit(X_NAN)
    scaled = clone(plain).fit(X_NAN * scales)
    # Equal up to the rounding training carries (the scales span 10^6).
    np.testing.assert_allclose(
        scaled.residual_scale_ / scales, plain.residual_scale_, rtol=1e-2
    )


def test_an_empty_column_gets_no_noise():
    X_empty = np.column_stack([X_NAN, np.full(len(X_NAN), np.nan)])
    imputer = DenoisingAutoencoderImputer(
        sample_posterior=True,
        keep_empty_features=True,
        max_epochs=3,
        autoencoder=on_cpu(),
        random_state=0,
    ).fit(X_empty)
    assert imputer.residual_scale_[-1] == 0
    draws = imputer.sample(X_empty, n_draws=2, random_state=0)
    assert (draws[:, :, -1] == 0).all()


def test_sample_needs_sample_posterior():
    point = DenoisingAutoencoderImputer(max_epochs=2, random_state=0).fit(X_NAN)
    with pytest.raises(ValueError, match="sample_posterior=True"):
        point.sample(X_NAN)


@pytest.mark.parametrize("n_draws", [0, -1, 2.5, True])
def test_sample_refuses_a_bad_number_of_draws(drawing, n_draws):
    with pytest.raises(ValueError, match="n_draws"):
        drawing.sample(X_NAN, n_draws=n_draws)


def test_a_fit_that_can_hold_out_nothing_fails_and_changes_nothing(drawing):
    before = drawing.residual_scale_.copy()
    one_entry = np.array([[1.0]])  # nothing to hold out
    with pytest.raises(ValueError, match="held out none"):
        drawing.fit(one_entry)
    np.testing.assert_array_equal(drawing.residual_scale_, before)
    assert drawing.n_features_in_ == X.shape[1]


def test_the_indicator_columns_are_the_same_in_every_draw():
    imputer = DenoisingAutoencoderImputer(
        sample_posterior=True, add_indicator=True, max_epochs=2, random_state=0
    ).fit(X_NAN)
    draws = imputer.sample(X_NAN, n_draws=2, random_state=0)
    assert draws.shape == (2, X.shape[0], 2 * X.shape[1])
    np.testing.assert_array_equal(draws[0][:, 5:], HOLES.astype(float))
    np.testing.assert_array_equal(draws[1][:, 5:], HOLES.astype(float))


def test_onnx_export_refuses_an_imputer_that_draws(drawing):
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx

    import sk_dae.onnx  # noqa: F401  (registers the converters)

    with pytest.raises(ValueError, match="sample_posterior=False"):
        to_onnx(drawing, X_NAN[:1].astype(np.float32))
