"""Why a training stage ends, and the skorch callbacks that end one early."""

import enum
import math

import torch
from skorch.callbacks import Callback, EarlyStopping, PassthroughScoring


class Outcome(enum.StrEnum):
    """How a training stage ended."""

    DONE = "done"  # every epoch asked for ran
    EARLY_STOPPED = "early_stopped"  # the validation loss stopped improving
    DIVERGED = "diverged"  # the loss or the weights stopped being finite
    INTERRUPTED = "interrupted"  # KeyboardInterrupt (Ctrl-C)


class StopStage(KeyboardInterrupt):
    """Raised by a callback to end the stage, saying why.

    A ``KeyboardInterrupt``, as skorch's own ``EarlyStopping`` raises, so that
    skorch's ``fit`` and ``partial_fit`` end training cleanly too; the net's
    ``fit_stages`` reads the outcome off it.
    """

    def __init__(self, outcome):
        super().__init__(outcome.value)
        self.outcome = outcome


def _finite(state_dict):
    return all(bool(torch.isfinite(t).all()) for t in state_dict.values())


class DivergenceGuard(Callback):
    """Stop training when the loss or the weights stop being finite, and restore
    the weights of the last epoch that ended finite.

    It checks at the end of each epoch, from the batch losses in the history, so
    that it needs no per-batch hook (which would keep the net off its lean loop).
    ``bad_loss_`` is the loss that ended training, or None.
    """

    def on_train_begin(self, net, **kwargs):
        self.bad_loss_ = None
        self._snapshot = self._copy(net)

    def on_epoch_end(self, net, **kwargs):
        for batch in net.history[-1]["batches"]:
            for key in ("train_loss", "valid_loss"):
                loss = batch.get(key, 0.0)
                if not math.isfinite(loss):
                    self._stop(loss)
        weights = self._copy(net)
        if not _finite(weights):
            self._stop(float("nan"))
        self._snapshot = weights

    def _stop(self, loss):
        self.bad_loss_ = loss
        raise StopStage(Outcome.DIVERGED)

    def on_train_end(self, net, **kwargs):
        if self.bad_loss_ is not None:
            net.module_.load_state_dict(self._snapshot)
            # Adam's moments may hold inf or NaN after the step that diverged.
            net.initialize_optimizer()
        self._snapshot = None

    @staticmethod
    def _copy(net):
        return {k: v.detach().clone() for k, v in net.module_.state_dict().items()}


class StageEarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping``, ending the stage with ``EARLY_STOPPED``."""

    def on_epoch_end(self, net, **kwargs):
        try:
            super().on_epoch_end(net, **kwargs)
        except KeyboardInterrupt:
            if self.misses_ < self.patience:
                raise  # not this callback's doing: a real Ctrl-C
            raise StopStage(Outcome.EARLY_STOPPED) from None


class ContinuedScoring(PassthroughScoring):
    """skorch's ``PassthroughScoring``, whose best score so far survives the
    end of a call.

    The estimator builds a new net for every call, with new callbacks; skorch's
    callback would start each call from no best score, and flag the first
    epoch of every ``partial_fit`` call as the best. This one takes the best
    score from the history: the last epoch flagged best holds it (read from
    the end, so usually one epoch back).
    """

    def on_train_begin(self, net, **kwargs):
        flag = f"{self.name}_best"
        for row in reversed(net.history):
            if row.get(flag):
                self.best_score_ = row[self.name]
                break
