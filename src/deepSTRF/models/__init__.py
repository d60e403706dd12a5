"""Encoding models of auditory neural responses and their building blocks.

Example:
    >>> from deepSTRF.models import NeuralModel
    >>> NeuralModel.__name__
    'NeuralModel'
"""

from deepSTRF.models.neural_model import NeuralModel

__all__ = ["NeuralModel"]
