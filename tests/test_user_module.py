"""A user's own torch module (``module=``) trained with the whole engine."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback
from torch import nn

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer
from sk_dae.modules import StackEnsemble


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X = (X_DIGITS[:200] / 16).astype(np.float32)
Y = Y_DIGITS[:200]


class DenseAE(nn.Module):
    """A two-layer encoder and decoder, configured by width and told the
    input's width."""

    def __init__(self, n_features, width=8, depth=2):
        super().__init__()
        self.n_features, self.width = n_features, width
        self.encoder = nn.Sequential(
            nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, width), nn.Sigmoid()
        )
        hidden = [m for _ in range(depth - 2) for m in (nn.Linear(16, 16), nn.ReLU())]
        self.decoder = nn.Sequential(
            nn.Linear(width, 16), nn.ReLU(), *hidden, nn.Linear(16, n_features)
        )

    def encode(self, x):
        return self.encoder(x)

    def decode(self, h):
        return self.decoder(h)


class ConvAE(nn.Module):
    """A strided-convolution autoencoder of 8 x 8 images; codes (B, 4, 4, 4)."""

    def __init__(self, channels=4):
        super().__init__()
        self.encoder = nn.Conv2d(1, channels, 3, stride=2, padding=1)
        self.decoder = nn.ConvTranspose2d(
            channels, 1, 3, stride=2, padding=1, output_padding=1
        )

    def encode(self, x):
        return torch.relu(self.encoder(x.view(-1, 1, 8, 8)))

    def decode(self, h):
        return self.decoder(h).flatten(1)


class NoDecode(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(64, 4)

    def encode(self, x):
        return self.layer(x)


class WrongWidth(DenseAE):
    def decode(self, h):
        return super().decode(h)[:, :10]


class WithDropout(DenseAE):
    def __init__(self, n_features):
        super().__init__(n_features)
        self.drop = nn.Dropout(0.5)

    def encode(self, x):
        return super().encode(self.drop(x))


def _dae(**params):
    defaults = dict(module=DenseAE, max_epochs=2, batch_size=32, random_state=0)
    return DenoisingAutoencoderTransformer(**{**defaults, "device": "cpu", **params})


def _weights(dae):
    return [p.detach().clone() for p in dae.net_.module_.parameters()]


def test_a_class_is_built_with_its_parameters_and_the_input_width():
    dae = _dae(module__width=5).fit(X)
    module = dae.net_.module_
    assert isinstance(module, DenseAE)
    assert (module.n_features, module.width) == (64, 5)
    assert dae.transform(X).shape == (200, 5)
    assert (
        dae.get_feature_names_out().tolist()[-1] == "denoisingautoencodertransformer4"
    )
    assert dae.inverse_transform(dae.transform(X)).shape == X.shape
    assert dae.score_samples(X).shape == (200,)
    assert dae.loss_curve_[1] < dae.loss_curve_[0]


def test_module_parameters_are_parameters():
    dae = _dae(module__width=5)
    assert dae.get_params()["module__width"] == 5
    assert clone(dae).module__width == 5
    dae.set_params(module__width=6, module__depth=3)
    assert (dae.module__width, dae.module__depth) == (6, 3)
    dae.fit(X)
    assert dae.transform(X).shape == (200, 6)


def test_a_grid_search_reaches_a_setting_of_the_module():
    pipe = Pipeline([("dae", _dae()), ("clf", LogisticRegression(max_iter=200))])
    search = GridSearchCV(pipe, {"dae__module__width": [3, 6]}, cv=2).fit(X, Y)
    assert search.best_params_["dae__module__width"] in (3, 6)
    assert (
        search.best_estimator_[0].transform(X).shape[1]
        == (search.best_params_["dae__module__width"])
    )


@pytest.mark.usefixtures("one_thread")  # two fits: no thread choice to round apart
def test_the_same_seed_gives_the_same_module_and_leaves_torchs_generator_alone():
    state = torch.get_rng_state()
    one, two = _dae().fit(X), _dae().fit(X)
    other = _dae(random_state=1).fit(X)
    assert torch.equal(state, torch.get_rng_state())
    for a, b in zip(_weights(one), _weights(two), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(_weights(one)[0], _weights(other)[0])


def test_an_instance_is_copied_and_never_trained_in_place():
    module = DenseAE(64, width=4)
    before = [p.detach().clone() for p in module.parameters()]
    dae = _dae(module=module).fit(X)
    assert dae.net_.module_ is not module
    for a, b in zip(before, module.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(before[0], _weights(dae)[0])


@pytest.mark.parametrize(
    "module, error, match",
    [
        (NoDecode, TypeError, "NoDecode has no decode method"),
        (WrongWidth, ValueError, r"WrongWidth.decode must return .*\(batch, n_fea"),
        (nn.Linear(64, 4), TypeError, "Linear has no encode and no decode"),
        ("dense", ValueError, "'module' parameter .* must be None"),
    ],
)
def test_a_module_without_the_protocol_is_refused_before_training(module, error, match):
    fitted = _dae().fit(X)
    weights = _weights(fitted)
    with pytest.raises(error, match=match):
        fitted.set_params(module=module).fit(X)
    assert isinstance(fitted.net_.module_, DenseAE)  # the fitted model is as it was
    for a, b in zip(weights, _weights(fitted), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hidden_layer_sizes": (10,)}, "hidden_layer_sizes=.*shape the built-in"),
        ({"tied_weights": True}, "tied_weights=True shape the built-in"),
        # The message names the class, not the class of classes ("type").
        ({"activation": "tanh"}, "but module is DenseAE, whose shape"),
        (
            {"module": DenseAE(64), "tied_weights": True},
            "but module is an instance of DenseAE, whose",
        ),
        ({"activation": "relu"}, "activation='relu' shape the built-in"),
        ({"module": DenseAE(64), "module__width": 3}, "Pass the class"),
        ({"module": None, "module__width": 3}, "but module is None"),
        ({"modul__width": 3}, r"unexpected parameters \['modul__width'\]"),
    ],
)
def test_settings_of_the_built_in_stack_are_refused_with_a_module(params, match):
    dae = _dae(**params)  # __init__ stores; fit refuses
    with pytest.raises((ValueError, TypeError), match=match):
        dae.fit(X)
    assert not hasattr(dae, "net_")


@pytest.mark.parametrize("stacking", ["greedy", "joint"])
def test_either_stacking_trains_a_module_as_one_stage(stacking):
    dae = _dae(stacking=stacking).fit(X)
    assert dae.net_.history[:, "layer"] == [None, None]


@pytest.mark.parametrize(
    "params",
    [
        {"corruption": "block_mask", "image_shape": (8, 8), "input_fill": "learned"},
        {"corruption": "gaussian", "corruption_level": 0.1, "consistency": 1.0},
        {"corruption": "salt_and_pepper", "emphasis": "double"},
        {"corruption": "swap", "loss": "bce", "input_fill": "mean"},
        {"early_stopping": True, "validation": "entries", "input_fill": "mean"},
        {"early_stopping": True, "n_iter_no_change": 1, "tol": 1e9},
    ],
)
def test_a_convolutional_module_trains_with_every_part_of_the_engine(params):
    X_holed = X.copy()
    X_holed[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    dae = _dae(module=ConvAE, **params).fit(X_holed)
    codes = dae.transform(X_holed)
    assert codes.shape == (200, 64) and np.isfinite(codes).all()
    recon = dae.inverse_transform(codes)
    assert recon.shape == X.shape
    if params.get("loss") == "bce":  # decode gives logits; the output is a sigmoid
        assert recon.min() >= 0 and recon.max() <= 1
    assert np.isfinite(dae.score_samples(X_holed)).all()
    assert all(np.isfinite(dae.loss_curve_))


def test_a_learned_fill_is_trained_for_a_users_module():
    X_holed = X.copy()
    X_holed[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan
    dae = _dae(input_fill="learned", max_epochs=3).fit(X_holed)
    means = np.nanmean(X_holed, axis=0)
    assert not np.allclose(dae.input_fill_, means, atol=1e-6)
    # transform fills the holes so: a hole reads as the fill, not as 0.
    row = X_holed[:1].copy()
    row[0, 20] = np.nan
    written = row.copy()
    written[0, np.isnan(row[0])] = dae.input_fill_[np.isnan(row[0])]
    np.testing.assert_allclose(dae.transform(row), dae.transform(written), rtol=1e-5)


@pytest.mark.parametrize(
    "change",
    [{"module": None}, {"module": DenseAE(64, width=4)}, {"module": ConvAE}],
)
def test_changing_the_module_refuses_to_continue(change):
    dae = _dae(stacking="joint").fit(X)
    with pytest.raises(
        ValueError, match="Cannot continue training after changing module"
    ):
        dae.set_params(**change).partial_fit(X)
    assert isinstance(dae.net_.module_, DenseAE)


def test_early_stopping_restores_the_best_epochs_learned_fill():
    fills = []

    class KeepFill(Callback):
        def on_epoch_end(self, net, **kwargs):
            fills.append(net.fill_.value.detach().clone().numpy())

    X_holed = X.copy()
    X_holed[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan
    dae = _dae(
        input_fill="learned",
        early_stopping=True,
        n_iter_no_change=2,
        tol=1e9,  # no epoch after the first counts as better
        max_epochs=10,
        callbacks=[("keep", KeepFill())],
    ).fit(X_holed)
    assert dae.n_iter_ == 3 and not np.allclose(fills[0], fills[-1])
    np.testing.assert_array_equal(dae.input_fill_, fills[0])


def test_warm_start_and_partial_fit_continue_a_users_module():
    dae = _dae().fit(X)
    n_epochs = dae.n_iter_
    dae.partial_fit(X)
    dae.set_params(warm_start=True).fit(X)
    assert dae.n_iter_ == n_epochs + 1 + 2
    with pytest.raises(ValueError, match="module_params"):
        dae.set_params(module__width=3).fit(X)


class CountBatches(Callback):
    def initialize(self):
        self.batches = 0
        return self

    def on_batch_end(self, net, **kwargs):
        self.batches += 1


def test_callbacks_that_listen_to_batches_see_a_users_module_train():
    dae = _dae(callbacks=[("count", CountBatches())]).fit(X)
    assert dict(dae.net_.callbacks_)["count"].batches == 2 * -(-200 // 32)


def test_a_diverging_module_is_stopped_and_restored():
    with pytest.warns(Warning, match="diverged"):
        dae = _dae(lr=1e37, max_epochs=5).fit(X)
    assert all(torch.isfinite(p).all() for p in dae.net_.module_.parameters())


@pytest.mark.usefixtures("one_thread")  # two transforms, compared bit for bit
def test_transform_runs_the_module_in_eval_mode():
    dae = _dae(module=WithDropout).fit(X)
    np.testing.assert_array_equal(dae.transform(X), dae.transform(X))


def test_pickle_and_float64_transform():
    dae = _dae(module=ConvAE).fit(X)
    loaded = pickle.loads(pickle.dumps(dae))
    np.testing.assert_allclose(
        loaded.transform(X), dae.transform(X), rtol=1e-5, atol=1e-6
    )
    codes64 = dae.transform(X.astype(np.float64))
    assert codes64.dtype == np.float64
    np.testing.assert_allclose(codes64, dae.transform(X), rtol=1e-4, atol=1e-5)


def test_skops_loads_a_users_module_once_trusted():
    sio = pytest.importorskip("skops.io")
    dae = _dae().fit(X)
    dumped = sio.dumps(dae)
    untrusted = sio.get_untrusted_types(data=dumped)
    assert f"{__name__}.DenseAE" in untrusted
    loaded = sio.loads(dumped, trusted=untrusted)
    np.testing.assert_allclose(loaded.transform(X), dae.transform(X), rtol=1e-6)


def test_the_built_in_stacks_weights_are_absent_for_a_users_module():
    dae = _dae().fit(X)
    with pytest.raises(AttributeError, match="coefs_ holds the weights of the built"):
        dae.coefs_  # noqa: B018
    assert dae.input_fill_.shape == (64,)


def test_the_imputer_trains_a_users_module():
    X_holed = X.copy()
    X_holed[np.random.default_rng(1).random(X.shape) < 0.2] = np.nan
    template = DenoisingAutoencoderTransformer(
        module=DenseAE, module__width=12, device="cpu"
    )
    imputer = DenoisingAutoencoderImputer(
        autoencoder=template, max_epochs=3, random_state=0
    )
    # A grid search reaches the module's settings through the template.
    assert clone(imputer).get_params()["autoencoder__module__width"] == 12
    assert (
        clone(imputer)
        .set_params(autoencoder__module__width=5)
        .get_params()["autoencoder__module__width"]
        == 5
    )
    filled = imputer.fit_transform(X_holed)
    assert not np.isnan(filled).any()
    kept = ~np.isnan(X_holed)
    np.testing.assert_array_equal(filled[kept], X_holed[kept])
    assert imputer.autoencoder_.net_.module_.width == 12
    assert imputer.autoencoder_.lr == 1e-3
    for sizes in [(8,), np.array([8, 8])]:  # an array compares elementwise
        with pytest.raises(ValueError, match="hidden_layer_sizes shape the built-in"):
            clone(imputer).set_params(hidden_layer_sizes=sizes).fit(X_holed)


class Rnn(nn.Module):
    """A first layer that FilterDisplay cannot draw."""

    def __init__(self, n_features):
        super().__init__()
        self.gru = nn.GRU(n_features, 8, batch_first=True)
        self.out = nn.Linear(8, n_features)

    def encode(self, x):
        return self.gru(x.unsqueeze(1))[0][:, 0]

    def decode(self, h):
        return self.out(h)


@pytest.mark.parametrize(
    "module, shape",
    [(DenseAE, (16, 64)), (ConvAE, (4, 9))],
)
def test_the_filter_display_draws_a_first_linear_or_conv2d(module, shape):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from sk_dae.inspection import FilterDisplay

    dae = _dae(module=module).fit(X)
    display = FilterDisplay.from_estimator(dae, image_shape=(8, 8))
    assert display.filters.shape == shape
    first = next(dae.net_.module_.parameters()).detach().numpy()
    np.testing.assert_allclose(display.filters, first.reshape(len(first), -1))
    assert display.image_shape == ((8, 8) if module is DenseAE else (3, 3))


def test_the_filter_display_refuses_another_first_layer():
    from sk_dae.inspection import FilterDisplay

    dae = _dae(module=Rnn).fit(X)
    with pytest.raises(TypeError, match="first layer of Rnn is GRU"):
        FilterDisplay.from_estimator(dae, image_shape=(8, 8))


def test_onnx_export_refuses_a_users_module():
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx

    import sk_dae.onnx  # noqa: F401

    dae = _dae().fit(X)
    with pytest.raises(TypeError, match="torch.onnx.export"):
        to_onnx(dae, X[:1])
    # The imputer's ensemble module, given to a transformer, is a module too.
    ensemble = _dae(
        module=StackEnsemble,
        module__n_members=2,
        module__hidden_layer_sizes=(8,),
    ).fit(np.tile(X, 2))
    with pytest.raises(TypeError, match="torch.onnx.export"):
        to_onnx(ensemble, np.tile(X, 2)[:1])


def test_the_progress_bar_runs_with_a_users_module(capsys):
    dae = _dae(verbose=1, max_epochs=1).fit(X)
    assert dae.n_iter_ == 1
    assert "train_loss" in capsys.readouterr().out


class WrongInput(DenseAE):
    def encode(self, x):
        return super().encode(x.view(-1, 8, 8))


def test_an_error_in_the_modules_own_code_says_where_it_came_from():
    with pytest.raises(RuntimeError) as error:
        _dae(module=WrongInput).fit(X)
    assert "ran WrongInput.encode on a batch of shape (2, 64)" in "".join(
        error.value.__notes__
    )


class SeedsItself(DenseAE):
    def __init__(self, n_features, init_seed=-1):
        super().__init__(n_features)
        self.init_seed = init_seed


def test_a_class_that_takes_init_seed_gets_the_seed_of_random_state():
    one = _dae(module=SeedsItself, random_state=3).fit(X).net_.module_
    two = _dae(module=SeedsItself, random_state=3).fit(X).net_.module_
    assert one.init_seed == two.init_seed >= 0
    assert _dae(module=SeedsItself, random_state=4).fit(X).net_.module_.init_seed != (
        one.init_seed
    )
