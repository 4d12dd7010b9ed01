"""Resolution of the ``device`` parameter to a torch device string."""

import torch


def resolve_device(device):
    """Map ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` to a usable device.

    ``"auto"`` picks CUDA when a GPU is visible and the CPU otherwise; an explicit
    CUDA request on a machine without one is an error rather than a silent
    fallback, so that a user who asked for a GPU knows they are not getting one.
    """
    if isinstance(device, str) and device == "auto":
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
    if resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} names a GPU that does not exist: "
            f"{torch.cuda.device_count()} visible. Use 'cuda:0' to "
            f"'cuda:{torch.cuda.device_count() - 1}'."
        )
    return str(resolved)
