"""deepSTRF 0.1.0's ``deepSTRF.utils.data`` names that live in :mod:`deepSTRF.datasets` here.

Example:
    >>> from deepSTRF.utils.data import neural_collate
    >>> from deepSTRF.datasets import neural_collate as collate
    >>> neural_collate is collate
    True
"""

from deepSTRF.datasets import neural_collate

__all__ = ["neural_collate"]
