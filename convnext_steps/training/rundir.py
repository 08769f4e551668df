"""The run's folder (--output): checked before anything is built, written by rank 0 only, each file atomically,
in an order that keeps it consistent whenever the process is killed.

    recipe.json   the resolved recipe, written before training starts
    best.pt       weights of the epoch with the best val top-1   } at an epoch end, in this order:
    last.pt       everything a resume needs: the commit point     }   best.pt, last.pt, metrics.csv
    metrics.csv   one row per epoch, rewritten from last.pt's history

Why this order: last.pt records the best score so far, so it is written after best.pt and never claims a
best.pt that is not on disk. Killed in between, best.pt is one epoch ahead of last.pt; the resumed run redoes
that epoch bit for bit and writes the same best.pt again. metrics.csv is rewritten from last.pt on resume.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile

from ..checkpoint import remove_leftovers, save_atomic

__all__ = ["RunFolder", "read_metrics", "write_metrics"]


class RunFolder:
    """Paths of one run's files, and the writes that keep them consistent (done by the writing process only)."""

    def __init__(self, path: str | os.PathLike, writer: bool = True):
        self.path, self.writer = os.fspath(path), writer
        self.last, self.best = os.path.join(self.path, "last.pt"), os.path.join(self.path, "best.pt")
        self.metrics, self.recipe = os.path.join(self.path, "metrics.csv"), os.path.join(self.path, "recipe.json")

    def check(self) -> None:
        """ValueError unless --output is a folder (or can become one); nothing is created."""
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"--output {self.path} is a file, not a folder: choose a folder for the run's files")
        if os.path.isdir(self.last):
            raise ValueError(f"{self.last} is a directory; expected the run's checkpoint file there")

    def prepare(self) -> list[str]:
        """Create the folder, prove it writable, and delete temp files of writes a kill interrupted (returned)."""
        self.check()
        if not self.writer:
            return []
        try:
            os.makedirs(self.path, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.path):  # the one sure test: access() ignores read-only mounts
                pass
        except OSError as e:
            raise ValueError(f"--output {self.path} is not writable ({e.strerror or e})") from e
        return remove_leftovers(self.path)

    def read_recipe(self) -> dict | None:
        """recipe.json of a run killed before its first checkpoint, or None."""
        if not os.path.isfile(self.recipe):
            return None
        try:
            with open(self.recipe) as f:
                return json.load(f)
        except ValueError as e:
            raise ValueError(f"{self.recipe} is not the JSON this trainer writes: {e}") from e

    def write_recipe(self, recipe: dict) -> None:
        if self.writer:
            save_atomic(self.recipe, (json.dumps(recipe, indent=2) + "\n").encode())

    def write_history(self, history: list[dict]) -> None:
        if self.writer:
            write_metrics(self.metrics, history)

    def save_last(self, checkpoint: dict) -> None:
        if self.writer:
            save_atomic(self.last, checkpoint)

    def end_epoch(self, checkpoint: dict, best: dict | None) -> None:
        """An epoch's files, in the order that a kill cannot make inconsistent (see the module's docstring)."""
        if not self.writer:
            return
        if best is not None:
            save_atomic(self.best, best)
        save_atomic(self.last, checkpoint)
        write_metrics(self.metrics, checkpoint["history"])


def write_metrics(path: str, history: list[dict]) -> None:
    """`history` (one dict per epoch) as CSV, atomically; floats as repr, so they read back exactly."""
    if not history:
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    save_atomic(path, text.getvalue().encode())


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """OUTPUT/metrics.csv (or the folder) as a list of rows, numbers as int/float."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "metrics.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()} for row in rows]
