"""Repeated-sampling laws (work in progress)."""

CATALOG: dict = {}
