"""Denoising-autoencoder features for scikit-learn, trained on PyTorch with skorch."""

from ._estimator import DenoisingAutoencoderTransformer
from ._imputer import DenoisingAutoencoderImputer

__version__ = "0.1.0"

__all__ = [
    "DenoisingAutoencoderImputer",
    "DenoisingAutoencoderTransformer",
    "__version__",
]
