"""The base class of every deepSTRF encoding model.

A :class:`NeuralModel` maps a stimulus to the predicted activity of ``N`` neurons
through four slots called in order by the default :meth:`NeuralModel.forward`::

    wav2spec -> prefiltering -> core -> readout

``wav2spec`` (waveform front-end), ``prefiltering`` (e.g. AdapTrans) and ``core``
(shared feature extractor) default to ``nn.Identity``; ``readout`` (the per-neuron
projection to ``(B, N, 1, T)``) must be set by the subclass. Models whose
computation does not fit the pipeline override ``forward`` but keep the slots.

Every call checks the stimulus first (:meth:`NeuralModel.check_stimulus`): its type,
rank, channel and band counts (in :class:`~deepSTRF.models.audio.audio_model.AudioEncodingModel`)
and ``T >= 1``, with an error naming the expected and received shapes. The check
reads shapes only, so it never waits on the device; the finiteness check, which
must read the values, is opt-in (``model.check_finite = True``, or
:meth:`NeuralModel.finite_checks`), and the :class:`~deepSTRF.training.Fitter`
turns it on for its first batch.

Input conversion rule: a floating-point tensor is used as it is; anything else
that holds real numbers (a NumPy array, a list, an integer or bool tensor) is
converted to the floating dtype and device of the model's parameters. Complex
input is refused.

Because :class:`NeuralModel` is a
:class:`~deepSTRF.models.configurable.ConfigurableModule`, the arguments a model
was built with are recorded, so :meth:`NeuralModel.save_pretrained` and
:meth:`NeuralModel.from_pretrained` round-trip any model without a config dict.
"""

from __future__ import annotations

import math
from abc import ABC
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import numpy as np
import torch
from torch import nn

from deepSTRF._validation import check_int, check_positive_float
from deepSTRF.models.checkpoint import load_checkpoint, save_pretrained_to_dir, upload_pretrained
from deepSTRF.models.configurable import ConfigurableModule
from deepSTRF.models.wav2spec._base import WaveformFrontEnd

_M = TypeVar("_M", bound="NeuralModel")

_SLOTS = ("wav2spec", "prefiltering", "core", "readout")


class NeuralModel(ConfigurableModule, ABC):
    """Base class for encoding models of sensory neural responses.

    Subclasses fill the slots in their ``__init__`` (at least ``readout``) and
    may override :meth:`forward`. The constructor arguments are captured
    automatically, so checkpoints rebuild the architecture by themselves.

    Args:
        out_neurons: Number ``N`` of neurons the model predicts, stored as ``self.O``.

    Raises:
        TypeError: If ``out_neurons`` is not an int.
        ValueError: If ``out_neurons`` < 1.

    Shape:
        - Input: modality-dependent, e.g. a spectrogram ``(B, 1, F, T)``.
        - Output: ``(B, N, 1, T)``.

    Example:
        >>> class Gain(NeuralModel):
        ...     def __init__(self, out_neurons: int = 2):
        ...         super().__init__(out_neurons)
        ...         self.readout = nn.Conv2d(1, out_neurons, kernel_size=(3, 1))
        >>> model = Gain()
        >>> model(torch.randn(4, 1, 3, 10)).shape
        torch.Size([4, 2, 1, 10])
        >>> model.count_trainable_params()
        8
    """

    wav2spec: nn.Module
    prefiltering: nn.Module
    core: nn.Module
    readout: nn.Module  # None until the subclass sets it
    #: Also check on each call that the stimulus holds no NaN or inf (one device sync per call).
    check_finite: bool = False

    def __init__(self, out_neurons: int = 1) -> None:
        super().__init__()
        self.O = check_int("out_neurons", out_neurons)
        self.wav2spec = nn.Identity()
        self.prefiltering = nn.Identity()
        self.core = nn.Identity()
        self.register_module("readout", None)
        self._data_spec: dict[str, float] = {}

    def __call__(self, stimulus: Any, *args: Any, **kwargs: Any) -> Any:
        return super().__call__(self.check_stimulus(stimulus), *args, **kwargs)

    def _floating_reference(self) -> torch.Tensor:
        """A tensor carrying the model's floating dtype and device."""
        for tensor in (*self.parameters(), *self.buffers()):
            if tensor.is_floating_point():
                return tensor
        return torch.zeros(())

    def check_stimulus(self, stimulus: Any) -> torch.Tensor:
        """Check (and if needed convert) a stimulus before the forward pass; called on every call.

        Subclasses add shape rules in :meth:`_check_stimulus_shape`. Only shapes and
        dtypes are read, except with ``check_finite``.

        Args:
            stimulus: A floating tensor, or real-valued array-like (converted to the model's
                floating dtype and device, see the module documentation).

        Returns:
            The stimulus as a floating tensor.

        Raises:
            TypeError: If it is complex or not numeric.
            ValueError: If it has no time axis or no time bin (``T = 0``), a model-specific
                shape rule fails, or ``check_finite`` is on and it holds NaN or inf.

        Example:
            >>> from deepSTRF.models.audio.strf_models import Linear
            >>> Linear(n_frequency_bands=8).check_stimulus(np.zeros((2, 1, 8, 5), dtype=np.int64)).dtype
            torch.float32
        """
        x = stimulus
        if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
            x = self._convert_stimulus(x)
        if not x.shape or x.shape[-1] == 0:
            raise ValueError(
                f"{type(self).__name__}: `stimulus` must have a time axis with T >= 1 bins (last axis), "
                f"got shape {tuple(x.shape)}"
            )
        self._check_stimulus_shape(x)
        if self.check_finite:
            bad = int((~torch.isfinite(x)).sum())
            if bad:
                raise ValueError(
                    f"{type(self).__name__}: `stimulus` must be finite, got {bad} NaN/inf value(s) in a tensor "
                    f"of shape {tuple(x.shape)}; clean or mask the stimulus before the forward pass"
                )
        return x

    def _convert_stimulus(self, x: Any) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            tensor = x
        else:
            try:
                tensor = torch.as_tensor(np.asarray(x))
            except (TypeError, ValueError, RuntimeError) as err:
                raise TypeError(
                    f"{type(self).__name__}: `stimulus` must be a floating-point tensor (or real array-like), "
                    f"got {type(x).__name__}"
                ) from err
        if tensor.is_complex():
            raise TypeError(f"{type(self).__name__}: `stimulus` must be real, got complex dtype {tensor.dtype}")
        ref = self._floating_reference()
        return tensor.to(device=ref.device, dtype=ref.dtype)

    def _check_stimulus_shape(self, x: torch.Tensor) -> None:
        """Model-specific shape rules; the base class accepts any rank (its input is modality-dependent)."""

    @contextmanager
    def finite_checks(self, enabled: bool = True) -> Iterator[None]:
        """Within the block, every call also checks that the stimulus is finite (see ``check_finite``).

        Example:
            >>> from deepSTRF.models.audio.strf_models import Linear
            >>> model = Linear(n_frequency_bands=2)
            >>> with model.finite_checks():
            ...     model(torch.full((1, 1, 2, 4), float("nan")))  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            ValueError: Linear: `stimulus` must be finite, got 8 NaN/inf value(s) in a tensor of shape (1, 1, 2, 4); ...
        """
        previous = self.__dict__.get("check_finite")
        self.check_finite = enabled
        try:
            yield
        finally:
            if previous is None:
                del self.check_finite
            else:
                self.check_finite = previous

    def forward(self, stimulus: torch.Tensor) -> torch.Tensor:
        """Run ``wav2spec -> prefiltering -> core -> readout``.

        Args:
            stimulus: Stimulus batch, e.g. a spectrogram ``(B, 1, F, T)`` or, with a
                front-end, a waveform ``(B, 1, T_audio)``.

        Returns:
            Predicted responses ``(B, N, 1, T)``.

        Raises:
            RuntimeError: If the subclass never set ``readout``.
        """
        if self.readout is None:
            raise RuntimeError(f"{type(self).__name__} has no readout: set `self.readout` in its __init__")
        return self.readout(self.core(self.prefiltering(self.wav2spec(stimulus))))

    def validate(self) -> None:
        """Check that the model obeys the :class:`NeuralModel` contract.

        Subclasses extend it with ``super().validate()`` followed by their own checks.

        Raises:
            TypeError: If ``O`` is not an int, or a slot is not an ``nn.Module``.
            ValueError: If ``O`` < 1 or ``readout`` is unset.
        """
        check_int("O", self.O)
        if self.readout is None:
            raise ValueError(f"{type(self).__name__}.readout must be set to an nn.Module, got None")
        for name in _SLOTS:
            slot = getattr(self, name)
            if not isinstance(slot, nn.Module):
                raise TypeError(f"{type(self).__name__}.{name} must be an nn.Module, got {type(slot).__name__}")

    @property
    def data_spec(self) -> dict[str, float]:
        """The time base of the data the model is for: ``{"dt_ms": ..., "audio_fs": ...}``, the keys known.

        ``dt_ms`` is the response bin width in ms, ``audio_fs`` the sample rate in Hz of a
        waveform input. A waveform front-end (``wav2spec``) fixes both; otherwise they are
        what :meth:`set_data_spec` recorded (the Fitter records its training data's).
        Checkpoints save them, and evaluation refuses data on another time base.

        Example:
            >>> from deepSTRF.models.audio.strf_models import Linear
            >>> model = Linear(n_frequency_bands=8, temporal_window_size=3)
            >>> model.data_spec
            {}
            >>> model.set_data_spec(dt_ms=5.0)
            >>> model.data_spec
            {'dt_ms': 5.0}
        """
        spec = dict(self.__dict__.get("_data_spec", {}))
        if isinstance(self.wav2spec, WaveformFrontEnd):
            spec.update(dt_ms=self.wav2spec.dt_ms, audio_fs=self.wav2spec.audio_fs)
        return spec

    def set_data_spec(self, dt_ms: float | None = None, audio_fs: float | None = None) -> None:
        """Record the bin width (and, for waveform input, the sample rate) of the model's data.

        Args:
            dt_ms: Response bin width in ms; ``None`` leaves it as it is.
            audio_fs: Sample rate in Hz of waveform stimuli; ``None`` leaves it as it is.

        Raises:
            TypeError: If a value is not a real number.
            ValueError: If a value is not positive, or differs from what the waveform front-end fixes.
        """
        values = {"dt_ms": dt_ms, "audio_fs": audio_fs}
        given = {name: check_positive_float(name, value) for name, value in values.items() if value is not None}
        front_end = self.wav2spec
        if isinstance(front_end, WaveformFrontEnd):
            for name, value in given.items():
                fixed = getattr(front_end, name)
                if not math.isclose(value, fixed, rel_tol=1e-9):
                    raise ValueError(
                        f"`{name}` must be {fixed:g}, the value of the model's {type(front_end).__name__} "
                        f"front-end, got {value:g}"
                    )
        self.__dict__.setdefault("_data_spec", {}).update(given)

    def check_data_spec(self, data: dict[str, float | None], source: str = "the data") -> None:
        """Raise if ``data``'s time base differs from the model's (:attr:`data_spec`).

        Values unknown on either side are not compared; ``audio_fs`` is compared only when
        both are known (spectrogram data has none).

        Args:
            data: ``{"dt_ms": ..., "audio_fs": ...}`` of the data (missing keys or ``None`` values are unknown).
            source: What the data is, for the message (e.g. ``"dataset 'ns1'"``).

        Raises:
            ValueError: If a known value differs, naming both.

        Example:
            >>> from deepSTRF.models.audio.strf_models import Linear
            >>> model = Linear(n_frequency_bands=8, temporal_window_size=3)
            >>> model.set_data_spec(dt_ms=5.0)
            >>> model.check_data_spec({"dt_ms": 10.0}, "dataset 'simulated'")
            Traceback (most recent call last):
            ...
            ValueError: Linear expects dt_ms=5 (the data it was fitted on) but dataset 'simulated' has dt_ms=10
        """
        units = {"dt_ms": "", "audio_fs": " Hz"}
        for name, mine in self.data_spec.items():
            theirs = data.get(name)
            if theirs is not None and not math.isclose(mine, theirs, rel_tol=1e-9):
                raise ValueError(
                    f"{type(self).__name__} expects {name}={mine:g}{units[name]} (the data it was fitted on) "
                    f"but {source} has {name}={theirs:g}{units[name]}"
                )

    def count_trainable_params(self) -> int:
        """Return the number of parameter elements with ``requires_grad=True`` (shared ones once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def detach(self) -> None:
        """Cut stateful tensors from the autograd graph; a no-op unless a recurrent subclass overrides it."""

    def save_pretrained(
        self, save_dir: str | Path, *, metadata: dict[str, Any] | None = None, model_card: str | None = None
    ) -> Path:
        """Write the model to a checkpoint folder (``config.json`` + ``model.safetensors``).

        See :func:`deepSTRF.utils.hub.save_pretrained_to_dir` for the format and guarantees.

        Args:
            save_dir: Destination folder, replaced atomically if it already holds a checkpoint.
            metadata: JSON-serialisable extra information, written to ``metadata.json``.
            model_card: Markdown written to ``README.md``; a default card is generated when omitted.

        Returns:
            The checkpoint folder.

        Raises:
            TypeError: If ``metadata`` is not JSON-serialisable or ``model_card`` is not a str.
            ValueError: If the model has shared or mixed-dtype tensors.
            FileExistsError: If ``save_dir`` is a file or holds files that are not a checkpoint's.

        Example:
            >>> import tempfile
            >>> from deepSTRF.models.audio.strf_models import Linear
            >>> model = Linear(n_frequency_bands=8, temporal_window_size=3, out_neurons=2)
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     folder = model.save_pretrained(f"{tmp}/linear", metadata={"cc": 0.61})
            ...     print(sorted(p.name for p in folder.iterdir()))
            ['README.md', 'config.json', 'metadata.json', 'model.safetensors']
        """
        return save_pretrained_to_dir(self, save_dir, metadata=metadata, model_card=model_card)

    @overload
    @classmethod
    def from_pretrained(
        cls: type[_M],
        repo_id_or_path: str | Path,
        *,
        extra_kwargs: dict[str, Any] | None = ...,
        strict: bool = ...,
        map_location: str | torch.device = ...,
        cache_dir: str | Path | None = ...,
        revision: str | None = ...,
        token: str | None = ...,
        return_metadata: Literal[False] = ...,
    ) -> _M: ...

    @overload
    @classmethod
    def from_pretrained(
        cls: type[_M],
        repo_id_or_path: str | Path,
        *,
        extra_kwargs: dict[str, Any] | None = ...,
        strict: bool = ...,
        map_location: str | torch.device = ...,
        cache_dir: str | Path | None = ...,
        revision: str | None = ...,
        token: str | None = ...,
        return_metadata: Literal[True],
    ) -> tuple[_M, dict[str, Any]]: ...

    @classmethod
    def from_pretrained(
        cls: type[_M],
        repo_id_or_path: str | Path,
        *,
        extra_kwargs: dict[str, Any] | None = None,
        strict: bool = True,
        map_location: str | torch.device = "cpu",
        cache_dir: str | Path | None = None,
        revision: str | None = None,
        token: str | None = None,
        return_metadata: bool = False,
    ) -> _M | tuple[_M, dict[str, Any]]:
        """Rebuild a model from a local checkpoint folder or a Hugging Face Hub repository.

        The recorded class must be ``cls`` or one of its subclasses:
        ``NeuralModel.from_pretrained`` loads any model, ``Linear.from_pretrained``
        only a ``Linear`` (or a subclass). See :func:`deepSTRF.utils.hub.load_pretrained`.

        Args:
            repo_id_or_path: An existing local folder, otherwise a Hub repo id ``"owner/name"``.
            extra_kwargs: Constructor arguments that override the recorded ones (needed for
                arguments that could not be saved).
            strict: Require the weights to match the model's ``state_dict`` keys exactly.
            map_location: Device to load the model onto.
            cache_dir: Hub cache folder.
            revision: Hub branch, tag or commit.
            token: Hub access token.
            return_metadata: Also return the saved metadata (``{}`` when none was saved).

        Returns:
            The model in eval mode, or ``(model, metadata)``.

        Raises:
            FileNotFoundError: If the folder, its config or its weights are missing.
            ValueError: If the recorded class is not a ``cls``, a file is corrupt or the
                weights do not match.

        Example:
            >>> import tempfile
            >>> from deepSTRF.models.audio.strf_models import Linear
            >>> model = Linear(n_frequency_bands=8, temporal_window_size=3, out_neurons=2)
            >>> x = torch.randn(1, 1, 8, 20)
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     folder = model.save_pretrained(f"{tmp}/linear")
            ...     loaded = NeuralModel.from_pretrained(folder)  # no arguments: the config rebuilds it
            >>> type(loaded).__name__, torch.equal(loaded(x), model.eval()(x))
            ('Linear', True)
        """
        model, metadata = load_checkpoint(
            repo_id_or_path,
            cls,
            extra_kwargs=extra_kwargs,
            strict=strict,
            map_location=map_location,
            cache_dir=cache_dir,
            revision=revision,
            token=token,
        )
        return (model, metadata) if return_metadata else model

    def push_to_hub(
        self,
        repo_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        model_card: str | None = None,
        private: bool = False,
        token: str | None = None,
        commit_message: str | None = None,
    ) -> str:
        """Upload the model to the Hugging Face Hub (needs the ``hub`` extra and write access).

        The repository is created if needed. See :func:`deepSTRF.utils.hub.upload_pretrained`.

        Args:
            repo_id: Repository ``"owner/name"``.
            metadata: JSON-serialisable dict written to ``metadata.json``.
            model_card: Markdown for ``README.md``; generated when omitted.
            private: Create the repository as private.
            token: Hub access token.
            commit_message: Message of the commit; a default names the model class.

        Returns:
            The URL of the commit.

        Raises:
            ValueError: If ``repo_id`` is malformed.
            ImportError: If ``huggingface_hub`` is not installed.
        """
        return upload_pretrained(
            self,
            repo_id,
            metadata=metadata,
            model_card=model_card,
            private=private,
            token=token,
            commit_message=commit_message,
        )
