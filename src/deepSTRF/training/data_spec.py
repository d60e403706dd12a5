"""The time base of a dataset (bin width, sample rate), and matching it with a model's.

A model records the ``dt_ms`` (and, for waveform input, ``audio_fs``) of the data it is
fitted on (:attr:`~deepSTRF.models.neural_model.NeuralModel.data_spec`); checkpoints
save it. :func:`match_data_spec` is what the Fitter calls before fitting (check, then
record) and before evaluating (check only), so that a model fitted at 5 ms is never
scored on 10 ms data.

Example:
    >>> from deepSTRF.datasets import SimulatedDataset
    >>> from deepSTRF.models.audio.strf_models import Linear
    >>> data = SimulatedDataset(n_neurons=2, n_stimuli=4, dt_ms=5.0, seed=0)
    >>> data_spec_of(data.subset(stimuli=[0, 1]))
    {'dt_ms': 5.0, 'audio_fs': None}
    >>> model = Linear(n_frequency_bands=data.F, temporal_window_size=3, out_neurons=2)
    >>> match_data_spec(model, data, record=True)
    >>> model.data_spec
    {'dt_ms': 5.0}
"""

from __future__ import annotations

from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.models.neural_model import NeuralModel

__all__ = ["data_spec_of", "match_data_spec"]


def data_spec_of(data: Dataset | DataLoader) -> dict[str, float | None]:
    """``{"dt_ms", "audio_fs"}`` of a dataset, a ``Subset`` of one, or a ``DataLoader`` over one.

    ``audio_fs`` is ``None`` for spectrogram data; both are ``None`` for a dataset that is
    not a :class:`~deepSTRF.datasets.NeuralDataset` (its time base is unknown).

    Example:
        >>> data_spec_of([1, 2, 3])
        {'dt_ms': None, 'audio_fs': None}
    """
    inner: object = data
    while isinstance(inner, (DataLoader, Subset)):
        inner = inner.dataset
    if isinstance(inner, NeuralDataset):
        return {"dt_ms": inner.dt_ms, "audio_fs": inner.audio_fs}
    return {"dt_ms": None, "audio_fs": None}


def match_data_spec(model: nn.Module, data: Dataset | DataLoader, *, record: bool, source: str = "the data") -> None:
    """Check that ``data`` has the model's time base; with ``record``, then record the data's on the model.

    Args:
        model: The model (any other module than a NeuralModel records nothing and is not checked).
        data: Its data (see :func:`data_spec_of`).
        record: Also store the data's ``dt_ms`` / ``audio_fs`` in ``model.data_spec`` (at fit time).
        source: What the data is, for the error message.

    Raises:
        ValueError: If the data's ``dt_ms`` or ``audio_fs`` differs from the model's, naming both.
    """
    if not isinstance(model, NeuralModel):
        return  # a plain nn.Module records nothing
    spec = data_spec_of(data)
    model.check_data_spec(spec, source)
    if record:
        model.set_data_spec(**spec)
