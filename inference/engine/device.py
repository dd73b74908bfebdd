"""Which device a training run uses: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, resolved once at start.

On the CPU every helper here is the identity (no autocast context, no gradient scaler, no copies),
so a CPU run computes exactly what it computed before devices existed. On a CUDA device the run
uses bf16 autocast where the card supports it, else fp16 autocast with a gradient scaler, and
batches travel from pinned memory without blocking the host.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import torch

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
_SPEC = re.compile(r"auto|cpu|cuda(?::(\d{1,3}))?")


class DeviceUnavailable(ValueError):
    """CUDA was asked for and this machine cannot give it: ``problem``, then ``advice`` (what to do)."""

    def __init__(self, problem: str, advice: str):
        self.problem, self.advice = problem, advice
        super().__init__(f"{problem}. {advice}")


@dataclass(frozen=True)
class TrainingDevice:
    """A resolved device: where the weights live and in which precision the forward pass runs."""

    device: torch.device
    name: str  # "cpu", or the card's name ("NVIDIA H200")
    precision: str  # "fp32" on the CPU; "bf16" or "fp16" autocast on CUDA

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def label(self) -> str:
        """``cpu`` or ``cuda:0``: what job events, manifests and metrics record."""
        return str(self.device)

    def describe(self) -> str:
        """'cuda:0 (NVIDIA H200, bf16 autocast)' or 'cpu (fp32)'."""
        if not self.is_cuda:
            return "cpu (fp32)"
        return f"{self.label} ({self.name}, {self.precision} autocast)"

    def as_dict(self) -> dict:
        return {"device": self.label, "device_name": self.name, "precision": self.precision}

    def autocast(self):
        """The forward pass's precision context: none at all on the CPU."""
        if not self.is_cuda:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)

    def grad_scaler(self):
        """A gradient scaler for fp16 (its small range underflows gradients); None otherwise."""
        if self.is_cuda and self.precision == "fp16":
            return torch.amp.GradScaler("cuda")
        return None

    def put(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` on this device: the same object on the CPU, a pinned non-blocking copy on CUDA."""
        if not self.is_cuda:
            return tensor
        return tensor.pin_memory().to(self.device, non_blocking=True)

    def host(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` in host memory (the same object on the CPU)."""
        return tensor if not self.is_cuda else tensor.cpu()


CPU = TrainingDevice(device=torch.device("cpu"), name="cpu", precision="fp32")


def parse_device(spec: str) -> str:
    """``spec`` normalised (``" CUDA "`` -> ``cuda``); ValueError naming the choices otherwise."""
    text = str(spec or "").strip().lower()
    if not _SPEC.fullmatch(text):
        raise ValueError(f"the training device {spec!r} is not one of {DEVICE_CHOICES}")
    return text


def resolve_device(spec: str = "auto") -> TrainingDevice:
    """The device ``spec`` names on this machine; DeviceUnavailable when CUDA is asked for and absent.

    ``auto`` is CUDA device 0 when torch sees one, else the CPU.
    """
    text = parse_device(spec)
    if text == "cpu":
        return CPU
    available = torch.cuda.is_available()
    if text == "auto":
        if not available:
            return CPU
        text = "cuda:0"
    index = int(text.partition(":")[2] or 0)
    count = torch.cuda.device_count() if available else 0
    if count == 0:
        raise DeviceUnavailable(
            f"This worker was asked to train on cuda:{index} but this machine has no CUDA device "
            f"(torch {torch.__version__} sees none)",
            "Train on the CPU (device 'cpu' or 'auto'), or run the job on a machine with a working "
            "NVIDIA GPU and a CUDA build of torch.",
        )
    if index >= count:
        raise DeviceUnavailable(
            f"This worker was asked to train on cuda:{index} but this machine has only {count} CUDA "
            f"device{'s' if count > 1 else ''} (cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})",
            "Choose one of those, or 'cuda' for the first.",
        )
    device = torch.device("cuda", index)
    precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return TrainingDevice(device=device, name=torch.cuda.get_device_name(device), precision=precision)
