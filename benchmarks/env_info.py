"""The machine and package versions a benchmark ran with, for its JSON output."""

import os
import platform
import resource

import numpy as np
import sklearn
import skorch
import torch

import sk_dae


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device):
    """Versions, CPU, cores and the GPU (when ``device`` is a CUDA device)."""
    info = {
        "python": platform.python_version(),
        "sk_dae": sk_dae.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "torch": torch.__version__,
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if str(device).startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def machine_line(info):
    """One line naming the machine, for printed reports: the GPU when one was
    used, and always the CPU."""
    where = f"{info['cpu']}, {info['cores']} cores"
    if info.get("gpu"):
        where = f"{info['gpu']} with {where}"
    return f"{where}; torch {info['torch']}, scikit-learn {info['scikit-learn']}"


def peak_rss_bytes():
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
