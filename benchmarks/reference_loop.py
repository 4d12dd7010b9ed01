"""A minimal hand-written torch training loop for a denoising autoencoder.

The yardstick of ``speed.py``: what the estimator's wrapper (scikit-learn
validation, skorch's loop, callbacks, history) costs on top of the bare work.
Same model and data path as the estimator's reference setting: data resident as
one float32 tensor, a random permutation per epoch, masking noise drawn 16 bits
per component, squared error, autograd, fused Adam. Nothing else: no
validation, callbacks or history.
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


class ReferenceLoop:
    """Model, optimizer and generators that persist from one epoch to the next."""

    def __init__(self, X, width=100, batch_size=100, level=0.3, lr=1e-3, seed=0):
        self.X, self.batch_size = X, batch_size
        self.threshold = -32768 + round(level * 65536)
        self.noise = torch.Generator(X.device).manual_seed(seed)
        self.shuffle = torch.Generator().manual_seed(seed)
        self.model = Autoencoder(X.shape[1], width).to(X.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr, fused=True)

    def epoch(self):
        X = self.X
        order = torch.randperm(len(X), generator=self.shuffle).to(X.device)
        for start in range(0, len(X), self.batch_size):
            x = X.index_select(0, order[start : start + self.batch_size])  # clean
            bits = torch.empty(x.numel() // 4 + 1, dtype=torch.int64, device=x.device)
            bits.random_(-(2**63), None, generator=self.noise)
            masked = bits.view(torch.int16)[: x.numel()].view(x.shape) < self.threshold
            loss = F.mse_loss(self.model(x * masked.logical_not()), x)  # clean target
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return self.model
