"""Resolution of the ``device`` parameter to an explicit torch device string.

Every path that places a network (``fit``, ``partial_fit``, a warm start,
loading a saved model, ``transform`` after ``set_params(device=...)``) goes
through :func:`resolve_device`, so they agree on what a device string means.
CUDA devices always come back with their index (``"cuda:0"``, never
``"cuda"``): tensors made later then land on the GPU the model was placed on,
whatever GPU is current by then.
"""

import warnings

import torch

_CHOICES = "use 'auto', 'cpu', 'cuda' or 'cuda:N'"


def _cuda_init_error():
    """Why CUDA cannot be used in this process, or None when it can.

    ``torch.cuda.init()`` is a no-op once CUDA is up; in a process forked after
    its parent initialised CUDA (joblib's ``multiprocessing`` backend) it raises
    "Cannot re-initialize CUDA in forked subprocess", which would otherwise
    surface deep inside a fit.
    """
    try:
        torch.cuda.init()
    except RuntimeError as exc:
        return exc
    return None


def _parse(device):
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a device; {_CHOICES}.") from exc
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r} is not supported; {_CHOICES}.")
    return resolved


def _check_cuda(device, resolved):
    """Raise a ValueError that says why ``device`` cannot be used here, if so."""
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available here "
            f"(torch {torch.__version__}). Use device='auto' to fall back to the "
            "CPU, or device='cpu'."
        )
    error = _cuda_init_error()
    if error is not None:
        raise ValueError(
            f"device={device!r}: CUDA cannot be used in this process ({error}). "
            "Use joblib's default 'loky' backend or the 'spawn' start method, or "
            "device='auto' to fall back to the CPU."
        )
    count = torch.cuda.device_count()
    if resolved.index is not None and resolved.index >= count:
        raise ValueError(
            f"device={device!r} names a GPU that does not exist: {count} visible. "
            f"Use 'cuda:0' to 'cuda:{count - 1}'."
        )


def resolve_device(device):
    """Map ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` to a usable device.

    ``"auto"`` picks the current GPU when CUDA is visible and usable, and the CPU
    otherwise (with a warning in a process where CUDA is visible but unusable);
    an explicit CUDA request that cannot be met is an error rather than a silent
    fallback, so that a user who asked for a GPU knows they are not getting one.
    ``"cuda"`` becomes ``"cuda:K"`` for the current GPU ``K``.
    """
    if isinstance(device, str) and device == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        error = _cuda_init_error()
        if error is not None:
            warnings.warn(
                f"device='auto': CUDA cannot be used in this process ({error}); "
                "using the CPU. Use joblib's default 'loky' backend (or the "
                "'spawn' start method) to use the GPU.",
                RuntimeWarning,
                stacklevel=3,
            )
            return "cpu"
        return f"cuda:{torch.cuda.current_device()}"
    resolved = _parse(device)
    if resolved.type == "cpu":
        return "cpu"
    _check_cuda(device, resolved)
    index = torch.cuda.current_device() if resolved.index is None else resolved.index
    return f"cuda:{index}"


def resolve_loaded_device(device, saved_device):
    """Where a loaded network goes when the device it was saved from is not
    here: ``device`` resolved, or else the CPU, with a warning unless it was
    saved from the CPU."""
    try:
        return resolve_device(device)
    except ValueError as exc:
        if saved_device != "cpu":
            warnings.warn(
                f"This model was saved from {saved_device!r} and asks for "
                f"device={device!r}, which cannot be used here ({exc}). It is "
                "placed on the CPU; set_params(device=...) chooses where it runs.",
                UserWarning,
                stacklevel=4,
            )
        return "cpu"
