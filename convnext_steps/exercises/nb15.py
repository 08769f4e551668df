"""Notebook 15 (training the variants): its exercises and their checkers (none yet)."""

from __future__ import annotations

EXERCISES: tuple = ()
