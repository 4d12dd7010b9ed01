"""Missing values (NaN) in DenoisingAutoencoderTransformer: they enter as the input
fill (0 by default), are never targets, the noise respects them, and complete
data is unaffected."""

import warnings
from functools import partial

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.utils import check_array

import sk_dae._data
import sk_dae._validation
from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._loss import loss_weights
from sk_dae._missing import empty_columns, empty_rows, has_missing, split_missing
from sk_dae._noise import (
    DROPPING_NOISES,
    IMAGE_NOISES,
    NOISE_FUNCTIONS,
    NoiseRNG,
    user_noise,
)
from sk_dae._validation import finite_or_missing

X_UNIT = load_digits().data / 16.0
RNG = np.random.default_rng(0)
HOLES = RNG.random(X_UNIT.shape) < 0.3
X_NAN = np.where(HOLES, np.nan, X_UNIT)


def _dae(**kwargs):
    params = dict(device="cpu", hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


@pytest.fixture(scope="module")
def fitted():
    return _dae().fit(X_NAN)


def test_tags_allow_nan():
    assert _dae().__sklearn_tags__().input_tags.allow_nan


@pytest.mark.parametrize(
    "params", [{}, {"stacking": "joint", "hidden_layer_sizes": (16, 8)}]
)
def test_every_method_takes_nan_and_returns_finite_values(params):
    dae = _dae(**params).fit(X_NAN)
    dae.partial_fit(X_NAN)
    assert np.all(np.isfinite(dae.loss_curve_))
    assert np.all(np.isfinite(dae.transform(X_NAN)))
    assert np.all(np.isfinite(dae.score_samples(X_NAN)))
    assert np.isfinite(dae.score(X_NAN))


def test_a_missing_entry_enters_as_zero(fitted):
    zeros = np.where(HOLES, 0.0, X_UNIT)
    np.testing.assert_allclose(
        fitted.transform(X_NAN), fitted.transform(zeros), rtol=1e-10, atol=1e-12
    )


def test_sparse_nan_equals_dense_nan(fitted):
    # Explicit NaN entries of a sparse matrix are missing; implicit zeros are 0.
    sparse = sp.csr_matrix(X_NAN)
    np.testing.assert_allclose(
        fitted.transform(sparse), fitted.transform(X_NAN), rtol=1e-12
    )
    np.testing.assert_allclose(
        fitted.score_samples(sparse), fitted.score_samples(X_NAN), rtol=1e-12
    )
    dense_fit = _dae().fit(X_NAN)
    sparse_fit = _dae().fit(sp.csr_matrix(X_NAN))
    np.testing.assert_allclose(sparse_fit.loss_curve_, dense_fit.loss_curve_, rtol=1e-5)


def test_missing_entries_are_not_scored(fitted):
    # score_samples: minus the mean squared error over each row's observed entries.
    zeros = np.where(HOLES, 0.0, X_UNIT)
    recon = fitted.inverse_transform(fitted.transform(zeros))
    errors = np.where(HOLES, 0.0, (recon - X_UNIT) ** 2)
    want = -errors.sum(axis=1) / (~HOLES).sum(axis=1)
    np.testing.assert_allclose(fitted.score_samples(X_NAN), want, rtol=1e-10)


def test_training_on_holes_is_not_training_on_zeros():
    # Zeros would be targets; holes are not (tests/test_backprop.py checks that
    # the loss is the same whatever a hole holds).
    holes = _dae().fit(X_NAN)
    zeros = _dae().fit(np.where(HOLES, 0.0, X_UNIT))
    assert not np.allclose(zeros.loss_curve_, holes.loss_curve_, rtol=0.05)


@pytest.mark.parametrize(
    "corruption, emphasis",
    # Emphasis needs a corruption that touches a subset of the entries.
    [
        (c, e)
        for c in NOISE_FUNCTIONS
        for e in (None, "double")
        if c != "gaussian" or not e
    ],
)
def test_every_corruption_trains_on_holes(corruption, emphasis):
    dae = _dae(corruption=corruption, emphasis=emphasis, corruption_level=0.2)
    if corruption in IMAGE_NOISES:
        dae.set_params(image_shape=(8, 8))
    dae.fit(X_NAN)
    assert np.all(np.isfinite(dae.loss_curve_))
    assert dae.loss_curve_[-1] < dae.loss_curve_[0]


def test_validation_loss_counts_observed_entries_only():
    dae = _dae(early_stopping=True, max_epochs=4, n_iter_no_change=10).fit(X_NAN)
    assert len(dae.validation_scores_) == 4
    assert np.all(np.isfinite(dae.validation_scores_))


def test_missing_data_trains_the_hand_derived_and_autograd_paths_alike():
    # One layer, joint or greedy: the joint stage of a single layer uses the
    # hand-derived gradients, a two-layer joint stack autograd; a greedy stack's
    # first stage is hand-derived. All must learn on the holes.
    for params in [{}, {"stacking": "joint", "hidden_layer_sizes": (16, 8)}]:
        dae = _dae(max_epochs=5, **params).fit(X_NAN)
        assert dae.loss_curve_[-1] < dae.loss_curve_[0]


# -- the noise around holes ----------------------------------------------------


def _holed_batch():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(64, 20, generator=generator) + 1  # every observed value >= 1
    x[torch.rand(64, 20, generator=generator) < 0.4] = float("nan")
    return split_missing(x)


NOISES = {
    **NOISE_FUNCTIONS,
    "salt_and_pepper": lambda X, level, rng, observed=None: NOISE_FUNCTIONS[
        "salt_and_pepper"
    ](X, level, rng, observed, low=torch.full((20,), 1.0), high=torch.full((20,), 2.0)),
    "callable": user_noise(lambda X, level, generator: X + 1),
    "block_mask": partial(NOISE_FUNCTIONS["block_mask"], image_shape=(4, 5)),
}


@pytest.mark.parametrize("name", sorted(NOISES))
def test_every_noise_leaves_holes_at_zero(name):
    x, observed = _holed_batch()
    x_tilde, corrupted = NOISES[name](x, 0.5, NoiseRNG(seed=0), observed=observed)
    assert torch.all(x_tilde[~observed] == 0)
    assert torch.all(x[~observed] == 0)  # the clean batch is untouched
    if corrupted is not None and name not in DROPPING_NOISES:
        assert not torch.any(corrupted[~observed])


def test_swap_noise_never_takes_a_missing_value():
    x, observed = _holed_batch()
    x_tilde, corrupted = NOISE_FUNCTIONS["swap"](
        x, 0.9, NoiseRNG(seed=0), observed=observed
    )
    assert corrupted.any()
    # Every observed value is >= 1 and a hole holds 0: no 0 may appear.
    assert torch.all(x_tilde[observed] >= 1)


def test_masking_counts_holes_as_corrupted():
    x, observed = _holed_batch()
    _, corrupted = NOISE_FUNCTIONS["mask"](x, 0.0, NoiseRNG(seed=0), observed=observed)
    assert torch.equal(corrupted, ~observed)


def test_salt_and_pepper_ranges_come_from_observed_values():
    X = X_UNIT.copy()
    X[:, 10] = 0.25
    X[::2, 10] = np.nan  # the column's observed values are all 0.25
    dae = _dae(corruption="salt_and_pepper").fit(X)
    low, high = dae.corruption_.ranges[0]
    assert low[10] == high[10] == np.float32(0.25)
    assert np.all(np.isfinite(low)) and np.all(np.isfinite(high))


def test_emphasis_weights_only_observed_entries():
    corrupted = torch.tensor([[True, False, True, False]])
    observed = torch.tensor([[True, True, False, False]])
    weight = loss_weights(corrupted, (1.0, 0.5), observed)
    # Half the entries observed: each observed weight is doubled, so that the
    # mean over all four entries is the mean over the two observed ones.
    torch.testing.assert_close(weight, torch.tensor([[2.0, 1.0, 0.0, 0.0]]))


# -- empty rows and columns ----------------------------------------------------


def test_an_empty_row_trains_nothing_encodes_as_zeros_and_scores_nan(fitted):
    X = X_NAN.copy()
    X[5] = np.nan
    np.testing.assert_array_equal(
        fitted.transform(X[5:6]), fitted.transform(np.zeros((1, 64)))
    )
    scores = fitted.score_samples(X)
    assert np.isnan(scores[5]) and np.all(np.isfinite(np.delete(scores, 5)))
    assert fitted.score(X) == pytest.approx(np.mean(np.delete(scores, 5)))
    # Fitting with the empty row is fitting without it, but for the batching.
    dae = _dae(batch_size=len(X)).fit(X)
    assert np.all(np.isfinite(dae.loss_curve_))


def test_all_missing_is_a_clear_error(fitted):
    everything = np.full((10, 64), np.nan)
    for call in (_dae().fit, _dae().partial_fit):
        with pytest.raises(ValueError, match="Every entry of X is missing"):
            call(everything)
    with pytest.raises(ValueError, match="observed entry"):
        fitted.score(everything)


def test_an_empty_column_at_fit_warns_and_names_it():
    X = X_NAN.copy()
    X[:, [3, 40]] = np.nan
    with pytest.warns(UserWarning, match=r"2 column\(s\).*indices 3, 40"):
        dae = _dae().fit(X)
    assert np.all(np.isfinite(dae.transform(X)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one part of the data: no warning
        dae.partial_fit(X)


def test_empty_lines_dense_and_sparse_agree():
    X = np.array([[np.nan, 0.0, np.nan], [np.nan, np.nan, np.nan], [np.nan, 1, 2]])
    for M in (X, sp.csr_matrix(X), sp.csc_matrix(X)):
        assert empty_columns(M).tolist() == [0]
        assert empty_rows(M).tolist() == [1]
        assert has_missing(M)
    # An implicit zero is observed.
    S = sp.csr_matrix(np.array([[np.nan, 0.0], [np.nan, np.nan]]))
    assert empty_columns(S).tolist() == [0] and empty_rows(S).tolist() == [1]
    assert not has_missing(np.ones((3, 3))) and not has_missing(sp.eye(3).tocsr())


def test_has_missing_when_a_float32_sum_overflows():
    # has_missing sums in X's dtype: large finite values overflow to inf and
    # -inf, whose sum is NaN, yet no entry is missing.
    big = np.array([3e38] * 256 + [-3e38] * 256, dtype=np.float32).reshape(8, -1)
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(np.sum(big))  # the premise: the sum alone would say NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and the overflow warns nobody
        assert not has_missing(big)
        big[3, 5] = np.nan
        assert has_missing(big)
        assert has_missing(np.array([[1.0, np.nan]], dtype=np.float32))


def _matrices_to_check():
    big = np.array([3e38] * 256 + [-3e38] * 256, dtype=np.float32).reshape(8, -1)
    for dtype in (np.float32, np.float64):
        base = RNG.random((6, 5)).astype(dtype)
        for value in (None, np.nan, np.inf, -np.inf):
            M = base.copy()
            if value is not None:
                M[2, 3] = value
            yield M
            yield sp.csr_matrix(M)
        both = base.copy()
        both[0, 0], both[4, 1] = np.nan, np.inf
        yield both
    yield big  # finite entries whose float32 sum overflows
    yield np.where(np.arange(big.size).reshape(big.shape) == 7, np.nan, big)


@pytest.mark.parametrize(
    "M", list(_matrices_to_check()), ids=lambda M: type(M).__name__
)
def test_finite_or_missing_agrees_with_scikit_learn(M):
    # The one-pass check stands in for validate_data(ensure_all_finite=
    # "allow-nan") followed by has_missing: it refuses what scikit-learn
    # refuses, with its message, and finds NaN where has_missing finds it.
    try:
        check_array(
            M, accept_sparse="csr", ensure_all_finite="allow-nan", input_name="X"
        )
    except ValueError as exc:
        with pytest.raises(ValueError, match="contains infinity") as ours:
            finite_or_missing(M)
        assert str(ours.value) == str(exc)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sum's overflow warns nobody
        assert finite_or_missing(M) is has_missing(M)


def test_inf_stays_an_error_next_to_nan():
    X = X_NAN.copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        _dae().fit(X)


# -- complete data -------------------------------------------------------------


def test_complete_data_takes_the_path_without_masks(monkeypatch):
    import sk_dae._net

    calls = []
    real = sk_dae._net.split_missing
    monkeypatch.setattr(
        sk_dae._net, "split_missing", lambda b: calls.append(1) or real(b)
    )
    _dae().fit(X_UNIT).transform(X_UNIT)
    assert not calls
    _dae().fit(X_NAN)
    assert calls


@pytest.mark.parametrize(
    "params",
    [{}, {"early_stopping": True, "validation": "rows"}],
    ids=["plain", "held-out-rows"],
)
@pytest.mark.parametrize("X", [X_UNIT, X_NAN], ids=["complete", "holes"])
def test_fit_looks_for_missing_entries_once(monkeypatch, X, params):
    # The pass that refuses inf finds whether X has a hole; that answer goes
    # down with X, so neither the checks nor the training rows look again.
    looks = []

    def counted(M):
        looks.append(M.shape)
        return has_missing(M)

    for module in (sk_dae._data, sk_dae._validation):
        monkeypatch.setattr(module, "has_missing", counted)
    dae = _dae(max_epochs=2, **params).fit(X)
    assert X.shape not in looks
    assert np.isfinite(dae.transform(X)).all()
