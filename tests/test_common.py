"""scikit-learn's own estimator checks, on settings small enough to run in seconds."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_dae import DenoisingAutoencoderTransformer

ESTIMATORS = [
    DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(4,), max_epochs=2, batch_size=16
    ),
    DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(6, 3), corruption="swap", max_epochs=2, batch_size=16
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
