"""Notebook 13 (the roadmap compared): its exercises and their checkers (none yet)."""

from __future__ import annotations

EXERCISES: tuple = ()
