"""scikit-learn's own estimator checks, on settings small enough to run in seconds."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


# On the CPU: the checks compare float64 results to float64 rounding, and a GPU
# computes float64 input in float32 (tests/test_gpu.py covers the GPU).
ESTIMATORS = [
    DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(4,), max_epochs=2, batch_size=16, device="cpu"
    ),
    DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(6, 3),
        corruption="swap",
        max_epochs=2,
        batch_size=16,
        device="cpu",
    ),
    DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(4,),
        input_fill="learned",
        consistency=1.0,
        max_epochs=2,
        batch_size=16,
        device="cpu",
    ),
    DenoisingAutoencoderImputer(
        hidden_layer_sizes=(4,), max_epochs=2, batch_size=16, autoencoder=on_cpu()
    ),
    DenoisingAutoencoderImputer(
        add_indicator=True, max_epochs=2, batch_size=16, autoencoder=on_cpu()
    ),
    DenoisingAutoencoderImputer(
        sample_posterior=True,
        n_estimators=2,
        hidden_layer_sizes=(4,),
        max_epochs=2,
        batch_size=16,
        autoencoder=DenoisingAutoencoderTransformer(device="cpu", early_stopping=True),
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
