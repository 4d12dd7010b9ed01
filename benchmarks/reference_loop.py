"""A minimal hand-written torch training loop for a denoising autoencoder.

The yardstick of ``speed.py``: what the estimator's wrapper (scikit-learn
validation, skorch's loop, callbacks, history) costs on top of the bare work.
Same model and data path as the estimator: data resident as one float32 tensor,
a random permutation per epoch, masking noise, squared error, Adam.
"""

import torch
import torch.nn.functional as F
from torch import nn


class Autoencoder(nn.Module):
    def __init__(self, n_features, width):
        super().__init__()
        self.encoder = nn.Linear(n_features, width)
        self.decoder = nn.Linear(width, n_features)

    def forward(self, x):
        return self.decoder(torch.sigmoid(self.encoder(x)))


def train_epochs(X, width=100, epochs=1, batch_size=100, level=0.3, lr=1e-3, seed=0):
    """Train for ``epochs`` epochs on the float32 tensor X; return the model."""
    generator = torch.Generator(X.device).manual_seed(seed)
    model = Autoencoder(X.shape[1], width).to(X.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
        order = order.to(X.device)
        for start in range(0, len(X), batch_size):
            x = X[order[start : start + batch_size]]  # (B, F) clean batch
            keep = torch.rand(x.shape, generator=generator, device=x.device) >= level
            loss = F.mse_loss(model(x * keep), x)  # reconstruct the clean input
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model
