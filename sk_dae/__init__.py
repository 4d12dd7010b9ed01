"""Denoising-autoencoder features for scikit-learn, trained on PyTorch with skorch."""

from ._estimator import DenoisingAutoencoderTransformer

__version__ = "0.1.0"

__all__ = ["DenoisingAutoencoderTransformer", "__version__"]
