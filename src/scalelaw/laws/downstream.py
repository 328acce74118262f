"""Loss-to-downstream links (work in progress)."""

CATALOG: dict = {}
