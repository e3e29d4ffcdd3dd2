"""Cleanroom: privacy-preserving account mapping for partner ecosystems."""

__version__ = "0.1.0"
