"""Frequency scales of the auditory system: mel, ERB and the Greenwood cochlear map.

The public path of the scales in the models package; they are defined in
:mod:`deepSTRF.functional.scales`, the pure tensor maths that models, front-ends,
metrics and datasets share.

Example:
    >>> round(Hz_to_mel(1000.0), 1)
    1000.0
"""

from deepSTRF.functional.scales import (
    GREENWOOD_CONSTANTS,
    ERB_bandwidth,
    ERB_to_Hz,
    Greenwood,
    Hz_to_ERB,
    Hz_to_mel,
    inverse_Greenwood,
    mel_to_Hz,
)

__all__ = [
    "GREENWOOD_CONSTANTS",
    "ERB_bandwidth",
    "ERB_to_Hz",
    "Greenwood",
    "Hz_to_ERB",
    "Hz_to_mel",
    "inverse_Greenwood",
    "mel_to_Hz",
]
