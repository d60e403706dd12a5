"""deepSTRF: system identification of auditory neurons in PyTorch.

Importing the package does no I/O and imports no optional dependency. The
subpackages are:

- :mod:`deepSTRF.models`: encoding models and their building blocks;
- :mod:`deepSTRF.metrics`: NaN-aware, noise-corrected metrics and losses;
- :mod:`deepSTRF.datasets`: the ragged neural dataset container and loaders;
- :mod:`deepSTRF.training`: fitting (gradient descent, ridge), cross-validation;
- :mod:`deepSTRF.utils`: checkpoints, downloads, plotting.

Example:
    >>> import deepSTRF
    >>> isinstance(deepSTRF.__version__, str)
    True
"""

from deepSTRF._version import __version__

__all__ = ["__version__"]
