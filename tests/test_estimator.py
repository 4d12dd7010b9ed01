import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._noise import mask_noise

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_UNIT = X_DIGITS / 16.0  # digits scaled into [0, 1]


def _dae(**kwargs):
    params = dict(device="cpu", hidden_layer_sizes=(32,), max_epochs=3, random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


def test_pipeline_and_grid_search_over_corruption_level():
    pipe = Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("dae", _dae(hidden_layer_sizes=(64,), max_epochs=5)),
            ("svm", SVC()),
        ]
    )
    grid = {"dae__corruption_level": [0.0, 0.1, 0.3, 0.5]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X_DIGITS, Y_DIGITS)
    assert search.cv_results_["mean_test_score"].shape == (4,)
    assert search.best_score_ > 0.9


def test_denoising_works_reconstruction_is_closer_to_clean_than_corruption():
    dae = _dae(hidden_layer_sizes=(64,), loss="bce", max_epochs=30, lr=1e-2).fit(X_UNIT)
    X = torch.from_numpy(X_UNIT.astype(np.float32))
    X_tilde, _ = mask_noise(X, 0.3, torch.Generator().manual_seed(123))
    X_tilde = X_tilde.numpy()
    restored = dae.inverse_transform(dae.transform(X_tilde))
    err_corrupted = np.mean((X_tilde - X_UNIT) ** 2)
    err_restored = np.mean((restored - X_UNIT) ** 2)
    assert err_restored < 0.5 * err_corrupted


def test_loss_is_measured_against_the_clean_input():
    # Corruption shifts every input by +1. Reconstructing the corrupted input
    # would keep the shift; the denoising criterion learns to remove it.
    def shift(X, level, generator):
        return X + 1.0

    dae = _dae(
        hidden_layer_sizes=(64,),
        corruption=shift,
        activation="relu",
        max_epochs=40,
        lr=3e-3,
    ).fit(X_UNIT)
    restored = dae.inverse_transform(dae.transform(X_UNIT + 1.0))
    assert np.abs(restored.mean() - X_UNIT.mean()) < 0.25
    assert np.abs(restored.mean() - (X_UNIT.mean() + 1.0)) > 0.75


def test_fresh_noise_is_drawn_for_every_batch_of_every_epoch():
    masks = []

    def recording_mask(X, level, generator):
        X_tilde, corrupted = mask_noise(X, level, generator)
        masks.append(corrupted.numpy().tobytes())
        return X_tilde

    X = X_UNIT[:250]
    _dae(corruption=recording_mask, batch_size=100, max_epochs=4).fit(X)
    assert len(masks) == 4 * 3  # ceil(250 / 100) batches per epoch
    assert len(set(masks)) == len(masks)


@pytest.mark.parametrize("stacking", ["greedy", "joint"])
def test_stacked_shapes_and_history(stacking):
    dae = _dae(hidden_layer_sizes=(40, 20, 10), stacking=stacking, max_epochs=2)
    codes = dae.fit_transform(X_UNIT)
    assert codes.shape == (len(X_UNIT), 10)
    assert dae.inverse_transform(codes).shape == X_UNIT.shape
    layers = list(dae.net_.history[:, "layer"])
    if stacking == "greedy":
        assert layers == [0, 0, 1, 1, 2, 2]
        assert dae.n_iter_ == 6
    else:
        assert layers == [None, None]
        assert dae.n_iter_ == 2
    assert len(dae.loss_curve_) == dae.n_iter_
    assert all(np.isfinite(dae.loss_curve_))


def test_greedy_pretraining_freezes_lower_layers():
    # Layer 0 of a greedy stack is trained exactly as a one-layer DAE (same
    # seeds, same noise) and left untouched while layer 1 trains.
    one = _dae(hidden_layer_sizes=(24,)).fit(X_UNIT)
    two = _dae(hidden_layer_sizes=(24, 12)).fit(X_UNIT)
    torch.testing.assert_close(
        one.net_.module_.layers[0].weight, two.net_.module_.layers[0].weight
    )
    np.testing.assert_allclose(
        one.transform(X_UNIT),
        two.net_.module_.encode(torch.from_numpy(X_UNIT.astype(np.float32)), depth=1)
        .detach()
        .numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_per_layer_corruption_levels():
    dae = _dae(hidden_layer_sizes=(32, 16), corruption_level=[0.3, 0.0]).fit(X_UNIT)
    assert dae.transform(X_UNIT).shape == (len(X_UNIT), 16)


@pytest.mark.parametrize("corruption", ["mask", "gaussian", "salt_and_pepper", "swap"])
def test_every_corruption_trains_to_finite_features(corruption):
    dae = _dae(corruption=corruption, corruption_level=0.2).fit(X_UNIT)
    assert np.all(np.isfinite(dae.transform(X_UNIT)))
    assert dae.loss_curve_[-1] < dae.loss_curve_[0]


@pytest.mark.parametrize("emphasis", ["full", "double", (2.0, 1.0)])
def test_emphasized_denoising_trains(emphasis):
    dae = _dae(emphasis=emphasis, max_epochs=5).fit(X_UNIT)
    assert dae.net_.criterion_.emphasis is not None
    assert dae.loss_curve_[-1] < dae.loss_curve_[0]


def test_emphasis_changes_the_model():
    plain = _dae().fit(X_UNIT).transform(X_UNIT)
    full = _dae(emphasis="full").fit(X_UNIT).transform(X_UNIT)
    assert not np.allclose(plain, full)


@pytest.mark.usefixtures("one_thread")
def test_same_random_state_same_features_other_state_differs():
    a = _dae(random_state=7).fit_transform(X_UNIT)
    b = _dae(random_state=7).fit_transform(X_UNIT)
    c = _dae(random_state=8).fit_transform(X_UNIT)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_leaves_global_rngs_alone():
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    _dae(corruption="swap").fit(X_UNIT)
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.array_equal(np_state[1], np.random.get_state()[1])


def test_clone_gives_an_unfitted_copy_with_the_same_params():
    dae = _dae(corruption_level=0.4).fit(X_UNIT)
    copy = clone(dae)
    assert copy.get_params() == dae.get_params()
    assert not hasattr(copy, "net_")


@pytest.mark.usefixtures("one_thread")
def test_transform_is_deterministic_and_matches_fit_transform():
    dae = _dae()
    codes = dae.fit_transform(X_UNIT)
    np.testing.assert_array_equal(codes, dae.transform(X_UNIT))
    np.testing.assert_array_equal(codes, dae.transform(X_UNIT))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_keeps_the_input_float_dtype(dtype):
    X = X_UNIT.astype(dtype)
    dae = _dae().fit(X)
    codes = dae.transform(X)
    assert codes.dtype == dtype
    assert dae.inverse_transform(codes).dtype == dtype
    assert dae.score_samples(X).dtype == dtype


def test_float32_and_float64_inputs_agree():
    dae = _dae().fit(X_UNIT)
    np.testing.assert_allclose(
        dae.transform(X_UNIT.astype(np.float32)), dae.transform(X_UNIT), atol=1e-5
    )


def test_integer_input_is_accepted_as_float64():
    dae = _dae().fit(X_DIGITS.astype(np.int64))
    assert dae.transform(X_DIGITS.astype(np.int64)).dtype == np.float64


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_equals_dense(fmt):
    X_sparse = sp.csr_matrix(X_UNIT).asformat(fmt)
    dense = _dae(corruption="salt_and_pepper", corruption_level=0.1).fit(X_UNIT)
    sparse = _dae(corruption="salt_and_pepper", corruption_level=0.1).fit(X_sparse)
    np.testing.assert_allclose(
        sparse.transform(X_sparse), dense.transform(X_UNIT), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        sparse.score_samples(X_sparse),
        dense.score_samples(X_UNIT),
        rtol=1e-6,
        atol=1e-6,
    )


def test_sparse_float64_transform_keeps_float64_precision():
    dae = _dae().fit(X_UNIT)
    X = X_UNIT + 1e-9  # a difference float32 would round away
    # float64 rounding apart (another buffer), far below float32's.
    np.testing.assert_allclose(
        dae.transform(sp.csr_matrix(X)), dae.transform(X), rtol=1e-10, atol=1e-12
    )


def test_device_may_be_a_torch_device():
    assert _dae(device=torch.device("cpu")).fit(X_UNIT).device_ == "cpu"


def test_feature_names_and_pandas_output():
    df = pd.DataFrame(X_UNIT, columns=[f"px{i}" for i in range(64)])
    dae = _dae(hidden_layer_sizes=(5,)).set_output(transform="pandas").fit(df)
    assert list(dae.feature_names_in_) == list(df.columns)
    names = [f"denoisingautoencodertransformer{i}" for i in range(5)]
    assert list(dae.get_feature_names_out()) == names
    out = dae.transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == names
    assert out.index.equals(df.index)
    assert dae.inverse_transform(out).shape == df.shape


def test_partial_fit_initialises_then_continues():
    dae = _dae(hidden_layer_sizes=(32, 16))
    dae.partial_fit(X_UNIT)
    assert dae.n_iter_ == 2  # one epoch per layer
    first = dae.score(X_UNIT)
    for _ in range(5):
        dae.partial_fit(X_UNIT)
    assert dae.n_iter_ == 12
    assert dae.score(X_UNIT) > first


def test_score_samples_flags_rows_unlike_the_training_data():
    dae = _dae(max_epochs=10).fit(X_UNIT)
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 1, size=(100, 64))
    assert dae.score_samples(X_UNIT[:100]).mean() > dae.score_samples(noise).mean()
    assert dae.score(X_UNIT) == pytest.approx(dae.score_samples(X_UNIT).mean())


def test_bce_score_is_minus_cross_entropy():
    dae = _dae(loss="bce").fit(X_UNIT)
    recon = dae.inverse_transform(dae.transform(X_UNIT))
    eps = 1e-7
    recon = np.clip(recon, eps, 1 - eps)
    bce = -(X_UNIT * np.log(recon) + (1 - X_UNIT) * np.log(1 - recon)).mean(axis=1)
    np.testing.assert_allclose(dae.score_samples(X_UNIT), -bce, rtol=1e-3, atol=1e-4)


# -- bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.inf, "infinity"),
        (-np.inf, "infinity"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "transform", "score_samples"])
def test_infinite_input_is_refused(bad, match, method):
    # NaN is a missing value (tests/test_missing.py); inf never is.
    X = X_UNIT.copy()
    X[3, 5] = bad
    dae = _dae() if method == "fit" else _dae().fit(X_UNIT)
    with pytest.raises(ValueError, match=match):
        getattr(dae, method)(X)


def test_empty_input_is_refused():
    with pytest.raises(ValueError, match="0 sample"):
        _dae().fit(np.empty((0, 64)))


def test_wrong_number_of_features_at_transform():
    dae = _dae().fit(X_UNIT)
    with pytest.raises(ValueError, match="64 features"):
        dae.transform(X_UNIT[:, :10])


def test_wrong_code_width_at_inverse_transform():
    dae = _dae().fit(X_UNIT)
    with pytest.raises(ValueError, match="codes of width 32"):
        dae.inverse_transform(np.zeros((3, 31)))


def test_bce_refuses_training_data_outside_unit_interval_and_says_what_to_do():
    with pytest.raises(ValueError, match="MinMaxScaler.*loss='mse'"):
        _dae(loss="bce").fit(X_DIGITS)
    with pytest.raises(ValueError, match="MinMaxScaler"):
        _dae(loss="bce").fit(sp.csr_matrix(X_DIGITS))


def test_bce_accepts_test_rows_slightly_outside_unit_interval():
    dae = _dae(loss="bce").fit(X_UNIT)
    codes = dae.transform(X_UNIT * 1.1 - 0.05)
    assert np.all(np.isfinite(codes))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"corruption_level": 1.0}, "fraction of corrupted inputs"),
        ({"corruption": "swap", "corruption_level": 1.5}, "must be in \\[0, 1\\)"),
        ({"corruption_level": -0.1}, "corruption_level"),
        ({"corruption_level": [0.1, 0.2, 0.3]}, "one value per hidden layer"),
        ({"corruption_level": [0.1, -0.2]}, "finite and >= 0"),
        ({"corruption": "dropout"}, "corruption"),
        ({"hidden_layer_sizes": (32, 0)}, "positive ints"),
        ({"hidden_layer_sizes": ()}, "positive ints"),
        ({"hidden_layer_sizes": 0}, "hidden_layer_sizes"),
        ({"activation": "gelu"}, "activation"),
        ({"loss": "l1"}, "loss"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"lr": 0.0}, "lr"),
        ({"stacking": "both"}, "stacking"),
        ({"emphasis": "half"}, "emphasis"),
        ({"emphasis": (1.0, -1.0)}, "non-negative"),
        ({"emphasis": (0.0, 0.0)}, "not both zero"),
        ({"emphasis": "full", "corruption": "gaussian"}, "touches every input"),
        ({"device": "tpu"}, "device='tpu'"),
    ],
)
def test_invalid_parameters_get_a_clear_error(params, match):
    params = {"hidden_layer_sizes": (32, 16), **params}
    with pytest.raises(ValueError, match=match):
        _dae(**params).fit(X_UNIT)


def test_joint_stacking_takes_a_single_corruption_level():
    with pytest.raises(ValueError, match="single float"):
        _dae(
            hidden_layer_sizes=(32, 16), stacking="joint", corruption_level=[0.3, 0.1]
        ).fit(X_UNIT)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_explicit_cuda_without_a_gpu_is_an_error_and_auto_falls_back():
    with pytest.raises(ValueError, match="CUDA is not available.*device='auto'"):
        _dae(device="cuda").fit(X_UNIT)
    assert _dae(device="auto").fit(X_UNIT).device_ == "cpu"


def test_a_failed_call_leaves_the_fitted_model_unchanged():
    dae = _dae().fit(X_UNIT)
    codes, state = dae.transform(X_UNIT), dict(vars(dae))
    X_bad = X_UNIT[:, :10].copy()
    X_bad[0, 0] = np.inf
    for call in (dae.fit, dae.partial_fit):
        with pytest.raises(ValueError):
            call(X_bad)
    dae.set_params(loss="bce")
    with pytest.raises(ValueError, match="MinMaxScaler"):
        dae.fit(X_DIGITS[:, :10])
    assert dae.n_features_in_ == 64
    assert dae.net_ is state["net_"]
    np.testing.assert_array_equal(dae.transform(X_UNIT), codes)


def test_unfitted_methods_raise_not_fitted():
    from sklearn.exceptions import NotFittedError

    for method in ("transform", "inverse_transform", "score_samples", "score"):
        with pytest.raises(NotFittedError):
            getattr(_dae(), method)(X_UNIT)
