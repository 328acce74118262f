"""scalelaw: from a ladder of small training runs to trustworthy predictions about big ones."""

__version__ = "0.1.0"
