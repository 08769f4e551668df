"""Notebook 18 (notebook 18): its exercises and their checkers (none yet)."""

from __future__ import annotations

EXERCISES: tuple = ()
