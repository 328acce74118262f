"""Scaling laws: the :class:`Law` description, the catalog and user-written expressions."""

from scalelaw.laws.catalog import get_law, law_from_dict, list_laws, register
from scalelaw.laws.law import Law, Parameter

__all__ = ["Law", "Parameter", "get_law", "law_from_dict", "list_laws", "register"]
