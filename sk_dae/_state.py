"""A fitted model's state: taking it, loading it into a new net, and undoing a
call that failed.

Every route to a net (a fresh fit, a warm fit, ``partial_fit``, a loaded model,
a change of device) builds a new net and loads a state into it
(:func:`restore_net`); the net a call trains is never the fitted one. So a
call that fails has changed no object the estimator held before it, and
:func:`unchanged_on_error` undoes it by restoring the estimator's attributes,
for both estimators.

The portable form of a state (:func:`net_state` with ``portable=True``) is
numpy arrays and plain values: pickle, joblib and ``skops.io`` then store no
torch object, loading makes no tensor and touches no GPU (the estimator
rebuilds the net where it is first needed), a model trained on a GPU loads on
a CPU-only machine, and ``skops.io.load`` trusts no type beyond this package's
estimators.
"""

from contextlib import contextmanager

import numpy as np
import torch

from ._history import RowHistory


@contextmanager
def unchanged_on_error(estimator):
    """Restore ``estimator``'s attributes if the block raises.

    A shallow copy of the attributes is enough because no call changes in
    place an object that an attribute held before it: a call builds a new net
    from the fitted one's state, and assigns new lists and arrays.
    """
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


def _to_numpy(value):
    if isinstance(value, torch.Tensor):
        # A copy, never a view of a CPU tensor.
        return np.array(value.detach().cpu().numpy())
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    return value


def _to_torch(value, copy=True):
    """Tensors from a state's arrays; ``copy=False`` where the consumer copies
    them itself (``Module.load_state_dict``). The optimizer keeps a tensor it
    is given when it is on the right device already: a copy, so that training
    the new net leaves the state's source as it was."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value) if copy else value)
    if isinstance(value, torch.Tensor):
        return value.detach().clone() if copy else value
    if isinstance(value, dict):
        return {k: _to_torch(v, copy) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_torch(v, copy) for v in value]
    return value


def net_state(net, *, portable=False):
    """The state of ``net``: weights, optimizer, history, random streams and
    the device they were on.

    ``portable=False`` (a state to build the next net from, in the same
    process) refers to the net's tensors and history rows without copying
    them: :func:`restore_net` copies what it loads, and training appends
    history rows but never changes those of finished epochs, so building a net
    per call costs the same after 10 calls as after 10,000. ``portable=True``
    copies everything into numpy arrays and plain values (for pickling).
    """
    convert = _to_numpy if portable else (lambda value: value)
    rows = RowHistory.copy_rows(net.history)
    if portable:
        rows = [dict(row) for row in rows]
    elif rows:
        # The one row a callback might still write to (on_train_begin runs
        # before the next epoch's row is made).
        rows[-1] = dict(rows[-1])
    return {
        "device": net.device,
        "module": convert(net.module_.state_dict()),
        "fill": convert(net.fill_.state_dict()),
        "optimizer": convert(net.optimizer_.state_dict()),
        "history": rows,
        "noise_rng": convert(net.noise_generator_.get_state()),
        "shuffle_rng": convert(net.shuffle_generator_.get_state()),
    }


def restore_net(net, state):
    """Load ``state`` (from :func:`net_state`) into the initialized ``net``,
    which may live on another device than the one the state was taken on."""
    net.module_.load_state_dict(_to_torch(state["module"], copy=False))
    net.fill_.load_state_dict(_to_torch(state["fill"], copy=False))
    net.optimizer_.load_state_dict(_to_torch(state["optimizer"]))
    net.history_ = RowHistory(state["history"])
    # The shuffling stream lives on the CPU wherever the net is. The noise
    # stream's state is device-specific: moved to another device, it is reseeded
    # deterministically from its seed and the epochs run so far.
    net.shuffle_generator_.set_state(_to_torch(state["shuffle_rng"]))
    if state.get("device") == net.device:
        net.noise_generator_.set_state(_to_torch(state["noise_rng"]))
    else:
        net.noise_generator_.manual_seed(net.noise_seed + len(net.history))
    return net
