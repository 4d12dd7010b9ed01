"""The skorch engine: a ``NeuralNet`` that trains with the denoising criterion.

Only documented hooks are overridden (``get_default_callbacks``,
``initialize_module``, ``initialize_history``, ``get_dataset``,
``get_split_datasets``, ``get_iterator``, ``run_single_epoch``,
``train_step``, ``train_step_single``, ``validation_step``,
``evaluation_step``, ``get_loss``, ``on_epoch_begin``); skorch's ``fit_loop``
runs every epoch, and the bookkeeping around it (the
``on_train_begin``/``on_train_end`` notifications, the history) goes through
skorch's public ``notify`` and ``History`` calls, so its callbacks work
unchanged.

The net trains any module that follows the protocol of :mod:`sk_dae.modules`
(``encode``, ``decode``). Its own sub-module ``fill_``
(:class:`~sk_dae._fill.InputFill`) fills the holes of the input before
``encode``, so the module never sees a hole as anything but its fill.

Training runs in *stages* (:meth:`DenoisingAutoencoderNet.fit_stages`), each
described by one :class:`Stage`: one per layer for greedy layer-wise
pretraining of the built-in stack (the stage's data are the codes of the
layer below), or a single stage over the whole module. One Adam optimizer
covers every parameter: a greedy stage gives gradients to its own layer only,
and Adam skips parameters without a gradient, so each layer keeps its own
moments across stages and ``partial_fit`` calls. Every stage trains through
autograd, except one that trains the built-in modules themselves (a
:class:`~sk_dae.modules.DAELayer`, the whole
:class:`~sk_dae.modules.StackedDenoisingAutoencoder`, or a
:class:`~sk_dae.modules.StackEnsemble`) on a numeric input, whose gradients
are derived by hand (:mod:`sk_dae._backprop`, which says what that saves).
"""

import dataclasses
import functools
from dataclasses import dataclass

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, EpochTimer, LRScheduler, PrintLog
from skorch.utils import TeeGenerator

from ._backprop import StackBackprop
from ._callbacks import ContinuedScoring, Outcome, StopStage, restart_schedules
from ._columns import ColumnLayout, DeviceColumns
from ._data import BatchIterator, RowData, each_batch, training_rows
from ._fill import InputFill
from ._functions import ACTIVATIONS, LOSSES
from ._history import RowHistory
from ._loss import ReconstructionLoss, consistency_loss
from ._missing import column_means, holes_of, split_missing
from ._noise import NoiseRNG
from ._optim import adam_step
from ._protocol import check_protocol
from ._threads import chooser
from .modules import DAELayer, StackedDenoisingAutoencoder, StackEnsemble

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")

# The modules whose stages train on hand-derived gradients (sk_dae._backprop).
_HAND_DERIVED = (DAELayer, StackedDenoisingAutoencoder, StackEnsemble)


def _works_per_batch(callback):
    """Whether ``callback`` overrides a per-batch hook. An ``LRScheduler``
    stepping per epoch does not count for its own batch hook, which returns at
    once; a subclass that overrides a hook again does."""
    cls = type(callback)
    base = Callback
    if isinstance(callback, LRScheduler) and callback.step_every == "epoch":
        base = LRScheduler
    return any(getattr(cls, hook) is not getattr(base, hook) for hook in _BATCH_HOOKS)


@dataclass(frozen=True)
class Stage:
    """What one training stage owns.

    ``module`` is what it trains (the user's module, the built-in stack, or
    one layer of it); ``layer`` the stack's layer for the history (None: the
    whole module); ``corrupt(X, level, rng, observed) -> (X_tilde,
    corrupted)`` and ``level`` its noise; ``bottom`` whether it reconstructs
    the input (then its holes get the input fill and its loss is the input
    loss; upper layers reconstruct codes with squared error); ``missing``
    whether its rows have missing entries, which each batch then splits off;
    ``drops`` whether the noise drops inputs (masking), which then enter as
    holes; ``valid`` the validation rows (None: none); ``backprop`` the
    hand-derived gradients, or None for autograd; ``columns`` the
    :class:`~sk_dae._columns.DeviceColumns` of a mixed-type table's input
    (the bottom stage's; None: every input is a column).
    """

    module: torch.nn.Module
    layer: int | None
    corrupt: object
    level: float
    loss_kind: str
    bottom: bool
    fills: bool
    missing: bool
    drops: bool
    valid: RowData | None = None
    backprop: StackBackprop | None = None
    columns: DeviceColumns | None = None

    @property
    def held_out(self):
        """Whether validation scores held-out entries (rows with targets)."""
        return self.valid is not None and self.valid.has_targets

    @property
    def on_logits(self):
        return LOSSES[self.loss_kind].on_logits


@dataclass(frozen=True)
class TrainingResult:
    """How :meth:`DenoisingAutoencoderNet.fit_stages` ended.

    ``outcome`` is the last stage's (a greedy stack goes on to the next layer
    after ``DONE`` or ``EARLY_STOPPED``, and stops after ``DIVERGED`` or
    ``INTERRUPTED``); ``layer`` the layer of that stage (None: the whole
    module); ``corruption`` the noise as trained (salt and pepper's ranges
    widened to each stage's data); ``bad_loss`` the loss that diverged, or
    None; ``code_shape`` the shape of one row's code, for a fresh module
    (None otherwise).
    """

    outcome: Outcome
    layer: int | None
    corruption: object
    bad_loss: float | None = None
    code_shape: tuple | None = None


class DenoisingAutoencoderNet(NeuralNet):
    """skorch net around a module with ``encode`` and ``decode``.

    Each training step corrupts the clean batch ``x`` into ``x~`` with fresh
    noise, fills its holes, reconstructs ``z = decode(encode(x~))`` and
    minimises ``L(x, z)``: the loss is measured against the clean input. As a
    skorch net, ``forward(X)`` and ``predict(X)`` return the reconstructions
    of the clean rows of X.

    Parameters
    ----------
    module : torch.nn.Module
        The autoencoder, built already (the estimator builds it, seeded).
    n_features : int
        Width of the input.
    input_fill : {"zero", "mean", "learned"}, default="zero"
        The fill of the input's holes (:class:`~sk_dae._fill.InputFill`),
        zeros until :meth:`fit_data` of a fresh module sets it.
    stacking : {"greedy", "joint"}, default="joint"
        For the built-in stack, one stage per layer or one over the stack;
        any other module trains as one stage.
    input_loss : str
        Loss of the stages that reconstruct the input, a key of
        :data:`~sk_dae._functions.LOSSES`.
    noise_seed, shuffle_seed : int
        Seeds of the private generators for the corruption and the shuffling.
    consistency : float, default=0.0
        Weight of a term of the loss that pulls the codes of the corrupted
        rows towards those of the clean rows
        (:func:`~sk_dae._loss.consistency_loss`).
    hand_derived : bool, default=True
        Whether a stage that trains a built-in ``DAELayer``,
        ``StackedDenoisingAutoencoder`` or ``StackEnsemble`` uses the
        hand-derived gradients (False: autograd, as every other stage; for
        measuring).
    columns : dict or None, default=None
        A mixed-type table's :class:`~sk_dae._columns.ColumnLayout` as its
        ``to_dict()``: the input's numeric columns, then one one-hot group per
        categorical column, each reconstructed with a softmax cross-entropy.
        None: every input is a numeric column.
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(
        self,
        module,
        *args,
        n_features,
        criterion=ReconstructionLoss,
        input_fill="zero",
        stacking="joint",
        input_loss="mse",
        noise_seed=0,
        shuffle_seed=0,
        consistency=0.0,
        hand_derived=True,
        columns=None,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.n_features = n_features
        self.input_fill = input_fill
        self.stacking = stacking
        self.input_loss = input_loss
        self.noise_seed = noise_seed
        self.shuffle_seed = shuffle_seed
        self.consistency = consistency
        self.hand_derived = hand_derived
        self.columns = columns

    def get_default_callbacks(self):
        # skorch's, but the scores keep their best across calls, and the
        # epoch table is made only when it is printed (tabulating it cost
        # 0.6 ms an epoch, a fifth of a small partial_fit call).
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", ContinuedScoring(name="train_loss", on_train=True)),
            ("valid_loss", ContinuedScoring(name="valid_loss")),
        ]
        if self.verbose:
            callbacks.append(("print_log", PrintLog()))
        return callbacks

    def initialize_module(self):
        super().initialize_module()
        # A custom skorch module: moved to the device, and its parameters
        # (a learned fill) join the optimizer's.
        self.fill_ = InputFill(self.n_features, self.input_fill)
        return self

    def initialize_history(self):
        self.history_ = RowHistory()
        return self

    def initialize(self):
        super().initialize()
        self.columns_ = None
        if self.columns is not None:
            self.columns_ = ColumnLayout(**self.columns).on(self.device)
        self.threads_ = None  # the ThreadChooser of the stage that trains
        self.stage_ = None
        self.noise_generator_ = NoiseRNG(self.device, self.noise_seed)
        self.shuffle_generator_ = torch.Generator().manual_seed(self.shuffle_seed)
        # Validation corrupts with the same noise at every epoch, so that the
        # validation curve moves with the model, not with the noise draw.
        self.valid_generator_ = NoiseRNG(self.device)
        return self

    def fit(self, X, y=None, **fit_params):
        raise TypeError(_NOT_HERE.format(method="fit"))

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        raise TypeError(_NOT_HERE.format(method="partial_fit"))

    # -- stages ---------------------------------------------------------------

    def stage_modules(self):
        """``(layer, module)`` of each stage: each layer of the built-in stack
        for greedy stacking, else the one module (layer None)."""
        module = self.module_
        if not isinstance(module, StackedDenoisingAutoencoder):
            return [(None, module)]
        modules = module.stages(self.stacking)
        if self.stacking == "joint":
            return [(None, modules[0])]
        return list(enumerate(modules))

    def fit_data(
        self, X, missing, corruption, epochs, *, holdout, fraction, seed, fresh
    ):
        """Train on the rows of X, which has a missing entry where ``missing``
        (None: not known yet): what a training call of the estimator runs.

        A ``fresh`` module (one that has not trained yet) is first held to the
        protocol on X's first rows (:func:`~sk_dae._protocol.check_protocol`),
        and its input fill starts at X's column means; then ``holdout``
        (None, ``"rows"`` or ``"entries"``) splits off ``fraction`` of X,
        seeded by ``seed`` (:func:`~sk_dae._data.training_rows`), for early
        stopping, and every stage trains (:meth:`fit_stages`).

        Returns
        -------
        result : TrainingResult
        """
        code_shape = None
        if fresh:
            code_shape = check_protocol(self.module_, X, self.device)
            if self.fill_.active:
                self.fill_.set_values(column_means(X))
        columns = None if self.columns_ is None else self.columns_.layout
        train, valid = training_rows(
            X, missing, self.device, holdout, fraction, seed, columns=columns
        )
        result = self.fit_stages(train, corruption, epochs, valid=valid)
        return dataclasses.replace(result, code_shape=code_shape)

    def fit_stages(self, data, corruption, epochs, valid=None):
        """Train every stage for up to ``epochs`` epochs.

        Parameters
        ----------
        data, valid : RowData
            Training rows, and validation rows (or None) for early stopping.
        corruption : Corruption
            The noise, with a level per stage (:class:`~sk_dae._noise.Corruption`).
        epochs : int
            Epochs of each stage.

        Returns
        -------
        result : TrainingResult
        """
        stages = self.stage_modules()
        bad_loss = None
        try:
            for k, (layer, module) in enumerate(stages):
                if corruption.needs_ranges:
                    low, high = data.column_range()
                    corruption = corruption.widened(layer, low, high)
                self.stage_ = self.make_stage(layer, module, corruption, data, valid)
                # Gradients left by the last stage must not reach Adam here.
                for _, param in self.get_all_learnable_params():
                    param.grad = None
                outcome, bad_loss = self.fit_stage(data, epochs)
                last = k + 1 == len(stages)
                if last or outcome in (Outcome.DIVERGED, Outcome.INTERRUPTED):
                    return TrainingResult(outcome, layer, corruption, bad_loss)
                data = self.stage_codes(data)
                valid = None if valid is None else self.stage_codes(valid)
        finally:
            self.stage_ = None

    def make_stage(self, layer, module, corruption, data, valid=None):
        """The :class:`Stage` that trains ``module`` (``layer`` of the stack,
        or None) on ``data`` with ``corruption``."""
        bottom = not layer  # None (the whole module) or layer 0
        loss_kind = self.input_loss if bottom else "mse"
        columns = self.columns_ if bottom else None
        backprop = None
        # The hand-derived gradients know the built-in modules themselves (not
        # a subclass, which may compute otherwise) and the loss over entries.
        if self.hand_derived and type(module) in _HAND_DERIVED and columns is None:
            backprop = StackBackprop(
                module,
                loss_kind,
                self.criterion_.emphasis,
                self.consistency,
                fill=self.fill_.value if bottom else None,
            )
        return Stage(
            module=module,
            layer=layer,
            corrupt=corruption.function(layer, data.device),
            level=corruption.levels[layer or 0],
            loss_kind=loss_kind,
            bottom=bottom,
            # Looked up once: a module's attribute costs 2 us a batch.
            fills=bottom and self.fill_.active,
            missing=data.missing,
            drops=corruption.drops,
            valid=valid,
            backprop=backprop,
            columns=columns,
        )

    def fit_stage(self, data, epochs):
        """Run up to ``epochs`` epochs of the current stage; return the
        ``(Outcome, bad_loss)``.

        skorch's ``partial_fit`` without its catch-all: the callback that stops
        training says why (:class:`~sk_dae._callbacks.StopStage`); any other
        ``KeyboardInterrupt`` is a user's skorch ``EarlyStopping`` that ran out of
        patience, or else Ctrl-C.
        """
        self.threads_ = chooser("train", self.device)
        # Each stage starts at the estimator's lr; skorch's LRScheduler
        # resumes at the history's last epoch, which torch allows only once
        # it knows the starting rate.
        for group in self.optimizer_.param_groups:
            group["lr"] = self.lr
            group["initial_lr"] = self.lr
        self.notify("on_train_begin", X=data, y=None)
        # Each stage's learning-rate schedule starts at its own first epoch.
        restart_schedules(self, self.lr, self.stage_.layer)
        bad_loss = None
        try:
            self.fit_loop(data, epochs=epochs)
            outcome = Outcome.DONE
        except StopStage as stop:
            outcome, bad_loss = stop.outcome, stop.bad_loss
        except KeyboardInterrupt:
            outcome = self._plain_interrupt_outcome()
        self.notify("on_train_end", X=data, y=None)
        return outcome, bad_loss

    def _plain_interrupt_outcome(self):
        """A plain KeyboardInterrupt is Ctrl-C, unless a user's own skorch
        ``EarlyStopping`` (which raises one too) has run out of patience."""
        for _, cb in self.callbacks_:
            if isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience:
                return Outcome.EARLY_STOPPED
        return Outcome.INTERRUPTED

    def stage_codes(self, data):
        """Codes of the current stage for every row of ``data``: the next
        stage's input, kept where ``data`` keeps its rows."""
        stage = self.stage_
        codes = None

        def encode(rows, x, observed):
            nonlocal codes
            h = stage.module.encode(self._filled(stage, x, holes_of(observed)))
            if codes is None:
                shape = (len(data), *h.shape[1:])
                codes = torch.empty(shape, device=data.storage_device)
            codes[rows] = h

        each_batch(data, encode, chooser("infer", self.device))
        # The holes entered filled: the codes have none.
        return RowData(codes, self.device, missing=False)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        self.module_.train()
        self.noise_generator_.new_epoch()
        self.valid_generator_.manual_seed(self.noise_seed + 1)
        # Greedy stacks run one stage per layer: say which layer each epoch trained.
        self.history.record("layer", self.stage_.layer)

    # -- data -----------------------------------------------------------------

    def get_dataset(self, X, y=None):
        return X if isinstance(X, RowData) else RowData(X, self.device)

    def get_split_datasets(self, X, y=None, **fit_params):
        # The stage's own validation rows: nothing is split off here.
        return self.get_dataset(X), self.stage_.valid

    def get_iterator(self, dataset, training=False):
        return BatchIterator(
            dataset,
            self.batch_size,
            shuffle=training,
            generator=self.shuffle_generator_ if training else None,
        )

    # -- steps ----------------------------------------------------------------

    def _filled(self, stage, x, holes):
        """The stage's input with its holes filled (the bottom stage's only)."""
        return self.fill_(x, holes) if stage.fills else x

    def observed_part(self, batch):
        """``(x, observed)``: the clean rows of a batch ``(X, y)`` with their
        missing entries set to 0, and the mask of the others (None when the
        stage's rows have no missing entry: complete data pays nothing)."""
        x = batch[0]
        return split_missing(x) if self.stage_.missing else (x, None)

    def corrupt(self, x, observed, generator):
        """``(x_tilde, corrupted)``: the stage's corruption of the clean batch,
        its holes (dropped by masking noise, or missing) filled."""
        stage = self.stage_
        x_tilde, corrupted = stage.corrupt(x, stage.level, generator, observed=observed)
        if not stage.fills:
            return x_tilde, corrupted
        # Masking noise: what it touched, the missing entries included.
        holes = corrupted if stage.drops else holes_of(observed)
        return self.fill_(x_tilde, holes), corrupted

    def clean_codes(self, x, observed):
        """The stage's codes of the clean batch, which the consistency term
        pulls the codes of the corrupted batch towards; None without it."""
        if not self.consistency:
            return None
        stage = self.stage_
        with torch.no_grad():
            return stage.module.encode(self._filled(stage, x, holes_of(observed)))

    def denoising_loss(self, x, observed, generator, training):
        """Corrupt the clean batch ``x``, reconstruct it, and score it (autograd):
        ``(loss, z)``."""
        x_tilde, corrupted = self.corrupt(x, observed, generator)
        module = self.stage_.module
        h = module.encode(x_tilde)
        z = module.decode(h)
        loss = self.get_loss(
            z, x, training=training, corrupted=corrupted, observed=observed
        )
        clean = self.clean_codes(x, observed)
        if clean is not None:
            loss = loss + consistency_loss(h, clean, self.consistency)
        return loss, z

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        threads = getattr(self, "threads_", None)  # None: a net used as skorch's
        if threads is not None and not training:
            threads.settle()  # validation runs on the count training chose
        if iterator is None or self._batch_hooks_in_use():
            if threads is not None and training:
                step_fn = functools.partial(threads.run, step_fn)
            return super().run_single_epoch(
                iterator, training, prefix, step_fn, **fit_params
            )
        # No callback works per batch (the default; ProgressBar, a scoring
        # callback, gradient clipping or a per-batch LRScheduler would): skip
        # skorch's per-batch notify calls, and read the batch losses off the
        # device once per epoch rather than once per batch (on a GPU, one
        # synchronisation per epoch). The history ends up as skorch's loop
        # leaves it (tests/test_training_loop.py).
        step = self._train_batch if training else self._validation_loss
        if threads is not None and training:
            step = functools.partial(threads.run, step)
        losses, sizes = [], []
        for batch in iterator:
            losses.append(step(batch).detach())
            sizes.append(len(batch[0]))
        values = torch.stack(losses).tolist() if losses else []
        for loss, size in zip(values, sizes, strict=True):
            self.history.new_batch()
            self.history.record_batch(f"{prefix}_loss", loss)
            self.history.record_batch(f"{prefix}_batch_size", size)
        self.history.record(f"{prefix}_batch_count", len(sizes))

    def _batch_hooks_in_use(self):
        """Whether a callback works per batch."""
        return any(_works_per_batch(cb) for _, cb in self.callbacks_)

    def _train_batch(self, batch):
        """One optimizer step on a batch, no callback notified; the loss."""
        if self.stage_.backprop is None:
            self.optimizer_.zero_grad()
        loss, _ = self._loss_and_gradients(batch)
        adam_step(self.optimizer_)
        return loss

    def _validation_loss(self, batch):
        return self._validation_loss_and_output(batch)[0]

    def train_step(self, batch, **fit_params):
        if self.stage_.backprop is None:
            return super().train_step(batch, **fit_params)
        # skorch's step zeroes the gradients and hands Adam a closure; the hand-
        # derived step overwrites its gradients and Adam calls no closure, so the
        # step is done directly (skorch's documented way to take control of it).
        step = self.train_step_single(batch, **fit_params)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        adam_step(self.optimizer_)
        return step

    def train_step_single(self, batch, **fit_params):
        loss, z = self._loss_and_gradients(batch)
        return {"loss": loss, "y_pred": self._as_output(z)}

    def _loss_and_gradients(self, batch):
        """The denoising loss of a batch and the stage's reconstruction (logits
        for a loss on logits); the gradients are left in ``.grad``."""
        # No per-batch module.train(): on_epoch_begin sets the mode, and
        # validation (which sets eval) runs after the epoch's training.
        x, observed = self.observed_part(batch)
        backprop = self.stage_.backprop
        if backprop is None:
            loss, z = self.denoising_loss(x, observed, self.noise_generator_, True)
            loss.backward()
            return loss, z
        x_tilde, corrupted = self.corrupt(x, observed, self.noise_generator_)
        # The holes a learned fill stood in for (its gradient's entries):
        # those the noise dropped, or the missing ones.
        holes = None
        if backprop.fill is not None:
            holes = corrupted if self.stage_.drops else holes_of(observed)
        clean = self.clean_codes(x, observed)
        return backprop(x_tilde, x, corrupted, observed, holes, clean)

    def _as_output(self, z):
        """The stage's reconstruction as callbacks score it, from what the
        loss took (its logits, for a loss on logits; a mixed-type table's
        categorical columns as softmax probabilities)."""
        link = ACTIVATIONS[LOSSES[self.stage_.loss_kind].output].forward
        if self.stage_.columns is not None:
            return self.stage_.columns.link(link, z.detach())
        if not self.stage_.on_logits:
            return z
        return link(z.detach())

    def validation_step(self, batch, **fit_params):
        loss, z = self._validation_loss_and_output(batch)
        return {"loss": loss, "y_pred": self._as_output(z)}

    def _validation_loss_and_output(self, batch):
        self.module_.eval()
        if self.stage_.held_out:
            return self._held_out_loss(batch)
        x, observed = self.observed_part(batch)
        with torch.no_grad():
            return self.denoising_loss(x, observed, self.valid_generator_, False)

    def _held_out_loss(self, batch):
        """The loss on held-out entries (``(X, y)``: y is NaN but where X
        lacks an entry that was held out): the rows as they are, without
        noise, reconstructed and scored on those entries only, as an imputer
        would be."""
        x, observed = split_missing(batch[0])
        target, held = split_missing(batch[1])
        stage = self.stage_
        with torch.no_grad():
            z = stage.module.decode(
                stage.module.encode(self._filled(stage, x, holes_of(observed)))
            )
            return self.get_loss(z, target, training=False, observed=held), z

    def evaluation_step(self, batch, training=False):
        # forward and predict: the clean rows' reconstructions, their missing
        # entries entering as the input fill, as in transform.
        self.check_is_fitted()
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x, observed = split_missing(x)
        with torch.set_grad_enabled(training):
            self.module_.train(training)
            z = self.module_.decode(self.module_.encode(self.fill_(x, ~observed)))
        link = ACTIVATIONS[LOSSES[self.input_loss].output].forward
        if self.columns_ is not None:
            return self.columns_.link(link, z)
        return link(z)

    def get_loss(
        self, y_pred, y_true, X=None, training=False, corrupted=None, observed=None
    ):
        """Mean denoising loss of the batch: reconstruction ``y_pred`` against the
        clean input ``y_true`` over its ``observed`` entries (None: all);
        ``corrupted`` marks the components to emphasise."""
        stage = self.stage_
        return self.criterion_(
            y_pred, y_true, stage.loss_kind, corrupted, observed, stage.columns
        )


_NOT_HERE = (
    "DenoisingAutoencoderNet.{method} is not supported: the estimator's net is "
    "its fitted state, and training it in place would change a fitted model "
    "outside the estimator. Call the estimator's fit or partial_fit instead: "
    "partial_fit (and fit with warm_start=True) trains a new net from the "
    "fitted one's state, and fit starts afresh."
)
