"""Checking an ImageFolder data set before training: every image decodes, train/ and val/ hold the same classes.

    python -m convnext_steps.train check-data data/imagenette2-320

The trainer reads images with `load_image` too, so a file this check passes is a file training can read, and a
file it cannot read stops training with one line that names it (not torch's bare `OSError: Truncated File Read`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from PIL import UnidentifiedImageError
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension, pil_loader

from ..argtypes import non_negative_int

__all__ = ["load_image", "class_difference", "SplitSummary", "DataCheck", "check_data", "main"]

SPLITS = ("train", "val")
_SHOWN = 10  # class names listed in a message before "and N more"


def default_workers() -> int:
    """Loader processes per rank: the cores this process may use, shared by this node's ranks, at most 8.

    Never above len(sched_getaffinity), the count above which torch's DataLoader warns.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    ranks_here = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, min(8, cores // ranks_here))


def load_image(path: str):
    """torchvision's PIL loader (RGB), with an error that names the file: ValueError `cannot decode PATH: why`."""

    try:
        return pil_loader(path)
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, struct.error... for broken files
        raise ValueError(
            f"cannot decode {path}: {_reason(e)} (`python -m convnext_steps.train check-data` on the data "
            f"folder lists every bad file)"
        ) from None


def decode_error(path: str) -> str | None:
    """Why `path` does not decode to an RGB image as the trainer reads it, or None when it does."""

    try:
        pil_loader(path).close()
    except Exception as e:
        return _reason(e)
    return None


def _reason(error: Exception) -> str:

    if isinstance(error, UnidentifiedImageError):
        return "not an image file PIL can identify"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def class_difference(train: Sequence[str], val: Sequence[str]) -> str:
    """'train has classes not in val: cat; val has classes not in train: bird' ('' when they agree)."""
    parts = []
    for name, mine, other in (("train", train, val), ("val", val, train)):
        missing = sorted(set(mine) - set(other))
        if missing:
            parts.append(f"{name} has classes not in {'val' if name == 'train' else 'train'}: {_names(missing)}")
    return "; ".join(parts)


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


@dataclass
class SplitSummary:
    """One split's folder as ImageFolder sees it."""

    path: str
    classes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    ignored: int = 0  # files without an image extension, which ImageFolder skips


@dataclass
class DataCheck:
    """What `check_data` found: each split, every file that does not decode, and every problem as one line."""

    root: str
    splits: dict[str, SplitSummary] = field(default_factory=dict)
    bad_files: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        parts = [
            f"{name} {len(s.images)} images in {len(s.classes)} classes"
            + (f" ({s.ignored} non-image files ignored)" if s.ignored else "")
            for name, s in self.splits.items()
        ]
        verdict = "every image decodes, class folders agree" if self.ok else f"{len(self.problems)} problem(s)"
        return f"{self.root}: {', '.join(parts) or 'no splits found'}; {verdict}"


def check_data(root: str | os.PathLike, workers: int = 0) -> DataCheck:
    """Check the ImageFolder data set at `root` (root/train/<class>/*, root/val/<class>/*) the way the trainer
    reads it: the layout, non-empty class folders, the same classes in both splits, and every image decoded
    (in `workers` processes; 0: in this one). Reports every problem, not only the first."""
    root = os.fspath(root)
    check = DataCheck(root)
    if not os.path.isdir(root):
        check.problems.append(f"{root} is not a directory (expected {root}/train/<class>/ and {root}/val/<class>/)")
        return check
    for split in SPLITS:
        summary = _scan_split(os.path.join(root, split), root, check.problems)
        if summary is not None:
            check.splits[split] = summary
    if len(check.splits) == 2:
        difference = class_difference(check.splits["train"].classes, check.splits["val"].classes)
        if difference:
            check.problems.append(f"{root}: train and val have different class folders: {difference}")
    paths = [p for s in check.splits.values() for p in s.images]
    for path, reason in zip(paths, _decode_all(paths, workers)):
        if reason is not None:
            check.bad_files.append((path, reason))
            check.problems.append(f"cannot decode {path}: {reason}")
    return check


def _scan_split(path: str, root: str, problems: list[str]) -> SplitSummary | None:

    if not os.path.isdir(path):
        problems.append(f"{path} not found: expected ImageFolder layout {root}/{{train,val}}/<class>/")
        return None
    summary = SplitSummary(path)
    try:
        summary.classes = sorted(e.name for e in os.scandir(path) if e.is_dir())
        for name in summary.classes:
            found = [
                os.path.join(folder, f)
                for folder, _, files in sorted(os.walk(os.path.join(path, name), followlinks=True))
                for f in sorted(files)
            ]
            images = [f for f in found if has_file_allowed_extension(f, IMG_EXTENSIONS)]
            if not images:
                problems.append(f"{os.path.join(path, name)} holds no image files ({', '.join(IMG_EXTENSIONS)})")
            summary.images += images
            summary.ignored += len(found) - len(images)
    except OSError as e:
        problems.append(f"cannot read {e.filename or path} ({e.strerror or e})")
    if not summary.classes:
        problems.append(f"{path} holds no class folders (expected {path}/<class>/<image>)")
    return summary


def _decode_all(paths: list[str], workers: int) -> list[str | None]:
    if workers == 0 or len(paths) < 2 * workers:
        return [decode_error(p) for p in paths]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(decode_error, paths, chunksize=max(1, min(256, len(paths) // (8 * workers)))))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m convnext_steps.train check-data",
        description="Check an ImageFolder data set before training: PATH/train/<class>/ and PATH/val/<class>/ "
        "exist, hold the same classes and images, and every image decodes. Prints a summary; each problem "
        "is one line on stderr; exit status 2 on any problem.",
    )
    p.add_argument("path", metavar="PATH", help="the folder passed to --data")
    p.add_argument(
        "--workers",
        type=non_negative_int,
        metavar="N",
        help="decoding processes (default: the cores this process may use, at most 8; 0: this process)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:

    args = build_parser().parse_args(argv)
    check = check_data(args.path, default_workers() if args.workers is None else args.workers)
    print(check.summary())
    for problem in check.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 0 if check.ok else 2
