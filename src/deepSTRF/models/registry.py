"""Name-to-class registry of the model zoo, and :func:`build_model`.

Model classes are imported the first time their name is looked up, so importing
the registry is cheap and a model whose module cannot be imported only fails when
it is asked for.

Example:
    >>> sorted(MODELS)[:3]
    ['convnet2d', 'dnet', 'icnet']
    >>> model = build_model("linear", n_frequency_bands=12, temporal_window_size=5, out_neurons=3)
    >>> type(model).__name__, model.O
    ('Linear', 3)
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

from deepSTRF.models.neural_model import NeuralModel

__all__ = ["MODELS", "ModelRegistry", "build_model"]


class ModelRegistry(MutableMapping[str, type[NeuralModel]]):
    """A mapping from lower-case model names to model classes, resolved lazily.

    Entries are either classes or ``"package.module.ClassName"`` paths that are
    imported on first access. Assigning a class registers a new model.

    Example:
        >>> registry = ModelRegistry({"lin": "deepSTRF.models.audio.strf_models.Linear"})
        >>> registry["lin"].__name__
        'Linear'
    """

    def __init__(self, entries: dict[str, type[NeuralModel] | str] | None = None) -> None:
        self._entries: dict[str, type[NeuralModel] | str] = {}
        for name, entry in (entries or {}).items():
            self._entries[self._key(name)] = entry

    @staticmethod
    def _key(name: object) -> str:
        if not isinstance(name, str):
            raise TypeError(f"model names must be str, got {type(name).__name__} ({name!r})")
        return name.lower()

    def __getitem__(self, name: str) -> type[NeuralModel]:
        key = self._key(name)
        entry = self._entries[key]
        if isinstance(entry, str):
            module_name, _, class_name = entry.rpartition(".")
            entry = getattr(importlib.import_module(module_name), class_name)
            if not (isinstance(entry, type) and issubclass(entry, NeuralModel)):
                raise TypeError(f"registry entry {name!r} ({self._entries[key]}) is not a NeuralModel subclass")
            self._entries[key] = entry
        return entry

    def __setitem__(self, name: str, cls: type[NeuralModel]) -> None:
        if not (isinstance(cls, type) and issubclass(cls, NeuralModel)):
            raise TypeError(f"a registered model must be a NeuralModel subclass, got {cls!r}")
        self._entries[self._key(name)] = cls

    def __delitem__(self, name: str) -> None:
        del self._entries[self._key(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __repr__(self) -> str:
        return f"ModelRegistry({sorted(self._entries)})"


_AUDIO = "deepSTRF.models.audio"

#: The model zoo: name -> class.
MODELS: ModelRegistry = ModelRegistry(
    {
        "linear": f"{_AUDIO}.strf_models.Linear",
        "ln": f"{_AUDIO}.strf_models.LinearNonlinear",
        "nrf": f"{_AUDIO}.strf_models.NetworkReceptiveField",
        "dnet": f"{_AUDIO}.strf_models.DNet",
        "convnet2d": f"{_AUDIO}.convnet.ConvNet2D",
        "statenet": f"{_AUDIO}.statenet.StateNet",
        "transformer": f"{_AUDIO}.transformer.Transformer",
        "icnet": f"{_AUDIO}.icnet.ICNet",
    }
)


def build_model(name: str, **kwargs: Any) -> NeuralModel:
    """Build a zoo model by name (case-insensitive) with its constructor arguments.

    Args:
        name: A key of :data:`MODELS`, e.g. ``'ln'`` or ``'statenet'``.
        **kwargs: Constructor arguments of that model; unknown ones raise ``TypeError``.

    Returns:
        The model, a :class:`~deepSTRF.models.neural_model.NeuralModel`.

    Raises:
        ValueError: If ``name`` is not registered (the message lists the names).
        TypeError: If ``name`` is not a string or an argument is not accepted by the model.

    Example:
        >>> build_model("statenet", n_frequency_bands=16, rnn_type="LSTM").rnn_type
        'LSTM'
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str, got {type(name).__name__} ({name!r})")
    if name not in MODELS:
        raise ValueError(f"`name` must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](**kwargs)
