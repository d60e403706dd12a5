"""Pure tensor maths shared by every layer of deepSTRF: the bottom of the import graph.

Nothing here knows about models, datasets or training; metrics, models, front-ends and
dataset loaders all import from here, so each formula lives in one place:

- :mod:`deepSTRF.functional.scales`: mel (HTK), ERB-rate and Greenwood frequency scales
  (public in the models package as :mod:`deepSTRF.models.scales`);
- :mod:`deepSTRF.functional.filterbanks`: frequency grids on those scales and the mel filterbank;
- :mod:`deepSTRF.functional.framing`: where time bins fall on audio samples (causal frames);
- :mod:`deepSTRF.functional.moments`: pooled, masked moments and the Pearson correlation.

Example:
    >>> import torch
    >>> from deepSTRF.functional import pearson
    >>> pearson(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0.0, 2.0, 4.0]))
    tensor(1.)
"""

from deepSTRF.functional.filterbanks import MEL_SCALES, mel_filterbank, warped_linspace
from deepSTRF.functional.framing import align_frames, causal_frames, frame_ends, samples_per_bin
from deepSTRF.functional.moments import Moments, correlation, pearson, pooled_moments, safe_divide, squared_error

__all__ = [
    "MEL_SCALES",
    "Moments",
    "align_frames",
    "causal_frames",
    "correlation",
    "frame_ends",
    "mel_filterbank",
    "pearson",
    "pooled_moments",
    "safe_divide",
    "samples_per_bin",
    "squared_error",
    "warped_linspace",
]
