"""A fitted net as plain numpy and Python values, and back.

Pickle, joblib and ``skops.io`` then store no torch object at all: loading
makes no torch tensor and touches no GPU (the estimator rebuilds the net where
it is first needed), a model trained on a GPU loads on a CPU-only machine, and
``skops.io.load`` needs to trust no type beyond this package's estimator.
"""

import numpy as np
import torch


def _to_numpy(value):
    if isinstance(value, torch.Tensor):
        # A copy, never a view of a CPU tensor: the state must not change when
        # the net trains on (a snapshot taken before a call that may fail).
        return np.array(value.detach().cpu().numpy())
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    return value


def _to_torch(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, dict):
        return {k: _to_torch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_torch(v) for v in value]
    return value


def net_state(net):
    """The fitted state of ``net``: weights, optimizer, history, RNG streams and
    the device they were on."""
    return {
        "device": net.device,
        "module": _to_numpy(net.module_.state_dict()),
        "optimizer": _to_numpy(net.optimizer_.state_dict()),
        # Rows are copied, not their contents: training appends rows and
        # never changes those of finished epochs.
        "history": [dict(row) for row in net.history],
        "noise_rng": _to_numpy(net.noise_generator_.get_state()),
        "shuffle_rng": _to_numpy(net.shuffle_generator_.get_state()),
    }


def restore_net(net, state):
    """Load ``state`` (from :func:`net_state`) into the initialized ``net``,
    which may live on another device than the one the state was saved from."""
    net.module_.load_state_dict(_to_torch(state["module"]))
    net.optimizer_.load_state_dict(_to_torch(state["optimizer"]))
    net.history.extend(state["history"])
    # The shuffling stream lives on the CPU wherever the net is. The noise
    # stream's state is device-specific: moved to another device, it is reseeded
    # deterministically from its seed and the epochs run so far.
    net.shuffle_generator_.set_state(_to_torch(state["shuffle_rng"]))
    if state.get("device") == net.device:
        net.noise_generator_.set_state(_to_torch(state["noise_rng"]))
    else:
        net.noise_generator_.manual_seed(net.noise_seed + len(net.history))
    return net
