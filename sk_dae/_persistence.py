"""A fitted net as plain numpy and Python values, and back.

Pickle, joblib and ``skops.io`` then store no torch object at all: a model
trained on a GPU loads on a CPU-only machine, and ``skops.io.load`` needs to trust
no type beyond this package's estimator.
"""

import warnings

import numpy as np
import torch


def _to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
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
    """The fitted state of ``net``: weights, optimizer, history and RNG streams."""
    return {
        "module": _to_numpy(net.module_.state_dict()),
        "optimizer": _to_numpy(net.optimizer_.state_dict()),
        "history": [dict(row) for row in net.history],
        "noise_rng": _to_numpy(net.noise_generator_.get_state()),
        "shuffle_rng": _to_numpy(net.shuffle_generator_.get_state()),
    }


def load_device(saved_device):
    """The device to load onto: the saved one, or the CPU where it is missing."""
    if saved_device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"This model was trained on {saved_device!r}, which is not available "
            "here; it is loaded on the CPU.",
            UserWarning,
            stacklevel=3,
        )
        return "cpu"
    return saved_device


def restore_net(net, state, same_device):
    """Load ``state`` (from :func:`net_state`) into the initialized ``net``."""
    net.module_.load_state_dict(_to_torch(state["module"]))
    net.optimizer_.load_state_dict(_to_torch(state["optimizer"]))
    net.history.extend(state["history"])
    # RNG states are device-specific; moved to another device, the streams are
    # reseeded deterministically from the seeds and the epochs run so far.
    if same_device:
        net.noise_generator_.set_state(_to_torch(state["noise_rng"]))
        net.shuffle_generator_.set_state(_to_torch(state["shuffle_rng"]))
    else:
        net.noise_generator_.manual_seed(net.noise_seed + len(net.history))
        net.shuffle_generator_.manual_seed(net.shuffle_seed + len(net.history))
    return net
