"""Mixed precision, in one place: the `--amp` names the trainer and the bench share, and the autocast both run under."""

from __future__ import annotations

import torch

__all__ = ["AMP_DTYPES", "amp_dtype", "autocast"]

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}  # --amp NAME -> torch.autocast's dtype


def amp_dtype(name: str | None) -> torch.dtype | None:
    """The autocast dtype of an `--amp` name; None (float32, no autocast) for None or "off"."""
    if name is None or name == "off":
        return None
    if name not in AMP_DTYPES:
        raise ValueError(f"amp must be one of {sorted(AMP_DTYPES)}, 'off' or None, got {name!r}")
    return AMP_DTYPES[name]


def autocast(device: torch.device | str, dtype: torch.dtype | None):
    """`torch.autocast` to `dtype` on `device`'s type; switched off (plain float32) when `dtype` is None."""
    return torch.autocast(torch.device(device).type, dtype=dtype or torch.float32, enabled=dtype is not None)
