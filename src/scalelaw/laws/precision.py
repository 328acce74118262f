"""Precision laws (work in progress)."""

CATALOG: dict = {}
