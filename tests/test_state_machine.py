"""Random sequences of calls on a fitted model, checked after every step.

hypothesis's stateful testing runs sequences of ``fit``, warm ``fit``,
``partial_fit``, ``set_params``, calls that fail (a corruption callable that
raises, inf in X, a changed network shape), ``transform`` and pickle round
trips, on a transformer and an imputer. A *twin* of each model receives only
the calls that succeed, never the failing ones nor the pickling: after every
step the model must transform as its twin does, so a failed call has changed
nothing, not even the random streams that the next call draws from.
"""

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from skorch.callbacks import Callback

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


RNG = np.random.default_rng(0)
X = RNG.random((120, 6))
X_HOLED = np.where(RNG.random(X.shape) < 0.2, np.nan, X)
X_INF = np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X)
# Training twice the same way in one process gives the same weights up to the
# rounding of differently placed buffers; a real divergence is far larger.
TOLERANCE = dict(rtol=1e-4, atol=1e-5)


class Tag(Callback):
    """Records its tag in the history at the end of every epoch it runs."""

    def __init__(self, tag):
        self.tag = tag

    def on_epoch_end(self, net, **kwargs):
        net.history.record("tags", [*net.history[-1].get("tags", []), self.tag])


def _fail(X, level, generator):
    raise RuntimeError("the corruption failed")


def _transformer():
    return DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(4,),
        max_epochs=1,
        batch_size=40,
        device="cpu",
        random_state=0,
    )


def _imputer():
    return DenoisingAutoencoderImputer(
        hidden_layer_sizes=(6,), max_epochs=2, autoencoder=on_cpu(), random_state=0
    )


TRAINING_KNOBS = st.fixed_dictionaries(
    {},
    optional={
        "lr": st.sampled_from([1e-3, 1e-2]),
        "batch_size": st.sampled_from([16, 40, 200]),
        "corruption": st.sampled_from(["mask", "swap", "salt_and_pepper"]),
        "corruption_level": st.sampled_from([0.0, 0.3]),
        "emphasis": st.sampled_from([None, "double"]),
    },
)


class Lifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dae, self.twin = _transformer(), _transformer()
        self.imputer, self.imputer_twin = _imputer(), _imputer()
        self.calls = 0

    # -- the transformer ----------------------------------------------------------

    def _both(self, method, **params):
        """Call ``method`` on the model and its twin with the same parameters and
        a callback tagged for this call; check what the call ran."""
        self.calls += 1
        tag = f"call{self.calls}"
        continued = method == "partial_fit" or params["warm_start"]
        rows_before = 0
        if continued and hasattr(self.dae, "n_iter_"):
            rows_before = len(self.dae.net_.history)
        for model in (self.dae, self.twin):
            model.set_params(**params, callbacks=[Tag(tag)])
            getattr(model, method)(X)
        new_rows = list(self.dae.net_.history)[rows_before:]
        # Each epoch ran this call's callbacks, and only them.
        assert new_rows and all(row["tags"] == [tag] for row in new_rows)
        validated = method == "fit" and self.dae.early_stopping
        assert all(("valid_loss" in row) == validated for row in new_rows)

    @rule(
        warm=st.booleans(),
        early_stopping=st.booleans(),
        epochs=st.integers(1, 2),
        knobs=TRAINING_KNOBS,
    )
    def fit(self, warm, early_stopping, epochs, knobs):
        params = dict(warm_start=warm, early_stopping=early_stopping)
        self._both("fit", **params, max_epochs=epochs, **knobs)

    @rule(knobs=TRAINING_KNOBS)
    def partial_fit(self, knobs):
        self._both("partial_fit", warm_start=False, early_stopping=False, **knobs)

    @precondition(lambda self: hasattr(self.dae, "n_iter_"))
    @rule(
        method=st.sampled_from(["fit", "partial_fit"]),
        warm=st.booleans(),
        failure=st.sampled_from(["corruption", "inf", "shape"]),
    )
    def a_failing_call(self, method, warm, failure):
        params = self.dae.get_params()
        self.dae.set_params(warm_start=warm, early_stopping=False)
        data, error = X, RuntimeError
        if failure == "corruption":
            self.dae.set_params(corruption=_fail)
        elif failure == "inf":
            data, error = X_INF, ValueError
        elif method == "partial_fit" or warm:
            self.dae.set_params(hidden_layer_sizes=(3,))
            error = ValueError
        else:  # a cold fit may change the shape: make it fail otherwise
            self.dae.set_params(hidden_layer_sizes=(3,), corruption=_fail)
        with pytest.raises(error):
            getattr(self.dae, method)(data)
        self.dae.set_params(**params)

    @precondition(lambda self: hasattr(self.dae, "n_iter_"))
    @rule()
    def pickle_round_trip(self):
        self.dae = pickle.loads(pickle.dumps(self.dae))

    @precondition(lambda self: hasattr(self.dae, "n_iter_"))
    @invariant()
    def transforms_as_its_twin(self):
        np.testing.assert_allclose(
            self.dae.transform(X), self.twin.transform(X), **TOLERANCE
        )

    @precondition(lambda self: hasattr(self.dae, "n_iter_"))
    @invariant()
    def one_entry_per_epoch(self):
        dae = self.dae
        assert len(dae.loss_curve_) == dae.n_iter_ == self.twin.n_iter_
        assert dae.n_iter_ == len(dae.net_.history)
        if dae.validation_scores_ is not None:
            assert len(dae.validation_scores_) == dae.n_iter_
        assert len(dae.coefs_) == len(dae.intercepts_) == 2

    # -- the imputer ----------------------------------------------------------------

    @rule(level=st.sampled_from([0.2, 0.5]), indicator=st.booleans())
    def fit_imputer(self, level, indicator):
        for model in (self.imputer, self.imputer_twin):
            model.set_params(
                autoencoder__corruption_level=level, add_indicator=indicator
            )
            model.fit(X_HOLED)

    @precondition(lambda self: hasattr(self.imputer, "autoencoder_"))
    @rule(data=st.sampled_from(["scaled", "wider", "inf"]), indicator=st.booleans())
    def a_failing_imputer_fit(self, data, indicator):
        params = self.imputer.get_params()
        self.imputer.set_params(add_indicator=indicator, autoencoder__corruption=_fail)
        X_bad = {
            "scaled": X_HOLED * 1000,
            "wider": np.hstack([X_HOLED, X_HOLED[:, :1]]),
            "inf": X_INF,
        }[data]
        with pytest.raises(ValueError if data == "inf" else RuntimeError):
            self.imputer.fit(X_bad)
        self.imputer.set_params(**params)

    @precondition(lambda self: hasattr(self.imputer, "autoencoder_"))
    @invariant()
    def imputes_as_its_twin(self):
        imputer = self.imputer
        assert len(imputer.mean_) == len(imputer.observed_features_) == 6
        assert imputer.autoencoder_.n_features_in_ == imputer.observed_features_.sum()
        np.testing.assert_allclose(
            imputer.transform(X_HOLED),
            self.imputer_twin.transform(X_HOLED),
            **TOLERANCE,
        )


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(
    max_examples=100,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,  # the same sequences on every CI run
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
