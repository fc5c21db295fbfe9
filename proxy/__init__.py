"""Guidegate: a reverse proxy that adds in-app guidance and workflow analytics to legacy web apps."""

__version__ = "0.1.0"
