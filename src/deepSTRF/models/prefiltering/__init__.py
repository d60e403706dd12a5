"""Spectrogram prefilters modelling adaptation in the auditory midbrain, and their set-up helpers.

- :class:`ICAdaptation` (alias :data:`Willmore_Adaptation`): fixed high-pass adaptation
  (Willmore et al. 2016), one output channel.
- :class:`AdapTrans`: learnable ON/OFF adaptation (Rançon, Masquelier & Cottereau 2024),
  two output channels.
- :func:`make_prefiltering`: either of them from a spectrogram's frequency range and frame width.
- :func:`get_CFs`, :func:`freq_to_tau`, :func:`tau_to_a`, :func:`a_to_tau`: the steps it chains.

Example:
    >>> import torch
    >>> from deepSTRF.models.prefiltering import make_prefiltering
    >>> pre = make_prefiltering("adaptrans", n_frequency_bands=16, dt=10.0)
    >>> pre(torch.rand(1, 1, 16, 100)).shape
    torch.Size([1, 2, 16, 100])
"""

from deepSTRF.models.prefiltering.adaptation import AdapTrans, ICAdaptation, Willmore_Adaptation
from deepSTRF.models.prefiltering.factory import MAX_KERNEL_SIZE, N_TIME_CONSTANTS, make_prefiltering
from deepSTRF.models.prefiltering.time_constants import a_to_tau, freq_to_tau, get_CFs, tau_to_a

__all__ = [
    "MAX_KERNEL_SIZE",
    "N_TIME_CONSTANTS",
    "AdapTrans",
    "ICAdaptation",
    "Willmore_Adaptation",
    "a_to_tau",
    "freq_to_tau",
    "get_CFs",
    "make_prefiltering",
    "tau_to_a",
]
