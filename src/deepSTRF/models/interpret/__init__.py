"""Seeing inside fitted models: dynamic STRFs and the nonlinearity indices computed from them.

Example:
    >>> import torch
    >>> from deepSTRF.models.audio import LinearNonlinear
    >>> from deepSTRF.models.interpret import dynamic_strfs, nonlinearity_indices
    >>> model = LinearNonlinear(n_frequency_bands=6, temporal_window_size=4, out_neurons=2)
    >>> result = dynamic_strfs(model, torch.randn(6, 40))
    >>> result.dstrfs.shape
    torch.Size([2, 40, 6, 4])
    >>> sorted(nonlinearity_indices(result))
    ['gain_change', 'shape_change', 'temporal_hold']
"""

from deepSTRF.models.interpret.dstrf import DynamicSTRFs, dynamic_strfs
from deepSTRF.models.interpret.indices import gain_change, nonlinearity_indices, shape_change, temporal_hold

__all__ = ["DynamicSTRFs", "dynamic_strfs", "gain_change", "nonlinearity_indices", "shape_change", "temporal_hold"]
