"""`python -m convnext_steps.train`'s sub-commands; anything else is one training run, exactly as before.

python -m convnext_steps.train --step 12 ... --output runs/s12    one run (entry.main)
python -m convnext_steps.train sweep --steps all --seeds 0 1 2 ...  steps / variants x seeds (sweep.main)
python -m convnext_steps.train check-data PATH                    an ImageFolder checked (datacheck.main)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .datacheck import main as check_data
from .entry import main as train
from .sweep import main as sweep

__all__ = ["COMMANDS", "main"]

COMMANDS = ("sweep", "check-data")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sweep":
        return sweep(argv[1:])
    if argv and argv[0] == "check-data":
        return check_data(argv[1:])
    return train(argv)
