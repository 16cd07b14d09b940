"""Torch devices named by the user: checked once, up front, with a one-line error.

``check_device("cuda")`` on a torch without CUDA, ``"cuda:1"`` on a one-GPU machine or ``"tpu"``
would otherwise fail deep inside the first tensor operation (after minutes of work, with a torch
traceback). Every entry point that takes a ``device`` calls :func:`check_device` first:
:class:`~edpbrl.personalizer.Personalizer`, :func:`~edpbrl.embed.load_embedder`,
:func:`~edpbrl.design.solvers.solve_design` and the design benchmark.
"""

from __future__ import annotations

import torch

from .errors import EdpbrlError

SUPPORTED = ("cpu", "cuda", "mps")  # device types accepted; cuda also as cuda:N


class DeviceError(EdpbrlError):
    """A device name that this torch cannot use."""


def _usage() -> str:
    return "expected cpu, cuda, cuda:N or mps"


def check_device(device: str | torch.device | None) -> str:
    """The device as a normalised string (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).

    Raises DeviceError (one line) for an unknown device type, a type this library does not run
    on, a CUDA/MPS device this torch was built without or that this machine does not have, or a
    CUDA index beyond the visible GPUs.
    """
    if device is None:
        return "cpu"
    if not isinstance(device, str | torch.device):
        raise DeviceError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
    text = str(device).strip()
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise DeviceError(f"unknown device {text!r}: {_usage()}") from None
    if dev.type not in SUPPORTED:
        raise DeviceError(f"device {text!r} is not supported: {_usage()}")
    if dev.type == "cuda":
        if not torch.backends.cuda.is_built():
            raise DeviceError(
                f"device {text!r} is not available: this torch ({torch.__version__}) was built "
                "without CUDA; use --device cpu or install a CUDA build of torch"
            )
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise DeviceError(f"device {text!r} is not available: no CUDA GPU is visible; use --device cpu")
        if dev.index is not None and dev.index >= n:
            have = ", ".join(f"cuda:{i}" for i in range(n))
            raise DeviceError(f"device {text!r} does not exist: {n} CUDA GPU(s) visible ({have})")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {text!r} is not available on this machine; use --device cpu")
    if dev.type == "cpu" and dev.index not in (None, 0):
        raise DeviceError(f"device {text!r} does not exist: use cpu")
    return str(dev)
