"""Revisions of the state database, oldest first (`0001_initial.py` is the baseline)."""

from __future__ import annotations
