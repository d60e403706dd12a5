"""Automatic capture and (de)serialisation of constructor arguments.

Every library module whose construction must be reproducible from a checkpoint
derives from :class:`ConfigurableModule`. The arguments its ``__init__`` was
called with are recorded (after defaults are applied) in ``module.init_config``.
:func:`encode_value` turns such a record into JSON-compatible data, nesting
library modules passed as arguments as ``{"__module__": "pkg.Class", "kwargs": ...}``
entries; :func:`decode_value` rebuilds them.

Only classes from the ``deepSTRF`` package and a short list of argument-free
``torch.nn`` activations are ever imported while decoding, so a configuration file
cannot make the loader import arbitrary code.

Example:
    >>> import torch
    >>> class Gain(ConfigurableModule):
    ...     def __init__(self, n: int, scale: float = 2.0):
    ...         super().__init__()
    ...         self.w = torch.nn.Parameter(torch.full((n,), scale))
    >>> Gain(3).init_config
    {'n': 3, 'scale': 2.0}
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from typing import Any

import torch
from torch import nn

from deepSTRF._deprecation import renamed_arguments

# torch.nn modules that may be serialised, with the attributes that rebuild them.
_TORCH_MODULES: dict[type[nn.Module], tuple[str, ...]] = {
    nn.Identity: (),
    nn.ReLU: (),
    nn.Sigmoid: (),
    nn.Tanh: (),
    nn.SiLU: (),
    nn.Softplus: ("beta", "threshold"),
    nn.LeakyReLU: ("negative_slope",),
    nn.ELU: ("alpha",),
    nn.GELU: ("approximate",),
}
_TORCH_BY_NAME: dict[str, type[nn.Module]] = {f"torch.nn.{cls.__name__}": cls for cls in _TORCH_MODULES}
# Containers and convolutions, serialised structurally (e.g. the separable ``nn.Sequential`` STRF kernel).
_TORCH_BY_NAME.update({"torch.nn.Sequential": nn.Sequential, "torch.nn.Conv2d": nn.Conv2d})
_CONV_ATTRS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")

UNSERIALISABLE = "__unserialisable__"


class ConfigurableModule(nn.Module):
    """An ``nn.Module`` that records the arguments of its outermost ``__init__``.

    Subclasses need do nothing special: the record is made by a wrapper installed
    on each subclass's ``__init__``. When one ``__init__`` calls another through
    ``super()``, only the outermost call (the class actually instantiated) is kept.

    Example:
        >>> class Scale(ConfigurableModule):
        ...     def __init__(self, factor: float = 2.0):
        ...         super().__init__()
        ...         self.factor = factor
        >>> class Half(Scale):
        ...     def __init__(self, name: str = "half"):
        ...         super().__init__(factor=0.5)
        >>> Scale().init_config, Half().init_config
        ({'factor': 2.0}, {'name': 'half'})
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_captures_config", False):
            return
        signature = inspect.signature(init)
        renames: dict[str, str] = getattr(init, "_renamed_arguments", {})

        @functools.wraps(init)
        def wrapped(self: nn.Module, *args: Any, **kw: Any) -> None:
            if renames:  # old spellings (deprecated): record and pass the new names
                kw = renamed_arguments(cls.__name__, kw, renames)
            if "_init_config" not in self.__dict__:
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                record: dict[str, Any] = {}
                for name, value in list(bound.arguments.items())[1:]:
                    kind = signature.parameters[name].kind
                    if kind is inspect.Parameter.VAR_KEYWORD:
                        record.update(value)
                    elif kind is inspect.Parameter.VAR_POSITIONAL:
                        if value:
                            raise TypeError(f"{cls.__name__} does not accept extra positional arguments, got {value}")
                    else:
                        record[name] = value
                self.__dict__["_init_config"] = record
            init(self, *args, **kw)

        wrapped._captures_config = True  # type: ignore[attr-defined]
        cls.__init__ = wrapped  # type: ignore[method-assign]

    @property
    def init_config(self) -> dict[str, Any]:
        """The constructor arguments this module was built with (defaults applied)."""
        return dict(self.__dict__.get("_init_config", {}))


def current_names(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments recorded under a deprecated spelling, renamed (silently) to the current one.

    A checkpoint written before an argument was renamed holds the old name; loading it is
    not the user's doing, so it does not warn.

    Example:
        >>> from deepSTRF.models.wav2spec import CausalMelSpectrogram
        >>> current_names(CausalMelSpectrogram, {"hop_ms": 5.0, "n_filters": 8})
        {'dt_ms': 5.0, 'n_filters': 8}
    """
    renames: dict[str, str] = getattr(cls.__init__, "_renamed_arguments", {})  # type: ignore[misc]
    return {renames.get(name, name): value for name, value in kwargs.items()}


def class_path(cls: type) -> str:
    """Return the importable dotted path of a class, e.g. ``deepSTRF.models.audio.strf_models.Linear``.

    Example:
        >>> class_path(torch.nn.ReLU)
        'torch.nn.modules.activation.ReLU'
    """
    return f"{cls.__module__}.{cls.__qualname__}"


def encode_value(value: Any) -> Any:
    """Turn a constructor argument into JSON-compatible data.

    Args:
        value: Any constructor argument.

    Returns:
        Plain JSON data. Values that cannot be represented become
        ``{"__unserialisable__": "<type>", "repr": "..."}``, which
        :func:`decode_value` refuses to rebuild.

    Example:
        >>> encode_value((3, 9))
        {'__tuple__': [3, 9]}
        >>> encode_value(torch.tensor([1.0, 2.0]))
        {'__tensor__': [1.0, 2.0], 'dtype': 'float32'}
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: encode_value(v) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return {"__tensor__": value.detach().cpu().tolist(), "dtype": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, ConfigurableModule):
        return {"__module__": class_path(type(value)), "kwargs": encode_value(value.init_config)}
    if type(value) is nn.Conv2d and isinstance(value.padding, tuple) and value.padding_mode == "zeros":
        kwargs = {a: encode_value(getattr(value, a)) for a in _CONV_ATTRS}
        return {"__module__": "torch.nn.Conv2d", "kwargs": {**kwargs, "bias": value.bias is not None}}
    if type(value) is nn.Sequential:
        return {"__module__": "torch.nn.Sequential", "args": [encode_value(m) for m in value]}
    if type(value) in _TORCH_MODULES:
        attrs = _TORCH_MODULES[type(value)]
        return {"__module__": f"torch.nn.{type(value).__name__}", "kwargs": {a: getattr(value, a) for a in attrs}}
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", None) == 0:  # NumPy scalar
        return encode_value(value.item())
    if type(value).__module__ == "numpy" and type(value).__name__ == "ndarray":
        return encode_value(torch.as_tensor(value))
    return {UNSERIALISABLE: type(value).__name__, "repr": repr(value)[:200]}


def find_unserialisable(encoded: Any, path: str = "") -> list[str]:
    """List the dotted paths of unserialisable entries in encoded data.

    Example:
        >>> find_unserialisable({"a": 1, "b": {"__unserialisable__": "object", "repr": "x"}})
        ['b']
    """
    if isinstance(encoded, dict):
        if UNSERIALISABLE in encoded:
            return [path or "<root>"]
        found: list[str] = []
        for key, sub in encoded.items():
            child = path if key in ("kwargs", "__tuple__") else (f"{path}.{key}" if path else key)
            found += find_unserialisable(sub, child)
        return found
    if isinstance(encoded, list):
        return [p for i, sub in enumerate(encoded) for p in find_unserialisable(sub, f"{path}[{i}]")]
    return []


def resolve_class(path: str) -> type:
    """Import a class allowed in configurations (deepSTRF classes and simple torch.nn activations).

    Args:
        path: Dotted path of the class, as :func:`class_path` writes it (``torch.nn.Name`` for
            the allowed activations).

    Returns:
        The class.

    Raises:
        ValueError: If the class is outside the allowed set or cannot be found.

    Example:
        >>> resolve_class("torch.nn.ReLU")
        <class 'torch.nn.modules.activation.ReLU'>
        >>> resolve_class("os.system")
        Traceback (most recent call last):
            ...
        ValueError: refusing to build class 'os.system': only deepSTRF classes may appear in a configuration
    """
    if path in _TORCH_BY_NAME:
        return _TORCH_BY_NAME[path]
    if not path.startswith("deepSTRF."):
        raise ValueError(f"refusing to build class {path!r}: only deepSTRF classes may appear in a configuration")
    module_name, _, name = path.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"class {path!r} named in the configuration cannot be found: {err}") from err
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise ValueError(f"{path!r} named in the configuration is not an nn.Module class")
    return obj


def decode_value(encoded: Any, path: str = "") -> Any:
    """Rebuild a value written by :func:`encode_value`.

    Raises:
        ValueError: If an unserialisable entry is met (its path is named) or the data is malformed.

    Example:
        >>> decode_value({"__tuple__": [3, 9]})
        (3, 9)
    """
    if isinstance(encoded, list):
        return [decode_value(v, f"{path}[{i}]") for i, v in enumerate(encoded)]
    if not isinstance(encoded, dict):
        return encoded
    if UNSERIALISABLE in encoded:
        raise ValueError(
            f"argument {path or '<root>'!r} ({encoded[UNSERIALISABLE]}, {encoded.get('repr', '')}) could not be "
            "saved in the checkpoint; pass it again with `extra_kwargs`"
        )
    if "__tuple__" in encoded:
        return tuple(decode_value(v, path) for v in encoded["__tuple__"])
    if "__float__" in encoded:
        return float(encoded["__float__"])
    if "__tensor__" in encoded:
        return torch.tensor(encoded["__tensor__"], dtype=getattr(torch, encoded.get("dtype", "float32")))
    if "__module__" in encoded:
        cls = resolve_class(encoded["__module__"])
        kwargs = decode_value(encoded.get("kwargs", {}), path)
        args = decode_value(encoded.get("args", []), path)
        return cls(*args, **current_names(cls, kwargs))
    return {k: decode_value(v, f"{path}.{k}" if path else k) for k, v in encoded.items()}
