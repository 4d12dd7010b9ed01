"""What a training stage owns: its learning-rate schedule, its best scores,
and a net that only the estimator trains."""

import numpy as np
import pytest
from skorch.callbacks import Checkpoint, LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau, StepLR

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


RNG = np.random.default_rng(0)
X = RNG.random((120, 8)).astype(np.float32)


def _lrs_by_layer(dae):
    history = dae.net_.history
    lrs = {}
    for layer, lr in zip(history[:, "layer"], history[:, "event_lr"], strict=True):
        lrs.setdefault(layer, []).append(lr)
    return lrs


def test_each_greedy_stage_of_the_imputer_starts_its_own_cosine():
    X_holed = X.copy()
    X_holed[RNG.random(X.shape) < 0.2] = np.nan
    imputer = DenoisingAutoencoderImputer(
        hidden_layer_sizes=(6, 6, 6),
        stacking="greedy",
        max_epochs=4,
        autoencoder=on_cpu(),
        random_state=0,
    ).fit(X_holed)
    lrs = _lrs_by_layer(imputer.autoencoder_)
    assert lrs[0][0] == pytest.approx(imputer.autoencoder_.lr)
    assert lrs[0][1] < lrs[0][0]  # it anneals
    for layer in (1, 2):
        np.testing.assert_allclose(lrs[layer], lrs[0], rtol=1e-12)


def test_a_users_scheduler_restarts_at_each_greedy_stage():
    scheduler = LRScheduler(CosineAnnealingLR, T_max=3)
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(6, 4),
        max_epochs=3,
        lr=1e-2,
        callbacks=[("cosine", scheduler)],
        device="cpu",
        random_state=0,
    ).fit(X)
    lrs = _lrs_by_layer(dae)
    assert lrs[0][0] == pytest.approx(1e-2)
    np.testing.assert_allclose(lrs[1], lrs[0], rtol=1e-12)


def test_each_layers_schedule_goes_on_over_partial_fit_calls():
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(6, 4),
        lr=1e-2,
        callbacks=[("step", LRScheduler(StepLR, step_size=1, gamma=0.5))],
        device="cpu",
        random_state=0,
    )
    dae.partial_fit(X).partial_fit(X).partial_fit(X)
    lrs = _lrs_by_layer(dae)
    want = [1e-2, 5e-3, 2.5e-3]  # each layer's own epochs 1, 2, 3
    np.testing.assert_allclose(lrs[0], want, rtol=1e-12)
    np.testing.assert_allclose(lrs[1], want, rtol=1e-12)


def test_a_plateau_scheduler_starts_afresh_at_each_stage():
    # mode="max" on a falling loss: no epoch after the first improves, so
    # layer 0's rate is cut; layer 1 starts again at the estimator's lr.
    scheduler = LRScheduler(
        ReduceLROnPlateau, monitor="train_loss", mode="max", patience=0
    )
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(6, 4),
        max_epochs=3,
        callbacks=[("plateau", scheduler)],
        device="cpu",
        random_state=0,
    ).fit(X)
    lrs = _lrs_by_layer(dae)
    assert lrs[0][-1] < 1e-3
    assert lrs[1][0] == pytest.approx(1e-3)


def test_a_scheduler_with_its_own_last_epoch_is_left_as_torch_runs_it():
    scheduler = LRScheduler(StepLR, step_size=1, gamma=0.5, last_epoch=0)
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(4,),
        max_epochs=3,
        lr=1e-2,
        callbacks=[("step", scheduler)],
        device="cpu",
        random_state=0,
    ).fit(X)
    # torch's StepLR built at last_epoch=0 steps once at its start.
    np.testing.assert_allclose(_lrs_by_layer(dae)[0], [5e-3, 2.5e-3, 1.25e-3])


def test_the_best_loss_is_each_greedy_stages_own():
    # Layer 1 reconstructs codes, on another scale than layer 0's tiny
    # inputs (the example): its first epoch is its best so far.
    tiny = 0.001 * np.random.default_rng(0).random((300, 20))
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(10, 5), max_epochs=30, lr=1e-2, device="cpu", random_state=0
    ).fit(tiny)
    rows = [row for row in dae.net_.history if row["layer"] == 1]
    assert rows[0]["train_loss_best"]
    assert sum(r["train_loss_best"] for r in rows) > 1


def test_a_checkpoint_saves_during_every_greedy_stage(tmp_path):
    saves = []

    class Counting(Checkpoint):
        def save_model(self, net):
            saves.append(net.history[-1]["layer"])

    tiny = 0.001 * np.random.default_rng(0).random((300, 20))
    DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(10, 5),
        max_epochs=30,
        lr=1e-2,
        callbacks=[Counting(monitor="train_loss_best", dirname=str(tmp_path))],
        device="cpu",
        random_state=0,
    ).fit(tiny)
    assert set(saves) == {0, 1}


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_the_fitted_net_refuses_to_train_in_place(method):
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(4,), max_epochs=1, device="cpu", random_state=0
    ).fit(X)
    weights = dae.coefs_[0].copy()
    with pytest.raises(TypeError, match="Call the estimator's fit or partial_fit"):
        getattr(dae.net_, method)(X)
    np.testing.assert_array_equal(dae.coefs_[0], weights)


def test_the_imputers_messages_name_its_own_parameters():
    X_holed = X.copy()
    X_holed[RNG.random(X.shape) < 0.2] = np.nan
    stopping = DenoisingAutoencoderTransformer(device="cpu", early_stopping=True)
    greedy = DenoisingAutoencoderImputer(stacking="greedy", autoencoder=stopping)
    with pytest.raises(ValueError, match="early_stopping=False") as error:
        greedy.fit(X_holed)
    assert "validation=" not in str(error.value)
    with pytest.raises(ValueError, match="block_mask"):
        blocks = DenoisingAutoencoderTransformer(corruption="block_mask")
        DenoisingAutoencoderImputer(autoencoder=blocks).fit(X_holed)
    one_entry = np.full((3, 2), np.nan)
    one_entry[0, 0] = 1.0
    with pytest.raises(ValueError, match="autoencoder's early_stopping") as error:
        DenoisingAutoencoderImputer(autoencoder=stopping).fit(one_entry)
    assert "validation=" not in str(error.value)
    assert "image_shape" not in DenoisingAutoencoderImputer.__doc__
