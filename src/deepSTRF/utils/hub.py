"""Model checkpoints: save, load and share on the Hugging Face Hub.

The format itself lives in :mod:`deepSTRF.models.checkpoint` (a folder with
``config.json``, ``model.safetensors``, optional ``metadata.json`` and a model card);
this module is its public face: :func:`save_pretrained_to_dir`, :func:`read_config`,
:func:`load_pretrained` (any model, class resolved from the checkpoint) and
:func:`upload_pretrained`. ``huggingface_hub`` (the ``hub`` extra) is imported only to
download or upload.

Example:
    >>> import tempfile
    >>> from deepSTRF.models.audio.strf_models import Linear
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = save_pretrained_to_dir(Linear(n_frequency_bands=8, out_neurons=3), f"{tmp}/ckpt")
    ...     model = load_pretrained(folder)
    ...     config = read_config(folder)
    >>> type(model).__name__, model.O, config["model_class"]
    ('Linear', 3, 'deepSTRF.models.audio.strf_models.Linear')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from deepSTRF.models.checkpoint import (
    CARD_NAME,
    CONFIG_NAME,
    FORMAT,
    FORMAT_VERSION,
    METADATA_NAME,
    WEIGHTS_NAME,
    load_checkpoint,
    read_config,
    save_pretrained_to_dir,
    upload_pretrained,
)
from deepSTRF.models.neural_model import NeuralModel

CONFIG_FILE = CONFIG_NAME
"""deepSTRF 0.1.0's name of ``CONFIG_NAME``."""
WEIGHTS_FILE = WEIGHTS_NAME
"""deepSTRF 0.1.0's name of ``WEIGHTS_NAME``."""
METADATA_FILE = METADATA_NAME
"""deepSTRF 0.1.0's name of ``METADATA_NAME``."""
MODEL_CARD_FILE = CARD_NAME
"""deepSTRF 0.1.0's name of ``CARD_NAME``."""

__all__ = [
    "CARD_NAME",
    "CONFIG_FILE",
    "CONFIG_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "METADATA_FILE",
    "METADATA_NAME",
    "MODEL_CARD_FILE",
    "WEIGHTS_FILE",
    "WEIGHTS_NAME",
    "convert_checkpoint",
    "load_pretrained",
    "load_pretrained_from_dir",
    "read_config",
    "save_pretrained_to_dir",
    "upload_pretrained",
]


def load_pretrained(
    repo_id_or_path: str | Path,
    cls: type[NeuralModel] | None = None,
    *,
    extra_kwargs: dict[str, Any] | None = None,
    strict: bool = True,
    map_location: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    revision: str | None = None,
    token: str | None = None,
    return_metadata: bool = False,
) -> NeuralModel | tuple[NeuralModel, dict[str, Any]]:
    """Rebuild a model from a checkpoint folder or a Hugging Face Hub repository.

    An existing local folder wins; otherwise ``repo_id_or_path`` is a Hub repo id,
    downloaded with ``huggingface_hub.snapshot_download`` (the ``hub`` extra). The
    model is built from the recorded class and arguments, cast to the recorded
    dtype, moved to ``map_location`` and given the saved weights.

    Args:
        repo_id_or_path: Local folder or Hub repo id ``"owner/name"``.
        cls: Class the checkpoint must be an instance of; ``None`` accepts any
            :class:`~deepSTRF.models.neural_model.NeuralModel`.
        extra_kwargs: Constructor arguments replacing or extending the recorded ones.
        strict: Require the saved weights to match the model's ``state_dict`` keys.
        map_location: Device to load onto.
        cache_dir: Hub cache folder.
        revision: Hub branch, tag or commit.
        token: Hub access token.
        return_metadata: Also return the saved metadata (``{}`` if none).

    Returns:
        The model, in eval mode, or ``(model, metadata)``.

    Raises:
        FileNotFoundError: If the folder, its config or its weights are missing, or the
            Hub download fails.
        ValueError: If a file is corrupt, the format is unknown, the recorded class is not
            a ``cls``, an argument was not saved and ``extra_kwargs`` lacks it, or (with
            ``strict``) the weights do not match.
        TypeError: If the recorded arguments no longer fit the class.

    Example:
        >>> import tempfile
        >>> from deepSTRF.models.audio.strf_models import Linear, LinearNonlinear
        >>> ln = LinearNonlinear(n_frequency_bands=8, out_neurons=2)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = ln.save_pretrained(f"{tmp}/ln", metadata={"seed": 1})
        ...     model, metadata = load_pretrained(f"{tmp}/ln", return_metadata=True)
        ...     as_linear = load_pretrained(f"{tmp}/ln", Linear)  # a LinearNonlinear is a Linear: accepted
        >>> type(model).__name__, type(as_linear).__name__, model.O, metadata, model.training
        ('LinearNonlinear', 'LinearNonlinear', 2, {'seed': 1}, False)
    """
    model, metadata = load_checkpoint(
        repo_id_or_path,
        NeuralModel if cls is None else cls,
        extra_kwargs=extra_kwargs,
        strict=strict,
        map_location=map_location,
        cache_dir=cache_dir,
        revision=revision,
        token=token,
    )
    return (model, metadata) if return_metadata else model


def convert_checkpoint(
    src: str | Path,
    dst: str | Path,
    *,
    extra_kwargs: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    revision: str | None = None,
    token: str | None = None,
) -> Path:
    """Write a deepSTRF 0.1.0 checkpoint (folder or Hub repo) to ``dst`` in this library's format.

    The model is loaded through the conversion of :mod:`deepSTRF.models.legacy` and saved
    with :func:`save_pretrained_to_dir`; ``metadata.json`` keeps the original metadata plus
    ``"converted_from"``. The written folder reloads with no ``extra_kwargs``.

    Args:
        src: A 0.1.0 checkpoint folder or Hub repo id.
        dst: Destination folder.
        extra_kwargs: Constructor arguments 0.1.0 did not record (e.g. a ``prefiltering`` module).
        cache_dir: Hub cache folder.
        revision: Hub branch, tag or commit.
        token: Hub access token.

    Returns:
        The written folder.

    Raises:
        ValueError: If ``src`` is already in this library's format, or cannot be converted.
        FileNotFoundError: If ``src`` cannot be found.

    Example:
        >>> import tempfile
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     folder = Linear(n_frequency_bands=8).save_pretrained(f"{tmp}/ours")
        ...     convert_checkpoint(folder, f"{tmp}/again")
        Traceback (most recent call last):
            ...
        ValueError: ... is already in this library's checkpoint format; nothing to convert
    """
    config = read_config(src, cache_dir=cache_dir, revision=revision, token=token)
    if "converted_from" not in config:
        raise ValueError(f"{src} is already in this library's checkpoint format; nothing to convert")
    model, metadata = load_checkpoint(
        src,
        NeuralModel,
        extra_kwargs=extra_kwargs,
        strict=True,
        map_location="cpu",
        cache_dir=cache_dir,
        revision=revision,
        token=token,
    )
    return save_pretrained_to_dir(model, dst, metadata={**metadata, "converted_from": config["converted_from"]})


def load_pretrained_from_dir(
    model_class: type[NeuralModel],
    load_dir: str | Path,
    *,
    extra_kwargs: dict[str, Any] | None = None,
    strict: bool = True,
    map_location: str | torch.device = "cpu",
) -> tuple[NeuralModel, dict[str, Any]]:
    """deepSTRF 0.1.0's loader: :func:`load_pretrained` of a folder, returning ``(model, metadata)``.

    Unlike 0.1.0 (which only warned), a checkpoint of another class is an error.

    Example:
        >>> import tempfile
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     folder = Linear(n_frequency_bands=8).save_pretrained(f"{tmp}/m", metadata={"cc": 0.5})
        ...     model, metadata = load_pretrained_from_dir(Linear, folder)
        >>> metadata
        {'cc': 0.5}
    """
    model, metadata = load_checkpoint(
        Path(load_dir),
        model_class,
        extra_kwargs=extra_kwargs,
        strict=strict,
        map_location=map_location,
        cache_dir=None,
        revision=None,
        token=None,
    )
    return model, metadata
