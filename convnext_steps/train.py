"""`python -m convnext_steps.train` (also under torchrun): the training entry point.

The trainer itself is the `convnext_steps.training` package: recipe, data, engine, checkpoints, entry.
"""

import sys

from .training.commands import main  # sub-commands sweep and check-data, else one run (entry.main)
from .training.entry import build_parser, run, train
from .training.rundir import read_metrics

__all__ = ["build_parser", "main", "run", "train", "read_metrics"]

if __name__ == "__main__":
    sys.exit(main())
