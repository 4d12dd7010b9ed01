"""A minimal hand-written torch training loop for a denoising autoencoder.

The yardstick of ``speed.py``: what the estimator's wrapper (scikit-learn
validation, skorch's loop, callbacks, history) costs on top of the bare work.
Same model, data path and kernels as the estimator: data resident as one
float32 tensor, a random permutation per epoch, masking noise drawn 16 bits per
component, squared error, fused Adam. Nothing else: no validation, callbacks or
history.
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
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    threshold = -32768 + round(level * 65536)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
        order = order.to(X.device)
        for start in range(0, len(X), batch_size):
            x = X[order[start : start + batch_size]]  # (B, F) clean batch
            bits = torch.empty(x.numel() // 4 + 1, dtype=torch.int64, device=x.device)
            bits.random_(-(2**63), None, generator=generator)
            masked = bits.view(torch.int16)[: x.numel()].view(x.shape) < threshold
            loss = F.mse_loss(model(torch.where(masked, 0.0, x)), x)  # clean target
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model
