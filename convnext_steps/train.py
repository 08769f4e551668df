"""`python -m convnext_steps.train` (also under torchrun): the training entry point.

The trainer itself is the `convnext_steps.training` package: recipe, data, engine, checkpoints, entry.
"""

import sys

from .training.entry import build_parser, main, run, train
from .training.rundir import read_metrics

__all__ = ["build_parser", "main", "run", "train", "read_metrics"]

if __name__ == "__main__":
    sys.exit(main())
