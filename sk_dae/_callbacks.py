"""skorch callbacks that the estimator adds to every net."""

import math

import torch
from skorch.callbacks import Callback


def _finite(state_dict):
    return all(bool(torch.isfinite(t).all()) for t in state_dict.values())


class DivergenceGuard(Callback):
    """Stop training when the loss or the weights stop being finite, and restore
    the weights of the last epoch that ended finite.

    Like skorch's ``EarlyStopping``, it ends ``fit_loop`` by raising
    ``KeyboardInterrupt``; ``diverged_`` tells the estimator why training stopped.
    It checks at the end of each epoch, from the batch losses in the history, so
    that it needs no per-batch hook (which would keep the net off its fast loop).
    """

    def on_train_begin(self, net, **kwargs):
        self.diverged_ = False
        self.bad_loss_ = None
        self._snapshot = self._copy(net)

    def on_epoch_end(self, net, **kwargs):
        for batch in net.history[-1]["batches"]:
            for key in ("train_loss", "valid_loss"):
                loss = batch.get(key, 0.0)
                if not math.isfinite(loss):
                    self.diverged_, self.bad_loss_ = True, loss
                    raise KeyboardInterrupt
        weights = self._copy(net)
        if not _finite(weights):
            self.diverged_, self.bad_loss_ = True, float("nan")
            raise KeyboardInterrupt
        self._snapshot = weights

    def on_train_end(self, net, **kwargs):
        if self.diverged_:
            net.module_.load_state_dict(self._snapshot)
            # Adam's moments may hold inf or NaN after the step that diverged.
            net.initialize_optimizer()
        self._snapshot = None

    @staticmethod
    def _copy(net):
        return {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
