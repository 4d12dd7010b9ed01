"""The net's fast paths against skorch's standard ones: the hand-derived step
against autograd, and the lean epoch loop against skorch's per-batch loop."""

import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, EarlyStopping, LRScheduler

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._callbacks import Outcome, StopStage
from sk_dae._data import RowData
from sk_dae._net import DenoisingAutoencoderNet
from sk_dae.modules import StackedDenoisingAutoencoder, StackEnsemble

X = np.random.default_rng(0).random((300, 12), dtype=np.float32)
DEFAULT_SIZES = DenoisingAutoencoderTransformer().hidden_layer_sizes


def _dae(**kwargs):
    params = dict(
        device="cpu",
        hidden_layer_sizes=(6,),
        max_epochs=3,
        batch_size=32,
        random_state=0,
    )
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


class CountBatches(Callback):
    """A per-batch listener: it must see every batch."""

    def initialize(self):
        self.batches = self.grads = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.batches += training

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.grads += 1


def _weights(dae):
    return [p.detach().clone() for p in dae.net_.module_.parameters()]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"loss": "bce", "emphasis": "double", "tied_weights": True},
        {"hidden_layer_sizes": (8, 4), "activation": "tanh"},
        {"hidden_layer_sizes": (8, 4), "stacking": "joint", "activation": "relu"},
        {"hidden_layer_sizes": (8, 4), "stacking": "joint", "input_fill": "learned"},
        {
            "module": StackEnsemble,
            "module__hidden_layer_sizes": (8, 4),
            "module__n_members": 3,
            "hidden_layer_sizes": DEFAULT_SIZES,
            "input_fill": "learned",
        },
    ],
)
def test_hand_derived_step_trains_like_autograd(monkeypatch, params):
    fast = _dae(**params).fit(X)
    initialize = DenoisingAutoencoderNet.initialize

    def autograd_only(net):
        net.hand_derived = False
        return initialize(net)

    monkeypatch.setattr(DenoisingAutoencoderNet, "initialize", autograd_only)
    slow = _dae(**params).fit(X)
    assert slow.net_.hand_derived is False
    for a, b in zip(_weights(fast), _weights(slow), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.loss_curve_, slow.loss_curve_, rtol=1e-5)


class OwnStack(StackedDenoisingAutoencoder):
    """A user's subclass of the built-in stack, which may compute otherwise."""

    def decode(self, h):
        return super().decode(h) * 1.0


@pytest.mark.parametrize(
    "params, hand_derived",
    [
        ({"hidden_layer_sizes": (8, 4), "stacking": "joint"}, [True]),
        ({"hidden_layer_sizes": (8, 4), "stacking": "greedy"}, [True, True]),
        ({"hidden_layer_sizes": (8,), "stacking": "joint"}, [True]),
        ({"hidden_layer_sizes": (8,), "stacking": "greedy"}, [True]),
        (
            {
                "module": StackEnsemble,
                "module__hidden_layer_sizes": (8, 4),
                "module__n_members": 3,
                "hidden_layer_sizes": DEFAULT_SIZES,
            },
            [True],
        ),
        (
            {
                "module": OwnStack,
                "module__hidden_layer_sizes": (8, 4),
                "hidden_layer_sizes": DEFAULT_SIZES,
            },
            [False],
        ),
    ],
)
def test_the_built_in_modules_and_only_they_train_on_hand_derived_gradients(
    params, hand_derived
):
    dae = _dae(**params).fit(X)
    net, data = dae.net_, RowData(X, "cpu")
    stages = [
        net.make_stage(layer, module, dae.corruption_, data)
        for layer, module in net.stage_modules()
    ]
    assert [stage.backprop is not None for stage in stages] == hand_derived


@pytest.mark.usefixtures("one_thread")
def test_lean_loop_leaves_the_history_and_model_of_skorchs_loop():
    lean = _dae().fit(X)
    counter = CountBatches()
    standard = _dae(callbacks=[("count", counter)]).fit(X)
    n_batches = -(-len(X) // 32)
    # The listener forced skorch's loop, and saw every batch and gradient.
    fitted_counter = dict(standard.net_.callbacks_)["count"]
    assert fitted_counter.batches == fitted_counter.grads == 3 * n_batches
    for a, b in zip(_weights(lean), _weights(standard), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for key in ("train_loss", "train_batch_size"):
        assert (
            lean.net_.history[:, "batches", :, key]
            == (standard.net_.history[:, "batches", :, key])
        )
    assert lean.net_.history[:, "train_batch_count"] == [n_batches] * 3
    assert lean.net_.history[:, "train_loss"] == standard.net_.history[:, "train_loss"]


def test_lean_loop_with_early_stopping_records_validation_batches():
    dae = _dae(early_stopping=True, n_iter_no_change=50).fit(X)
    last = dae.net_.history[-1]
    assert {"train_loss", "valid_loss"} <= set(last)
    assert sum("valid_loss" in b for b in last["batches"]) == last["valid_batch_count"]
    assert dae.validation_scores_ == [-v for v in dae.net_.history[:, "valid_loss"]]


# -- the net as a skorch net, and the outcome of its stages ----


def test_net_forward_and_predict_return_reconstructions():
    dae = _dae(hidden_layer_sizes=(8, 4), device="cpu").fit(X)
    want = dae.inverse_transform(dae.transform(X))
    forward = dae.net_.forward(X)
    assert isinstance(forward, torch.Tensor) and forward.shape == X.shape
    np.testing.assert_allclose(forward.numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dae.net_.predict(X), want, rtol=1e-5, atol=1e-6)


def _stage_outcome(dae, **kwargs):
    """The outcome that fit_stages returns for a fitted model's net."""
    net = dae.net_
    data = RowData(X, net.device)
    result = net.fit_stages(
        data, dae.corruption_, epochs=kwargs.pop("epochs", 2), **kwargs
    )
    return result.outcome, result.layer


def test_fit_stages_says_done_after_every_epoch_of_every_layer():
    dae = _dae(hidden_layer_sizes=(8, 4), device="cpu").fit(X)
    epochs_before = len(dae.net_.history)
    assert _stage_outcome(dae) == (Outcome.DONE, 1)
    assert dae.net_.history[epochs_before:, "layer"] == [0, 0, 1, 1]


def test_fit_stages_says_early_stopped_where_the_stopper_raised():
    dae = _dae(early_stopping=True, n_iter_no_change=1, tol=1e9, device="cpu").fit(X)
    valid = RowData(X[:50], "cpu")
    outcome, layer = _stage_outcome(dae, epochs=10, valid=valid)
    assert (outcome, layer) == (Outcome.EARLY_STOPPED, 0)


class StopAfterOneEpoch(Callback):
    def __init__(self, exception):
        self.exception = exception

    def on_epoch_end(self, net, **kwargs):
        raise self.exception


@pytest.mark.parametrize(
    "exception, outcome",
    [
        (KeyboardInterrupt(), Outcome.INTERRUPTED),
        (StopStage(Outcome.DIVERGED), Outcome.DIVERGED),
    ],
)
def test_fit_stages_stops_a_greedy_stack_where_training_stopped(exception, outcome):
    dae = _dae(hidden_layer_sizes=(8, 4), device="cpu").fit(X)
    dae.net_.callbacks_.append(("stop", StopAfterOneEpoch(exception)))
    epochs_before = len(dae.net_.history)
    assert _stage_outcome(dae, epochs=3) == (outcome, 0)
    assert len(dae.net_.history) == epochs_before + 1  # layer 1 never ran


def test_partial_fit_warns_that_it_ignores_early_stopping():
    dae = _dae(early_stopping=True, device="cpu")
    with pytest.warns(UserWarning, match="partial_fit ignores early_stopping=True"):
        dae.partial_fit(X)
    assert dae.validation_scores_ is None  # no epoch was validated


@pytest.mark.parametrize("step_every, per_batch", [("epoch", False), ("batch", True)])
def test_only_a_per_batch_lr_scheduler_leaves_the_lean_loop(step_every, per_batch):
    scheduler = LRScheduler(policy="StepLR", step_size=1, gamma=0.5)
    scheduler.step_every = step_every
    dae = _dae(callbacks=[("lr", scheduler)]).fit(X)
    assert dae.net_._batch_hooks_in_use() == per_batch
    lrs = [group["lr"] for group in dae.net_.optimizer_.param_groups]
    n_steps = 3 if step_every == "epoch" else 3 * -(-len(X) // 32)
    assert lrs == [pytest.approx(1e-3 * 0.5**n_steps)]


def test_a_users_own_early_stopping_ends_a_layer_not_the_stack():
    # skorch's EarlyStopping raises a plain KeyboardInterrupt when it stops.
    stopper = EarlyStopping(
        monitor="train_loss", patience=1, threshold=1e9, threshold_mode="abs"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "interrupted" warning
        dae = _dae(hidden_layer_sizes=(8, 4), callbacks=[("es", stopper)]).fit(X)
    assert dae.net_.history[:, "layer"] == [0, 0, 1, 1]  # both layers trained


class PerBatchScheduler(LRScheduler):
    def on_batch_begin(self, net, **kwargs):
        pass


def test_an_lr_scheduler_subclass_with_its_own_batch_hook_works_per_batch():
    net = _dae().fit(X).net_
    net.callbacks_ = [("lr", PerBatchScheduler(policy="StepLR", step_size=1))]
    assert net._batch_hooks_in_use()


class FailingNoise:
    """Masking noise that raises on its ``fail_at``-th batch, as a buggy
    callable or an out-of-memory error would in the middle of an epoch."""

    def __init__(self, fail_at):
        self.fail_at, self.calls = fail_at, 0

    def __call__(self, X, level, generator):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("noise failed")
        keep = torch.rand(X.shape, generator=generator, device=X.device) >= level
        return X * keep


@pytest.mark.parametrize("call", ["partial_fit", "warm fit"])
def test_a_call_that_fails_mid_epoch_leaves_the_fitted_network_as_it_was(call):
    noise = FailingNoise(fail_at=-1)
    dae = _dae(corruption=noise, warm_start=call == "warm fit").fit(X)
    noise.fail_at = noise.calls + 5  # mid-epoch in the next call
    before = _weights(dae)
    history = [dict(row) for row in dae.net_.history]
    adam = {
        k: v.clone() for k, v in dae.net_.optimizer_.state_dict()["state"][0].items()
    }
    codes = dae.transform(X)
    with pytest.raises(RuntimeError, match="noise failed"):
        dae.partial_fit(X) if call == "partial_fit" else dae.fit(X)
    for a, b in zip(_weights(dae), before, strict=True):
        assert torch.equal(a, b)
    assert [dict(row) for row in dae.net_.history] == history
    state = dae.net_.optimizer_.state_dict()["state"][0]
    assert all(torch.equal(state[k], v) for k, v in adam.items())
    np.testing.assert_array_equal(dae.transform(X), codes)
    assert dae.n_iter_ == 3
    # And it trains on from there.
    noise.fail_at = -1
    dae.partial_fit(X)
    assert dae.n_iter_ == 4
