"""Resolution of the ``device`` parameter to a torch device string."""

import warnings

import torch


def _in_bad_fork():
    # A process forked after its parent initialised CUDA cannot use CUDA (e.g.
    # joblib's multiprocessing backend); torch would raise deep inside a fit.
    return torch.cuda._is_in_bad_fork()


def resolve_device(device):
    """Map ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` to a usable device.

    ``"auto"`` picks CUDA when a GPU is visible and the CPU otherwise; an explicit
    CUDA request on a machine without one is an error rather than a silent
    fallback, so that a user who asked for a GPU knows they are not getting one.
    """
    if isinstance(device, str) and device == "auto":
        if _in_bad_fork():
            warnings.warn(
                "device='auto': CUDA cannot be used in a process forked after CUDA "
                "was initialised; training on the CPU. Use joblib's default 'loky' "
                "backend (or the 'spawn' start method) to train on the GPU.",
                RuntimeWarning,
                stacklevel=3,
            )
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type == "cpu":
        return "cpu"
    if resolved.type != "cuda":
        raise ValueError(
            f"device={device!r} is not supported; use 'auto', 'cpu', 'cuda' or "
            "'cuda:N'."
        )
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available here "
            f"(torch {torch.__version__}). Use device='auto' to fall back to the "
            "CPU, or device='cpu'."
        )
    if _in_bad_fork():
        raise ValueError(
            f"device={device!r}: CUDA cannot be used in a process forked after CUDA "
            "was initialised. Use joblib's default 'loky' backend or the 'spawn' "
            "start method, or device='auto' to fall back to the CPU."
        )
    if resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} names a GPU that does not exist: "
            f"{torch.cuda.device_count()} visible. Use 'cuda:0' to "
            f"'cuda:{torch.cuda.device_count() - 1}'."
        )
    return str(resolved)
