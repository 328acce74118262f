"""Emergence laws (work in progress)."""

CATALOG: dict = {}
