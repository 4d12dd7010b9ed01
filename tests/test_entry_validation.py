"""Early stopping on held-out entries (validation="entries"): every row trains,
without a share of its observed entries, on which the model is judged."""

import numpy as np
import pytest
import scipy.sparse as sp

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._missing import hold_out_entries

RNG = np.random.default_rng(0)
X = RNG.random((120, 12))
X_NAN = np.where(RNG.random(X.shape) < 0.3, np.nan, X)


def _dae(**kwargs):
    params = dict(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        validation="entries",
        max_epochs=6,
        n_iter_no_change=100,
        device="cpu",
        random_state=0,
    )
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


def test_held_out_entries_are_a_share_of_the_observed_ones():
    X_train, targets = hold_out_entries(X_NAN, 0.2, seed=0)
    held = ~np.isnan(targets)
    observed = ~np.isnan(X_NAN)
    assert not (held & ~observed).any()  # only observed entries are held out
    assert np.isnan(X_train[held]).all()
    np.testing.assert_array_equal(targets[held], X_NAN[held].astype(np.float32))
    kept = observed & ~held
    np.testing.assert_array_equal(X_train[kept], X_NAN[kept].astype(np.float32))
    assert 0.15 < held.sum() / observed.sum() < 0.25
    again = hold_out_entries(X_NAN, 0.2, seed=0)[1]
    np.testing.assert_array_equal(np.isnan(again), ~held)


def test_no_row_with_two_entries_is_emptied():
    columns = np.arange(5)
    two = (columns == np.arange(50)[:, None] % 4) | (columns == 4)
    two_each = np.where(two, 1.0, np.nan)
    X_train, _ = hold_out_entries(two_each, 0.99, seed=0)
    assert (~np.isnan(X_train)).any(axis=1).all()


def test_tiny_data_holds_out_one_entry_at_least():
    for seed in range(20):
        X_train, targets = hold_out_entries(X_NAN[:1], 1e-6, seed)
        assert (~np.isnan(targets)).sum() == 1
        assert (~np.isnan(X_train)).sum() == (~np.isnan(X_NAN[:1])).sum() - 1
    one_feature = X[:, :1]  # rows of one entry may be held out whole
    _, targets = hold_out_entries(one_feature, 0.5, seed=0)
    assert 0.3 < (~np.isnan(targets)).mean() < 0.7


@pytest.mark.usefixtures("one_thread")
def test_training_never_sees_the_held_out_values():
    # Two tables that differ only at the held-out entries train alike (on one
    # thread, so that no choice of thread count rounds them apart).
    dae = _dae()
    split_seed = _split_seed(dae)
    _, targets = hold_out_entries(X_NAN, 0.1, split_seed)
    changed = np.where(np.isnan(targets), X_NAN, X_NAN + 0.5)
    first, second = _dae().fit(X_NAN), _dae().fit(changed)
    np.testing.assert_allclose(first.loss_curve_, second.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(first.coefs_[0], second.coefs_[0], rtol=1e-4, atol=1e-6)
    # ... but are judged on them: the validation scores differ.
    assert first.validation_scores_ != second.validation_scores_


def _split_seed(dae):
    dae.fit(X_NAN[:5])
    return dae._spec["split_seed"]


def test_the_scores_are_the_loss_of_the_held_out_reconstructions():
    dae = _dae(max_epochs=1)
    dae.fit(X_NAN)
    X_train, targets = hold_out_entries(X_NAN, 0.1, dae._spec["split_seed"])
    recon = dae.inverse_transform(dae.transform(X_train))
    held = ~np.isnan(targets)
    expected = np.mean((recon[held] - targets[held]) ** 2)
    # The score is averaged per batch of rows, weighted by rows: close to the
    # mean over all held-out entries.
    assert -dae.validation_scores_[0] == pytest.approx(expected, rel=0.1)


def test_it_stops_early_and_keeps_the_best_epoch():
    dae = _dae(max_epochs=200, n_iter_no_change=3, lr=0.05)
    dae.fit(X_NAN)
    assert dae.n_iter_ < 200
    best = int(np.nanargmax(dae.validation_scores_))
    assert best == dae.n_iter_ - 4  # three epochs after the best one


def test_complete_data_works_too():
    dae = _dae().fit(X)
    assert len(dae.validation_scores_) == 6


def test_sparse_x_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="validation='rows'"):
        _dae().fit(sp.csr_matrix(X))


def test_a_greedy_stack_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="stacking='joint'"):
        _dae(hidden_layer_sizes=(8, 4)).fit(X_NAN)
    joint = _dae(hidden_layer_sizes=(8, 4), stacking="joint").fit(X_NAN)
    assert len(joint.validation_scores_) == 6


def test_a_failed_fit_changes_nothing():
    dae = _dae().fit(X_NAN)
    coefs = [c.copy() for c in dae.coefs_]
    with pytest.raises(ValueError, match="stacking='joint'"):
        dae.set_params(hidden_layer_sizes=(8, 4)).fit(X_NAN)
    for before, after in zip(coefs, dae.coefs_, strict=True):
        np.testing.assert_array_equal(before, after)


def test_rows_stays_the_default():
    assert DenoisingAutoencoderTransformer().validation == "rows"
