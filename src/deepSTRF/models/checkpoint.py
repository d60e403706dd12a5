"""The checkpoint format: save, read, load and upload model folders.

A checkpoint is a folder holding

- ``config.json``: ``{"format": "deepSTRF-checkpoint", "format_version": 1,
  "library_version", "model_class", "dtype", "init_kwargs"}``, where
  ``init_kwargs`` are the model's recorded constructor arguments, library
  modules among them nested as ``{"__module__", "kwargs"}`` entries, and, when
  the model knows them, ``"data": {"dt_ms", "audio_fs"}``: the time base of the
  data it was fitted on (see :attr:`~deepSTRF.models.neural_model.NeuralModel.data_spec`;
  optional, so checkpoints written without it still load);
- ``model.safetensors``: the ``state_dict`` (nothing is ever unpickled);
- ``metadata.json`` (optional): free JSON information, e.g. scores;
- ``README.md``: a model card.

Folders are replaced safely: a complete checkpoint (the old or the new one) is at
the target path at every instant on Linux (an atomic swap of the two folders);
elsewhere a save killed between its two renames is put back by the next load or
save (:func:`recover_interrupted_save`). Temporary folders left by a killed save
are removed by the next save. ``huggingface_hub`` (the ``hub`` extra) is imported
only to download or upload. :mod:`deepSTRF.utils.hub` re-exports the public names
(the seeds' public path) and adds :func:`~deepSTRF.utils.hub.load_pretrained`.

Example:
    >>> import tempfile
    >>> from torch import nn
    >>> from deepSTRF.models.neural_model import NeuralModel
    >>> class Scale(NeuralModel):
    ...     def __init__(self, out_neurons: int = 3):
    ...         super().__init__(out_neurons)
    ...         self.readout = nn.Conv2d(1, out_neurons, kernel_size=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = save_pretrained_to_dir(Scale(), f"{tmp}/ckpt")
    ...     config = read_config(folder)
    ...     model = Scale.from_pretrained(folder)
    >>> config["init_kwargs"], model.O
    ({'out_neurons': 3}, 3)
"""

from __future__ import annotations

import ctypes
import errno as _errno
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, TypeVar, cast

import safetensors
import safetensors.torch
import torch

from deepSTRF._io import _ACTIVE, fsync_dir, remove_stale, stale_siblings, temp_sibling, write_synced
from deepSTRF._optional import require
from deepSTRF._validation import check_device
from deepSTRF._version import __version__
from deepSTRF.models import legacy
from deepSTRF.models.configurable import (
    ConfigurableModule,
    class_path,
    current_names,
    decode_value,
    encode_value,
    find_unserialisable,
    resolve_class,
)

_M = TypeVar("_M", bound=ConfigurableModule)

#: Value of the ``"format"`` entry that marks a deepSTRF checkpoint configuration.
FORMAT = "deepSTRF-checkpoint"
#: Newest ``"format_version"`` this library reads and the one it writes.
FORMAT_VERSION = 1
#: File holding the configuration (class, dtype, constructor arguments).
CONFIG_NAME = "config.json"
#: File holding the weights (safetensors, never pickled).
WEIGHTS_NAME = "model.safetensors"
#: Optional file holding free JSON information (scores, data settings...).
METADATA_NAME = "metadata.json"
#: The model card shown by the Hugging Face Hub.
CARD_NAME = "README.md"
_FILES = (CONFIG_NAME, WEIGHTS_NAME, METADATA_NAME, CARD_NAME)
#: Keys of the optional ``"data"`` entry of ``config.json``: the model's data time base.
DATA_KEYS = ("dt_ms", "audio_fs")
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def _model_dtype(model: torch.nn.Module) -> str:
    dtypes = {t.dtype for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()}
    if len(dtypes) > 1:
        raise ValueError(f"cannot save a model with mixed floating dtypes {sorted(map(str, dtypes))}; cast it first")
    name = str(dtypes.pop() if dtypes else torch.get_default_dtype()).removeprefix("torch.")
    if name not in _DTYPES:
        raise ValueError(f"cannot save a model in dtype {name}; expected one of {list(_DTYPES)}")
    return name


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict as contiguous CPU tensors, refusing entries that share memory."""
    state = model.state_dict()
    owners: dict[tuple[str, int], str] = {}
    for key, tensor in state.items():
        if tensor.numel() == 0:
            continue
        storage = (str(tensor.device), tensor.untyped_storage().data_ptr())
        if storage in owners:
            raise ValueError(
                f"state_dict entries {owners[storage]!r} and {key!r} share memory (the same tensor or module is "
                "registered twice); safetensors cannot store shared tensors: register each module once"
            )
        owners[storage] = key
    return {key: tensor.detach().cpu().contiguous() for key, tensor in state.items()}


def _json_problem(value: Any, path: str) -> str | None:
    """Path and type of the first value that JSON cannot represent faithfully, if any."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return None
    if isinstance(value, (list, tuple)):
        return next((p for i, v in enumerate(value) if (p := _json_problem(v, f"{path}[{i}]"))), None)
    if isinstance(value, dict):
        for key, sub in value.items():
            if not isinstance(key, str):
                return f"{path} has a non-string key {key!r}"
            if problem := _json_problem(sub, f"{path}[{key!r}]"):
                return problem
        return None
    return f"{path} is a {type(value).__name__}"


def _unloadable_classes(encoded: Any, path: str = "") -> list[str]:
    """Paths of nested modules whose class the loader will refuse to import."""
    if isinstance(encoded, list):
        return [p for i, v in enumerate(encoded) for p in _unloadable_classes(v, f"{path}[{i}]")]
    if not isinstance(encoded, dict):
        return []
    found = []
    if "__module__" in encoded:
        try:
            resolve_class(encoded["__module__"])
        except ValueError:
            found.append(f"{path} ({encoded['__module__']})")
    for key, sub in encoded.items():
        found += _unloadable_classes(sub, path if key in ("kwargs", "__tuple__") else f"{path}.{key}".lstrip("."))
    return found


def _default_card(model: ConfigurableModule, config: dict[str, Any]) -> str:
    name = type(model).__name__
    neurons = getattr(model, "O", "?")
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return (
        f"---\nlibrary_name: deepSTRF\ntags:\n- deepSTRF\n- neuroscience\n- auditory\n---\n\n# {name}\n\n"
        f"A deepSTRF encoding model predicting the responses of {neurons} neuron(s).\n\n"
        f"| | |\n| --- | --- |\n| class | `{config['model_class']}` |\n| neurons (N) | {neurons} |\n"
        f"| trainable parameters | {n_params:,} |\n| dtype | {config['dtype']} |\n"
        f"| deepSTRF version | {__version__} |\n\n"
        f"## Loading\n\n```python\nfrom deepSTRF.models.neural_model import NeuralModel\n\n"
        f'model = NeuralModel.from_pretrained("<this folder or owner/repo>")\n```\n'
    )


def save_pretrained_to_dir(
    model: ConfigurableModule,
    save_dir: str | Path,
    metadata: dict[str, Any] | None = None,
    model_card: str | None = None,
) -> Path:
    """Write ``model`` to a checkpoint folder, atomically.

    Files are written to a temporary folder next to ``save_dir`` and renamed
    into place; an existing checkpoint at ``save_dir`` is replaced only once
    the new one is complete. Constructor arguments that cannot be written to
    JSON are recorded as such, with a ``UserWarning``: loading then needs them
    again through ``extra_kwargs``.

    Args:
        model: The model to save.
        save_dir: Destination folder; its parent is created if needed. If it exists
            it must be empty or hold only checkpoint files.
        metadata: JSON-serialisable dict written to ``metadata.json``.
        model_card: Markdown for ``README.md``; a card is generated when omitted.

    Returns:
        The checkpoint folder.

    Raises:
        TypeError: If ``model`` is not a NeuralModel, ``metadata`` is not JSON-serialisable or
            ``model_card`` is not a str.
        ValueError: If the model has shared or mixed-dtype tensors.
        FileExistsError: If ``save_dir`` is a file or holds unrelated files.

    Example:
        >>> import tempfile
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> model = Linear(n_frequency_bands=8, temporal_window_size=3, out_neurons=2)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     folder = save_pretrained_to_dir(model, f"{tmp}/linear", metadata={"cc": 0.61})
        ...     files = sorted(p.name for p in folder.iterdir())
        >>> files
        ['README.md', 'config.json', 'metadata.json', 'model.safetensors']
    """
    if not isinstance(model, ConfigurableModule):
        raise TypeError(f"`model` must be a NeuralModel, got {type(model).__name__}")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"`metadata` must be a dict or None, got {type(metadata).__name__}")
        if problem := _json_problem(metadata, "metadata"):
            raise TypeError(f"`metadata` must be JSON-serialisable (str keys, plain values), but {problem}")
    if model_card is not None and not isinstance(model_card, str):
        raise TypeError(f"`model_card` must be a str, got {type(model_card).__name__}")
    save_dir = Path(save_dir).absolute()
    if save_dir.is_file():
        raise FileExistsError(f"cannot save a checkpoint to {save_dir}: it is a file")
    if save_dir.is_dir() and (alien := sorted(p.name for p in save_dir.iterdir() if p.name not in _FILES)):
        raise FileExistsError(f"{save_dir} holds files that are not part of a checkpoint ({alien}); choose another")

    init_kwargs = encode_value(model.init_config)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "model_class": class_path(type(model)),
        "dtype": _model_dtype(model),
        "init_kwargs": init_kwargs,
    }
    # NeuralModel (above this module) defines `data_spec`; other configurable modules have none.
    data_spec = getattr(model, "data_spec", None)
    if data_spec:
        config["data"] = dict(data_spec)
    missing = find_unserialisable(init_kwargs) + _unloadable_classes(init_kwargs)
    if missing:
        warnings.warn(
            f"{type(model).__name__} constructor argument(s) {missing} cannot be rebuilt from the checkpoint; "
            "pass them again with `extra_kwargs` when loading",
            UserWarning,
            stacklevel=3,
        )
    weights = _weights(model)

    save_dir.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted_save(save_dir)
    remove_stale(save_dir)
    card = model_card if model_card is not None else _default_card(model, config)
    files = [(WEIGHTS_NAME, safetensors.torch.save(weights, metadata={"format": "pt"}))]
    if metadata is not None:
        files.append((METADATA_NAME, (json.dumps(metadata, indent=2) + "\n").encode("utf-8")))
    files.append((CARD_NAME, card.encode("utf-8")))
    config_bytes = (json.dumps(config, indent=2, allow_nan=False) + "\n").encode("utf-8")
    staging = temp_sibling(save_dir, "partial")
    _ACTIVE.add(staging)
    try:
        os.mkdir(staging)
        for name, data in files:
            write_synced(staging / name, data)
        # config.json appears last and whole (renamed into place): a staging folder holding it is complete
        write_synced(staging / f"{CONFIG_NAME}.tmp", config_bytes)
        os.replace(staging / f"{CONFIG_NAME}.tmp", staging / CONFIG_NAME)
        fsync_dir(staging)
        _install(staging, save_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _ACTIVE.discard(staging)
    return save_dir


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where the system cannot."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (_errno.ENOSYS, _errno.EINVAL, _errno.ENOTSUP, _errno.EXDEV):
        return False  # no kernel or file-system support: fall back on two renames
    raise OSError(errno, f"cannot swap {b} with its new version: {os.strerror(errno)}")


def _load_renameat2() -> Any:
    if sys.platform != "linux":
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
_RENAMEAT2 = _load_renameat2()


def _install(staging: Path, save_dir: Path) -> None:
    """Put the complete ``staging`` folder at ``save_dir``, keeping a complete checkpoint there throughout.

    On Linux the two folders are swapped in one atomic step, then the old one is
    deleted. Elsewhere the old folder is renamed aside, then the new one into place:
    a process killed between the two renames leaves no folder at ``save_dir`` but two
    complete ones beside it, which :func:`recover_interrupted_save` (run by the loader
    and by the next save) puts back.
    """
    if not save_dir.exists():
        os.replace(staging, save_dir)
    elif _exchange(staging, save_dir):
        fsync_dir(save_dir.parent)
        shutil.rmtree(staging, ignore_errors=True)  # now the previous checkpoint
        return
    else:
        old = temp_sibling(save_dir, "old")
        os.replace(save_dir, old)
        try:
            os.replace(staging, save_dir)
        except BaseException:
            os.replace(old, save_dir)
            raise
        fsync_dir(save_dir.parent)
        shutil.rmtree(old, ignore_errors=True)
        return
    fsync_dir(save_dir.parent)


def recover_interrupted_save(save_dir: str | Path) -> Path | None:
    """Put back the checkpoint of a save that was killed while replacing ``save_dir``.

    Only acts when ``save_dir`` does not exist: among the complete folders an
    interrupted save left beside it (its new version, ``.<name>.*.partial``, and the
    previous one, ``.<name>.*.old``), the most recently written is renamed to
    ``save_dir``. Folders of a save still running in another process are left alone.

    Args:
        save_dir: The checkpoint folder.

    Returns:
        ``save_dir`` if a checkpoint was put back, else ``None``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     recover_interrupted_save(Path(tmp) / "nothing-here") is None
        True
    """
    save_dir = Path(save_dir).absolute()
    if save_dir.exists() or save_dir.is_symlink():
        return None
    complete = [p for p in stale_siblings(save_dir, ("partial", "old")) if (p / CONFIG_NAME).is_file()]
    complete = [p for p in complete if (p / WEIGHTS_NAME).is_file()]
    if not complete:
        return None
    newest = max(complete, key=lambda p: (p / CONFIG_NAME).stat().st_mtime_ns)
    try:
        os.replace(newest, save_dir)
    except OSError:
        return None
    fsync_dir(save_dir.parent)
    warnings.warn(
        f"{save_dir} was missing after an interrupted save; restored it from {newest.name}", UserWarning, stacklevel=2
    )
    return save_dir


def _resolve_folder(
    repo_id_or_path: str | Path, cache_dir: str | Path | None, revision: str | None, token: str | None
) -> Path:
    """A local checkpoint folder, downloading a Hub repository snapshot if needed."""
    if not isinstance(repo_id_or_path, (str, os.PathLike)):
        raise TypeError(
            f"`repo_id_or_path` must be a folder path or a Hub id 'owner/name', got {type(repo_id_or_path).__name__}"
        )
    path = Path(repo_id_or_path)
    if not path.exists():
        recover_interrupted_save(path)
    if path.is_dir():
        return path
    if isinstance(repo_id_or_path, Path) or path.exists() or not _REPO_ID.match(str(repo_id_or_path)):
        what = "is not a folder" if path.exists() else "does not exist"
        raise FileNotFoundError(f"checkpoint folder {str(repo_id_or_path)!r} {what}")
    hub = require("huggingface_hub", extra="hub", purpose="loading checkpoints from the Hugging Face Hub")
    try:
        folder = hub.snapshot_download(
            str(repo_id_or_path), revision=revision, cache_dir=cache_dir, token=token, allow_patterns=list(_FILES)
        )
    except Exception as err:
        raise FileNotFoundError(
            f"{str(repo_id_or_path)!r} is not a local folder, and fetching it from the Hugging Face Hub failed: "
            f"{_hub_failure(err)}"
        ) from err
    return Path(folder)


def _hub_failure(err: Exception) -> str:
    """One short reason for a failed Hub download (the Hub's own messages run to several sentences)."""
    kind = type(err).__name__
    if kind == "LocalEntryNotFoundError":
        return "the Hub could not be reached and the repository is not in the local cache"
    if kind in ("RepositoryNotFoundError", "GatedRepoError"):
        return "no such repository, or it is private or gated (pass a token)"
    if kind == "RevisionNotFoundError":
        return "the repository has no such revision"
    text = " ".join(str(err).split())
    return f"{kind}: {text[:200]}{'...' if len(text) > 200 else ''}"


def _read_json(file: Path, what: str) -> Any:
    if not file.is_file():
        raise FileNotFoundError(f"checkpoint {file.parent} has no {file.name} ({what})")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{file} is not valid JSON: {err}") from err


def _check_config(config: Any, file: Path) -> dict[str, Any]:
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f'{file} is not a deepSTRF checkpoint configuration (no "format": {FORMAT!r})')
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{file} has format_version {version!r}; this deepSTRF {__version__} reads up to {FORMAT_VERSION}"
        )
    for key in ("model_class", "dtype"):
        if not isinstance(config.get(key), str):
            raise ValueError(f"{file} has no valid {key!r} entry")
    if config["dtype"] not in _DTYPES:
        raise ValueError(f"{file} records dtype {config['dtype']!r}; expected one of {list(_DTYPES)}")
    if not isinstance(config.get("init_kwargs"), dict):
        raise ValueError(f"{file} has no valid 'init_kwargs' entry")
    data = config.get("data", {})
    if not isinstance(data, dict) or not all(
        key in DATA_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        for key, value in data.items()
    ):
        raise ValueError(f"{file} has an invalid 'data' entry {data!r}; expected positive numbers under {DATA_KEYS}")
    return config


def read_config(
    repo_id_or_path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    revision: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """Read and check the ``config.json`` of a checkpoint without building the model.

    Args:
        repo_id_or_path: A checkpoint folder, or a Hub repo id ``"owner/name"``.
        cache_dir: Hub cache folder.
        revision: Hub branch, tag or commit.
        token: Hub access token.

    Returns:
        The configuration dict (``model_class``, ``dtype``, ``library_version``, ``init_kwargs``...).

    Raises:
        FileNotFoundError: If the folder or its ``config.json`` is missing.
        ValueError: If the file is not a valid deepSTRF checkpoint configuration.

    Example:
        >>> import tempfile
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     folder = Linear(n_frequency_bands=8, temporal_window_size=3).double().save_pretrained(f"{tmp}/m")
        ...     config = read_config(folder)
        >>> config["model_class"], config["dtype"], config["init_kwargs"]["temporal_window_size"]
        ('deepSTRF.models.audio.strf_models.Linear', 'float64', 3)
    """
    folder = _resolve_folder(repo_id_or_path, cache_dir, revision, token)
    config = _read_json(folder / CONFIG_NAME, "the model configuration")
    if legacy.is_legacy_config(config):  # written by deepSTRF 0.1.0: converted on the fly
        return legacy.read_legacy(folder)[0]
    return _check_config(config, folder / CONFIG_NAME)


def _model_class(recorded: str, cls: type[_M], file: Path) -> type[_M]:
    """The recorded class, if it is ``cls`` or a subclass: an imported model class or a deepSTRF one."""
    matches: list[type] = []
    stack: list[type] = [ConfigurableModule]
    while stack:
        current = stack.pop(0)
        matches += [current] if class_path(current) == recorded else []
        stack.extend(current.__subclasses__())
    found: type
    if matches:
        found = matches[-1]
    else:
        try:
            found = resolve_class(recorded)
        except ValueError as err:
            raise ValueError(f"{file}: cannot build the recorded model class ({err}); import its module first") from err
    if not issubclass(found, cls):
        raise ValueError(
            f"{file} holds a {found.__name__} ({recorded}), which is not a {cls.__name__}; load it with "
            f"{found.__name__}.from_pretrained or NeuralModel.from_pretrained"
        )
    return cast("type[_M]", found)


def load_checkpoint(
    repo_id_or_path: str | Path,
    cls: type[_M],
    *,
    extra_kwargs: dict[str, Any] | None,
    strict: bool,
    map_location: str | torch.device,
    cache_dir: str | Path | None,
    revision: str | None,
    token: str | None,
) -> tuple[_M, dict[str, Any]]:
    """Build the recorded model (a ``cls`` or subclass) and load its weights; the engine of ``from_pretrained``.

    Returns ``(model in eval mode, metadata)``; the arguments and errors are those of
    :func:`deepSTRF.utils.hub.load_pretrained`.
    """
    if extra_kwargs is not None and not (
        isinstance(extra_kwargs, dict) and all(isinstance(k, str) for k in extra_kwargs)
    ):
        raise TypeError(f"`extra_kwargs` must be a dict with string keys or None, got {type(extra_kwargs).__name__}")
    device = check_device("map_location", map_location)
    folder = _resolve_folder(repo_id_or_path, cache_dir, revision, token)
    config = read_config(folder)
    model_cls = _model_class(config["model_class"], cls, folder / CONFIG_NAME)
    extra = extra_kwargs or {}
    kwargs = {}
    for name, value in config["init_kwargs"].items():
        if name not in extra:
            try:
                kwargs[name] = decode_value(value, name)
            except ValueError as err:
                raise ValueError(
                    f"cannot rebuild constructor argument {name!r} from {folder} (pass it with `extra_kwargs`): {err}"
                ) from err
    try:
        model = model_cls(**current_names(model_cls, kwargs), **extra)
    except TypeError as err:
        raise TypeError(f"cannot rebuild {model_cls.__name__} from {folder}: {err}") from err

    weights_file = folder / WEIGHTS_NAME
    if not weights_file.is_file():
        raise FileNotFoundError(f"checkpoint {folder} has no {WEIGHTS_NAME} (the weights)")
    try:
        state = safetensors.torch.load_file(str(weights_file), device=str(device))
    except (safetensors.SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights_file} is not a readable safetensors file: {err}") from err
    model = model.to(device=device, dtype=_DTYPES[config["dtype"]])
    expected = model.state_dict()
    if "converted_from" in config:
        state = legacy.align_state(config, legacy.convert_state(config, state), expected, model)
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if strict and (missing or unexpected):
        raise ValueError(
            f"weights in {weights_file} do not match {model_cls.__name__}: missing {missing}, unexpected {unexpected}"
        )
    shapes = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if shapes:
        raise ValueError(f"weights in {weights_file} have the wrong shapes (file vs model): {shapes}")
    model.load_state_dict(state, strict=strict)
    if config.get("data"):
        cast(Any, model).set_data_spec(**config["data"])  # only a NeuralModel saves "data"
    metadata_file = folder / METADATA_NAME
    metadata = _read_json(metadata_file, "metadata") if metadata_file.is_file() else {}
    return model.eval(), metadata


def upload_pretrained(
    model: ConfigurableModule,
    repo_id: str,
    *,
    metadata: dict[str, Any] | None = None,
    model_card: str | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Save ``model`` and upload the checkpoint to a Hugging Face Hub repository.

    The repository is created if it does not exist; write access is needed
    (``hf auth login`` or ``token``).

    Args:
        model: The model to upload.
        repo_id: Repository ``"owner/name"``.
        metadata: JSON-serialisable dict written to ``metadata.json``.
        model_card: Markdown for ``README.md``; generated when omitted.
        private: Create the repository as private.
        token: Hub access token.
        commit_message: Message of the commit; a default names the model class.

    Returns:
        The URL of the commit.

    Raises:
        ValueError: If ``repo_id`` is not of the form ``"owner/name"``.
        ImportError: If ``huggingface_hub`` is not installed.

    Example:
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> model = Linear(n_frequency_bands=8, out_neurons=2)
        >>> url = upload_pretrained(model, "my-lab/a1-linear", metadata={"cc": 0.61})  # doctest: +SKIP
        >>> upload_pretrained(model, "my lab/a1 linear")  # checked before any network access
        Traceback (most recent call last):
            ...
        ValueError: `repo_id` must look like 'owner/name', got 'my lab/a1 linear'
    """
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id):
        raise ValueError(f"`repo_id` must look like 'owner/name', got {repo_id!r}")
    hub = require("huggingface_hub", extra="hub", purpose="uploading checkpoints to the Hugging Face Hub")
    api = hub.HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_pretrained_to_dir(model, Path(tmp) / "checkpoint", metadata=metadata, model_card=model_card)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            commit_message=commit_message or f"Upload {type(model).__name__} with deepSTRF {__version__}",
        )
    return str(info.commit_url)
