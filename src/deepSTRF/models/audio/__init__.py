"""Audio encoding models: the base class and the model zoo.

Every model maps a spectrogram ``(B, 1, F, T)`` (or a waveform ``(B, 1, T_audio)`` when it
has a ``wav2spec`` front-end) to predictions ``(B, N, 1, T)``, strictly causally.

Example:
    >>> import torch
    >>> from deepSTRF.models.audio import Linear
    >>> model = Linear(n_frequency_bands=8, temporal_window_size=5, out_neurons=3).eval()
    >>> model(torch.randn(2, 1, 8, 40)).shape
    torch.Size([2, 3, 1, 40])
"""

from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.audio.convnet import ConvNet2D
from deepSTRF.models.audio.icnet import ICNet
from deepSTRF.models.audio.statenet import StateNet
from deepSTRF.models.audio.strf_models import DNet, Linear, LinearNonlinear, NetworkReceptiveField
from deepSTRF.models.audio.transformer import Transformer

__all__ = [
    "AudioEncodingModel",
    "ConvNet2D",
    "DNet",
    "ICNet",
    "Linear",
    "LinearNonlinear",
    "NetworkReceptiveField",
    "StateNet",
    "Transformer",
]
