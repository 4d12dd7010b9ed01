"""Why a training stage ends, and the skorch callbacks that end one early."""

import copy
import enum
import math
import warnings

import torch
from skorch.callbacks import Callback, EarlyStopping, LRScheduler, PassthroughScoring
from torch.optim.lr_scheduler import ReduceLROnPlateau


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

    def __init__(self, outcome, bad_loss=None):
        super().__init__(outcome.value)
        self.outcome = outcome
        self.bad_loss = bad_loss  # the loss that diverged, for DIVERGED


class _Snapshot:
    """A copy of the state of some of a net's modules.

    Their floating-point tensors of the first one's dtype and device are
    copied into one flat buffer, the rest one by one: one copy and one
    finiteness check an epoch rather than one of each per tensor. For the
    imputer's default network (thirteen tensors, 21,000 values), in turns
    with the copy and check per tensor, 500 a round, median of 9 rounds, one
    thread (AMD EPYC): 113 against 188 us, and 135 against 309 in a second
    run, where an epoch of a small table takes a few milliseconds.
    """

    def __init__(self, states):  # {module name: its state_dict}
        flat = [t for state in states.values() for t in state.values() if _floating(t)]
        kind = (flat[0].dtype, flat[0].device) if flat else None
        flat = [t for t in flat if (t.dtype, t.device) == kind]
        self._flat = torch.cat([t.detach().reshape(-1) for t in flat]) if flat else None
        in_flat = {id(t) for t in flat}
        # Each entry: (module name, key, shape) of a slice of the flat buffer,
        # in order, or a tensor of its own.
        self._layout = [
            (name, key, t.shape if id(t) in in_flat else t.detach().clone())
            for name, state in states.items()
            for key, t in state.items()
        ]

    def finite(self):
        """Whether every floating-point value is finite."""
        # x * 0 is 0 for a finite x and NaN for inf and NaN, so the sum is 0
        # exactly when every value is finite (where the sum of the values
        # themselves could overflow): 16 against 68 us for torch.isfinite and
        # all over the imputer's 21,000 weights.
        if self._flat is not None and not bool((self._flat * 0).sum() == 0):
            return False
        return all(
            bool(torch.isfinite(t).all())
            for *_, t in self._layout
            if isinstance(t, torch.Tensor) and _floating(t)
        )

    def states(self):
        """``{module name: state_dict}``, views of the copy."""
        states, offset = {}, 0
        for name, key, entry in self._layout:
            if isinstance(entry, torch.Size):
                n = entry.numel()
                entry = self._flat[offset : offset + n].view(entry)
                offset += n
            states.setdefault(name, {})[key] = entry
        return states


def _floating(t):
    return t.is_floating_point() or t.is_complex()


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
        if not weights.finite():
            self._stop(float("nan"))
        self._snapshot = weights

    def _stop(self, loss):
        self.bad_loss_ = loss
        raise StopStage(Outcome.DIVERGED, loss)

    def on_train_end(self, net, **kwargs):
        if self.bad_loss_ is not None:
            for name, state in self._snapshot.states().items():
                getattr(net, name + "_").load_state_dict(state)
            # Adam's moments may hold inf or NaN after the step that diverged.
            net.initialize_optimizer()
        self._snapshot = None

    # The modules of the net whose state it keeps: the autoencoder, the fill.
    _MODULES = ("module", "fill")

    @classmethod
    def _copy(cls, net):
        """The state of every module of the net."""
        return _Snapshot(
            {name: getattr(net, name + "_").state_dict() for name in cls._MODULES}
        )


class StageEarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping``, ending the stage with ``EARLY_STOPPED``.

    With ``load_best`` it restores the input fill of the best epoch too:
    skorch's keeps ``net.module_`` only, and the fill (a learned one trains
    with the weights) is the net's other module, ``fill_``.
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.best_fill_ = None

    def on_epoch_end(self, net, **kwargs):
        try:
            super().on_epoch_end(net, **kwargs)
        except KeyboardInterrupt:
            if self.misses_ < self.patience:
                raise  # not this callback's doing: a real Ctrl-C
            raise StopStage(Outcome.EARLY_STOPPED) from None
        if self.load_best and self.best_epoch_ == net.history[-1, "epoch"]:
            self.best_fill_ = copy.deepcopy(net.fill_.state_dict())

    def on_train_end(self, net, **kwargs):
        restores = self.load_best and self.best_epoch_ != net.history[-1, "epoch"]
        super().on_train_end(net, **kwargs)
        if restores and self.best_fill_ is not None:
            net.fill_.load_state_dict(self.best_fill_)
        self.best_fill_ = None


class ContinuedScoring(PassthroughScoring):
    """skorch's ``PassthroughScoring``, whose best score so far survives the
    end of a call, and is the stage's own.

    The estimator builds a new net for every call, with new callbacks; skorch's
    callback would start each call from no best score, and flag the first
    epoch of every ``partial_fit`` call as the best. This one takes the best
    score from the history: the last epoch of the same layer flagged best
    holds it (read from the end, so usually one epoch back). The stages of a
    greedy stack reconstruct different things, on scales of their own, so
    each layer's best is its own: a skorch ``Checkpoint`` saves in every
    stage.
    """

    def on_train_begin(self, net, **kwargs):
        self.initialize()  # no best score: the stage's first epoch is best
        flag, layer = f"{self.name}_best", _stage_layer(net)
        for row in reversed(net.history):
            if row.get("layer") == layer and row.get(flag):
                self.best_score_ = row[self.name]
                break


def _stage_layer(net):
    stage = getattr(net, "stage_", None)
    return None if stage is None else stage.layer


def restart_schedules(net, lr, layer):
    """Start each skorch ``LRScheduler`` of ``net`` at the stage's own first
    epoch, from the learning rate ``lr``, and replay the steps of the epochs
    (or batches) that ``layer`` trained in earlier calls.

    skorch builds the scheduler at ``on_train_begin`` with ``last_epoch`` set
    to every epoch in the history: the second stage of a greedy stack would
    go on from the first stage's last epoch (a cosine would start at its
    end, near 0), and a call after the first would compute a chainable
    schedule from the estimator's ``lr`` rather than from where it had got
    to. A replay is exact for every scheduler, and costs a few microseconds
    a step. A scheduler whose ``last_epoch`` the user set is left alone;
    ``ReduceLROnPlateau``, which follows a score, starts afresh.
    """
    rows = [row for row in net.history if row.get("layer") == layer]
    restarted = [
        callback
        for _, callback in net.callbacks_
        if isinstance(callback, LRScheduler) and "last_epoch" not in callback.kwargs
    ]
    if restarted:
        # The rate skorch's schedulers moved at their start, and the start
        # they set.
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
            group.pop("initial_lr", None)
    batches = sum(row.get("train_batch_count", 0) for row in rows)
    for callback in restarted:
        callback.lr_scheduler_ = scheduler = callback.policy_(
            net.optimizer_, **callback.kwargs
        )
        callback.batch_idx_ = batches
        if callback.policy_ is ReduceLROnPlateau:
            continue
        steps = len(rows) if callback.step_every == "epoch" else batches
        with warnings.catch_warnings():
            # "step() before optimizer.step()": these steps are a replay.
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(steps):
                scheduler.step()
