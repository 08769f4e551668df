"""Checkpoint files, in one place: the atomic writer and the safe reader (the models', the trainer's, the figures').

Reading never runs code from the file: `torch.load(weights_only=True)` with an explicit allowlist of the
harmless types real training checkpoints hold (`SAFE_GLOBALS`), or safetensors. A refusal keeps torch's reason
and names the refused object. Writing goes through a temp file and `os.replace`, so a file is either the old
one or the new one, whenever the process dies.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import re
from collections.abc import Callable, Mapping

import torch

__all__ = [
    "SAFE_GLOBALS",
    "WEIGHT_KEYS",
    "EMA_KEYS",
    "save_atomic",
    "remove_leftovers",
    "load_file",
    "state_dict_from",
    "read_checkpoint",
]

# The official ConvNeXt (and DeiT, timm) training checkpoints store their command line as `args`, an
# argparse.Namespace of plain values: rebuilding one sets attributes and calls no code of the file's.
SAFE_GLOBALS = (argparse.Namespace,)
WEIGHT_KEYS = ("model", "state_dict")  # where checkpoints keep the trained weights
EMA_KEYS = ("model_ema", "state_dict_ema", "ema")  # official/DeiT, timm's train.py, our last.pt
_LEFTOVER = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.tmp$")  # save_atomic's temp-file names


def save_atomic(path: str | os.PathLike, write: bytes | Callable | object) -> None:
    """Write `path` all at once: into a temp file in the same folder, fsync, then os.replace.

    `write` is the bytes to write, a function given the open binary file, or an object to `torch.save`. A kill
    leaves the previous file intact (and at worst a temp file, which `remove_leftovers` deletes), never a
    half-written one. An OSError (disk full, no permission) names `path` and leaves no temp file behind.
    """
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask, like open()
        with os.fdopen(fd, "wb") as f:
            if isinstance(write, bytes):
                f.write(write)
            elif callable(write):
                write(f)
            else:
                torch.save(write, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # name the file meant, not the temp file; OSError(errno, ...) keeps the subclass
            message = f"cannot write {path} ({e.strerror or e})"
            raise (OSError(e.errno, message) if e.errno else OSError(message)) from e
        raise
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
    # The rename itself survives a power cut only once the folder is synced (POSIX; a no-op elsewhere).
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_leftovers(folder: str | os.PathLike) -> list[str]:
    """Delete the temp files of writes a killed process left in `folder`; returns their names."""
    removed = []
    for name in sorted(os.listdir(folder)):
        if _LEFTOVER.match(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, name))
                removed.append(name)
    return removed


def load_file(path: str | os.PathLike):
    """Whatever the checkpoint file at `path` holds, read safely: torch.load(weights_only=True), or safetensors.

    FileNotFoundError when it is missing; ValueError when it is a directory, corrupt, or holds a type that
    `weights_only` loading refuses (the message names it); other OSErrors (e.g. no permission) as they are.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory; expected a checkpoint file (.pt, .pth or .safetensors)")
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file as load_safetensors  # optional: timm's hub format

            return load_safetensors(path, device="cpu")
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except ImportError as e:
        raise ValueError(f"reading {path} needs the 'safetensors' package ({e})") from e
    except OSError:
        raise  # unreadable, not malformed: the caller reports the OS's reason
    except pickle.UnpicklingError as e:
        raise ValueError(f"cannot read checkpoint {path}: {_refusal(str(e))}") from e
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise ValueError(
            f"cannot read checkpoint {path}: corrupt or not a PyTorch checkpoint "
            f"({type(e).__name__}: {_first_sentence(str(e))})"
        ) from e


def _refusal(message: str) -> str:
    """torch's reason for refusing a pickle, without its advice to switch the safety check off."""
    allowed = ", ".join(f"{t.__module__}.{t.__qualname__}" for t in SAFE_GLOBALS)
    found = re.search(r"Unsupported global: GLOBAL (\S+) was not an allowed global", message)
    if found:
        name = found[1] if "." in found[1] else f"builtins.{found[1]}"
        return (
            f"torch.load(weights_only=True) refuses to unpickle `{name}`: not an allowed type (unpickling "
            f"an arbitrary object can run code); allowed are tensors, numbers, strings, containers and {allowed}"
        )
    found = re.search(r"unsupported GLOBAL (\S+) whose module (\S+) is blocked", message)
    if found:
        return (
            f"torch.load(weights_only=True) refuses to unpickle `{found[1]}`: its module `{found[2]}` is "
            f"blocked (calling it while loading would run code)"
        )
    found = re.search(r"WeightsUnpickler error:\s*(.+)", message)
    reason = found[1].strip() if found else _first_sentence(message)
    if reason.startswith("Unsupported operand"):
        return f"corrupt or not a PyTorch checkpoint (torch's weights-only unpickler: {reason})"
    return f"torch.load(weights_only=True) refused it: {reason}"


def _first_sentence(text: str) -> str:
    return text.strip().splitlines()[0].split(". ")[0] if text.strip() else "no details"


def state_dict_from(obj, source: str, ema: bool = False) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint object: bare, or under 'model' / 'state_dict' (else 'model_ema' /
    'state_dict_ema' / 'ema'); with `ema=True`, the EMA's weights, and a ValueError when there are none."""
    obj, source = _unwrap(obj, source, ema)
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(
            f"{source} holds no state dict (expected a mapping of parameter names to tensors, "
            f"found {'an empty mapping' if isinstance(obj, Mapping) else type(obj).__name__})"
        )
    tensors = dict(obj)
    if "n_averaged" in tensors and all(k.startswith("module.") for k in tensors if k != "n_averaged"):
        del tensors["n_averaged"]  # torch.optim.swa_utils.AveragedModel's counter, beside the averaged weights
    wrong = next((k for k, v in tensors.items() if not isinstance(v, torch.Tensor)), None)
    if wrong is not None:
        raise ValueError(
            f"{source} holds no state dict (expected a mapping of parameter names to tensors; "
            f"{wrong!r} is a {type(tensors[wrong]).__name__})"
        )
    if all(k.startswith("module.") for k in tensors):  # saved from a DistributedDataParallel / AveragedModel wrapper
        tensors = {k.removeprefix("module."): v for k, v in tensors.items()}
    return tensors


def _unwrap(obj, source: str, ema: bool):
    if isinstance(obj, Mapping):
        for key in EMA_KEYS if ema else WEIGHT_KEYS + EMA_KEYS:
            if isinstance(obj.get(key), Mapping):
                return obj[key], f"{source}[{key!r}]"
    if ema:
        found = ", ".join(map(repr, list(obj)[:8])) if isinstance(obj, Mapping) else type(obj).__name__
        raise ValueError(f"{source} holds no EMA weights (looked for {', '.join(map(repr, EMA_KEYS))}; found: {found})")
    return obj, source


def read_checkpoint(path: str | os.PathLike, ema: bool = False) -> dict[str, torch.Tensor]:
    """The state dict stored at `path` (see `state_dict_from`), read with `load_file`."""
    return state_dict_from(load_file(path), os.fspath(path), ema)
