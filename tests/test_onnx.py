"""ONNX export: onnxruntime's output against ``transform``, for every setting."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer
from sk_dae._fill import FILLS
from sk_dae._functions import ACTIVATIONS, LOSSES

ort = pytest.importorskip("onnxruntime")  # the tests extra installs it
skl2onnx = pytest.importorskip("skl2onnx")
import sk_dae.onnx  # noqa: E402, F401  (registers the converters)


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


TIED = DenoisingAutoencoderTransformer(device="cpu", tied_weights=True)
LEARNED_FILL = DenoisingAutoencoderTransformer(device="cpu", input_fill="learned")

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_UNIT = X_DIGITS[:600] / 16
HOLES = np.random.default_rng(0).random(X_UNIT.shape) < 0.3
ENCODER_ACTIVATIONS = sorted(set(ACTIVATIONS) - {"identity"})


def _dae(**kwargs):
    params = dict(hidden_layer_sizes=(24,), max_epochs=2, device="cpu", random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


def _onnx_run(model, X, **options):
    """What onnxruntime computes from ``to_onnx(model, X[:1])``, on all of X."""
    onx = skl2onnx.to_onnx(model, X[:1], **options)
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def _assert_same_labels(labels, pipe, X):
    # Another summation order may flip a row whose two likeliest classes tie
    # within rounding: compare the rows that have a clear winner.
    top_two = np.sort(pipe.predict_proba(X), axis=1)[:, -2:]
    clear = top_two[:, 1] - top_two[:, 0] > 1e-4
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(labels[clear], pipe.predict(X)[clear])


def _assert_close(served, expected, dtype):
    # float32: within 1e-5 of each value or of the output's scale (relu and
    # tanh codes near 0 differ in their last bits only: another summation
    # order). float64: the same arithmetic in double precision.
    tol = 1e-5 if dtype == np.float32 else 1e-10
    assert served.dtype == expected.dtype == dtype
    scale = np.abs(expected).max()
    np.testing.assert_allclose(served, expected, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tied_weights", [False, True])
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("activation", ENCODER_ACTIVATIONS)
def test_transform_matches_for_every_activation_loss_and_tying(
    activation, loss, tied_weights, dtype
):
    dae = _dae(activation=activation, loss=loss, tied_weights=tied_weights)
    X = X_UNIT.astype(dtype)
    dae.fit(X)
    _assert_close(_onnx_run(dae, X)[0], dae.transform(X), dtype)


@pytest.mark.parametrize("stacking", ["greedy", "joint"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_transform_matches_at_every_depth(depth, stacking):
    dae = _dae(hidden_layer_sizes=(40, 24, 12)[:depth], stacking=stacking)
    X = X_UNIT.astype(np.float32)
    dae.fit(X)
    served = _onnx_run(dae, X)[0]
    assert served.shape == (len(X), dae.hidden_layer_sizes[-1])
    _assert_close(served, dae.transform(X), np.float32)


@pytest.mark.parametrize("input_fill", sorted(FILLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_missing_value_enters_as_the_fill_as_in_transform(dtype, input_fill):
    dae = _dae(activation="relu", input_fill=input_fill).fit(X_UNIT)
    X = np.where(HOLES, np.nan, X_UNIT).astype(dtype)
    X[0] = np.nan  # a row with nothing observed: the code of the fill itself
    served = _onnx_run(dae, X)[0]
    assert not np.isnan(served).any()
    _assert_close(served, dae.transform(X), dtype)
    fill = dae.input_fill_.astype(dtype)[None]
    _assert_close(served[:1], dae.transform(fill), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_pipeline_gives_the_same_labels_and_probabilities(dtype):
    X, y = X_DIGITS.astype(dtype), Y_DIGITS
    pipe = make_pipeline(
        MinMaxScaler(),
        _dae(hidden_layer_sizes=(32,), max_epochs=5),
        StandardScaler(),
        LogisticRegression(max_iter=500),
    ).fit(X, y)
    labels, probabilities = _onnx_run(pipe, X, options={"zipmap": False})
    _assert_same_labels(labels, pipe, X)
    np.testing.assert_allclose(probabilities, pipe.predict_proba(X), atol=1e-5)


def test_a_loaded_model_exports_like_the_fitted_one():
    dae = _dae().fit(X_UNIT)
    loaded = pickle.loads(pickle.dumps(dae))
    X = X_UNIT.astype(np.float32)
    np.testing.assert_array_equal(_onnx_run(loaded, X)[0], _onnx_run(dae, X)[0])


# -- the imputer ----------------------------------------------------------------


def _imputer(**kwargs):
    params = dict(autoencoder=on_cpu(), max_epochs=3, random_state=0)
    return DenoisingAutoencoderImputer(**{**params, **kwargs})


@pytest.fixture(scope="module")
def digits_with_holes():
    X = np.where(HOLES, np.nan, X_DIGITS[:600])
    X[:, 0] = np.nan  # a column empty at fit
    return X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"add_indicator": True},
        {"keep_empty_features": True, "add_indicator": True},
        {"activation": "tanh", "autoencoder": TIED, "hidden_layer_sizes": (48,)},
        {"activation": "sigmoid", "stacking": "greedy", "hidden_layer_sizes": (48, 24)},
        {"autoencoder": TIED, "stacking": "greedy", "hidden_layer_sizes": (48, 24)},
        {"n_estimators": 3, "autoencoder": LEARNED_FILL},
    ],
)
def test_the_imputer_fills_the_holes_as_transform_does(
    digits_with_holes, params, dtype
):
    imputer = _imputer(**params).fit(digits_with_holes)
    X = digits_with_holes.astype(dtype)
    served = _onnx_run(imputer, X)[0]
    expected = imputer.transform(X)
    _assert_close(served, expected, dtype)
    # Only the holes are filled: every observed entry passes through as it was.
    # Column 0 was empty at fit: kept as zeros, or dropped.
    if params.get("keep_empty_features"):
        np.testing.assert_array_equal(served[:, 0], 0)
        imputed = served[:, 1:64]
    else:
        imputed = served[:, :63]
    observed = ~np.isnan(X[:, 1:])
    np.testing.assert_array_equal(imputed[observed], X[:, 1:][observed])


def test_the_imputer_exports_a_numeric_placeholder():
    X = np.where(HOLES, -1.0, X_DIGITS[:600])
    imputer = _imputer(missing_values=-1.0).fit(X)
    served = _onnx_run(imputer, X.astype(np.float32))[0]
    _assert_close(served, imputer.transform(X.astype(np.float32)), np.float32)
    assert not (served == -1).any()
    # Equal compares floats from opset 11 on.
    with pytest.raises(ValueError, match="needs ONNX opset 11 or later"):
        skl2onnx.to_onnx(imputer, X[:1].astype(np.float32), target_opset=10)


@pytest.mark.parametrize("holed_columns", [[5], []])
def test_the_indicator_flags_only_the_columns_it_was_fitted_on(holed_columns):
    X = X_DIGITS[:600].copy()
    X[::3, holed_columns] = np.nan
    imputer = _imputer(add_indicator=True).fit(X)
    assert list(imputer.indicator_.features_) == holed_columns
    X_new = np.where(HOLES, np.nan, X_DIGITS[:600]).astype(np.float32)
    served = _onnx_run(imputer, X_new)[0]
    assert served.shape == (600, 64 + len(holed_columns))
    _assert_close(served, imputer.transform(X_new), np.float32)


@pytest.mark.parametrize("estimator", ["transformer", "imputer"])
def test_a_dataframe_exports_its_columns_as_one_input(estimator):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.where(HOLES, np.nan, X_UNIT).astype(np.float32))
    X.columns = [f"pixel{i}" for i in range(64)]
    model = _dae() if estimator == "transformer" else _imputer()
    model.fit(X)
    onx = skl2onnx.to_onnx(model, X[:1])
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    feeds = {name: X[[name]].to_numpy() for name in X.columns}
    served = session.run(None, feeds)[0]
    _assert_close(served, model.transform(X), np.float32)


def test_an_imputer_inside_a_pipeline_exports():
    X = np.where(HOLES, np.nan, X_DIGITS[:600]).astype(np.float32)
    pipe = make_pipeline(
        _imputer(), StandardScaler(), LogisticRegression(max_iter=300)
    ).fit(X, Y_DIGITS[:600])
    labels, probabilities = _onnx_run(pipe, X, options={"zipmap": False})
    _assert_same_labels(labels, pipe, X)
    np.testing.assert_allclose(probabilities, pipe.predict_proba(X), atol=1e-5)


# -- what cannot be exported -----------------------------------------------------


@pytest.mark.parametrize("estimator", [_dae(), _imputer()])
def test_an_unfitted_model_cannot_be_exported(estimator):
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(clone(estimator), X_UNIT[:1].astype(np.float32))


def test_a_sample_of_other_width_is_refused():
    dae = _dae().fit(X_UNIT)
    with pytest.raises(ValueError, match="fitted on 64 features.*has 10 columns"):
        skl2onnx.to_onnx(dae, X_UNIT[:1, :10].astype(np.float32))


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_only_float32_and_float64_input_exports(dtype):
    dae = _dae().fit(X_UNIT)
    with pytest.raises(TypeError, match="float32 or float64 input only.*astype"):
        skl2onnx.to_onnx(dae, X_UNIT[:1].astype(dtype))


def test_an_opset_without_isnan_is_refused():
    dae = _dae().fit(X_UNIT)
    with pytest.raises(ValueError, match="opset 9 or later; target_opset is 8\\. Pass"):
        skl2onnx.to_onnx(dae, X_UNIT[:1].astype(np.float32), target_opset=8)
