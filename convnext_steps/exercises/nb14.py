"""Notebook 14 (common pitfalls): its exercises and their checkers (none yet)."""

from __future__ import annotations

EXERCISES: tuple = ()
