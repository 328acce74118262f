"""Data-mixture laws (work in progress)."""

CATALOG: dict = {}
