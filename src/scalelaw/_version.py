"""The package version, in a module of its own: modules below the package face read it without importing
``scalelaw`` itself (which imports them)."""

__version__ = "0.1.0"
