"""Moved to :mod:`deepSTRF.datasets.download`; this old path still works, with a ``DeprecationWarning``."""

from deepSTRF._deprecation import moved_module

__getattr__ = moved_module(__name__, "deepSTRF.datasets.download")
