"""Per-neuron parametric output nonlinearities.

Each activation holds one parameter set per neuron, shape ``(N,)``, broadcast
against the **last** axis of its input, which must therefore be the neuron axis
(readouts move it there before applying the activation).

- :class:`ParametricSigmoid`: saturating, ``b * sigmoid((x - c) / d) + a`` (Willmore et al. 2016).
- :class:`ParametricDoubleExponential`: saturating, ``a * exp(-exp(k x - s)) + b`` (Thorson et al. 2015).
- :class:`ParametricSoftplus`: unbounded above, ``softplus(beta x) / beta + b``.

With ``non_negative_output=True`` (the default) the amplitude and baseline are
stored as raw parameters and passed through a softplus at every call, so the
output is never negative (suited to spike counts and a Poisson loss); with
``False`` they are used as stored (signed targets such as LFP or EEG). The
reparameterised values are exposed as properties (``a``, ``b``, ``beta``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as nnf

from deepSTRF._validation import check_int, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["ParametricDoubleExponential", "ParametricSigmoid", "ParametricSoftplus"]


def _uniform(n: int, low: float, high: float) -> nn.Parameter:
    return nn.Parameter(torch.empty(n).uniform_(low, high))


def _check_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {type(value).__name__}")
    return value


class _PerNeuron(ConfigurableModule):
    """Shared bookkeeping: ``N`` parameter sets applied along the last axis."""

    def __init__(self, num_features: int, non_negative_output: bool) -> None:
        super().__init__()
        self.N = check_int("num_features", num_features)
        self.non_negative_output = _check_flag("non_negative_output", non_negative_output)

    def _positive(self, raw: torch.Tensor) -> torch.Tensor:
        return nnf.softplus(raw) if self.non_negative_output else raw

    def _check(self, x: torch.Tensor) -> None:
        check_tensor("x", x, floating=True)
        if x.dim() == 0 or x.shape[-1] != self.N:
            raise ValueError(f"`x` must have the neuron axis (N={self.N}) last, got shape {tuple(x.shape)}")


class ParametricSigmoid(_PerNeuron):
    """Four-parameter sigmoid per neuron (Willmore et al. 2016, J. Neurosci. 36(2):280-289).

    ``f(x) = b * sigmoid((x - c) / d) + a``: ``b`` is the dynamic range, ``a`` the
    baseline (omitted with ``bias=False``), ``c`` the inflection point and ``d`` the
    inverse gain. Initialisation: ``c ~ U(-0.5, 0.5)``, ``d ~ U(0.5, 1.5)``; with
    ``non_negative_output`` the raw ``b ~ U(-0.43, 1.40)`` and raw ``a ~ U(-1.43, 0.43)``
    (so ``b = softplus(raw)`` starts in about ``(0.5, 1.6)`` and ``a`` in ``(0.2, 0.9)``),
    otherwise ``b ~ U(0.5, 1.5)`` and ``a ~ U(0, 1)``.

    Args:
        num_features: Number ``N`` of neurons.
        bias: Include the baseline ``a``.
        non_negative_output: Softplus-reparameterise ``b`` and ``a`` (see the module docstring).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``num_features`` < 1, or the input's last axis is not ``N``.

    Shape:
        - Input: ``(..., N)``.
        - Output: same shape as the input.

    Example:
        >>> act = ParametricSigmoid(3)
        >>> act(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 5, 3])
    """

    def __init__(self, num_features: int, bias: bool = True, non_negative_output: bool = True) -> None:
        super().__init__(num_features, non_negative_output)
        self.bias = _check_flag("bias", bias)
        self.c = _uniform(self.N, -0.5, 0.5)
        self.d = _uniform(self.N, 0.5, 1.5)
        self.raw_b = _uniform(self.N, -0.43, 1.40) if non_negative_output else _uniform(self.N, 0.5, 1.5)
        if bias:
            self.raw_a = _uniform(self.N, -1.43, 0.43) if non_negative_output else _uniform(self.N, 0.0, 1.0)

    @property
    def b(self) -> torch.Tensor:
        """Dynamic range ``(N,)`` after reparameterisation."""
        return self._positive(self.raw_b)

    @property
    def a(self) -> torch.Tensor | None:
        """Baseline ``(N,)`` after reparameterisation, ``None`` without bias."""
        return self._positive(self.raw_a) if self.bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the sigmoid neuron-wise along the last axis."""
        self._check(x)
        out = self.b * torch.sigmoid((x - self.c) / self.d)
        return out + self._positive(self.raw_a) if self.bias else out

    def extra_repr(self) -> str:
        return f"N={self.N}, bias={self.bias}, non_negative_output={self.non_negative_output}"


class ParametricDoubleExponential(_PerNeuron):
    """Four-parameter double exponential per neuron (Thorson, Liénard & David 2015, PLOS Comput. Biol.).

    ``f(x) = a * exp(-exp(k x - s)) + b``: ``a`` is the saturated rate, ``b`` the
    baseline (omitted with ``bias=False``), ``s`` the threshold and ``k`` the gain.
    ``exp(-exp(.))`` lies in ``(0, 1]``, so non-negative ``a`` and ``b`` give a
    non-negative output. Initialisation: ``k ~ U(-0.5, 0.5)``, ``s ~ U(0.5, 1.5)``;
    with ``non_negative_output`` the raw ``a ~ U(-0.43, 1.40)`` and raw
    ``b ~ U(-1.43, 0.43)``, otherwise ``a ~ U(0.5, 1.5)`` and ``b ~ U(0, 1)``.

    Args:
        num_features: Number ``N`` of neurons.
        bias: Include the baseline ``b``.
        non_negative_output: Softplus-reparameterise ``a`` and ``b``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``num_features`` < 1, or the input's last axis is not ``N``.

    Shape:
        - Input: ``(..., N)``.
        - Output: same shape as the input.

    Example:
        >>> act = ParametricDoubleExponential(4, bias=False)
        >>> bool((act(torch.randn(10, 4)) > 0).all())
        True
    """

    def __init__(self, num_features: int, bias: bool = True, non_negative_output: bool = True) -> None:
        super().__init__(num_features, non_negative_output)
        self.bias = _check_flag("bias", bias)
        self.k = _uniform(self.N, -0.5, 0.5)
        self.s = _uniform(self.N, 0.5, 1.5)
        self.raw_a = _uniform(self.N, -0.43, 1.40) if non_negative_output else _uniform(self.N, 0.5, 1.5)
        if bias:
            self.raw_b = _uniform(self.N, -1.43, 0.43) if non_negative_output else _uniform(self.N, 0.0, 1.0)

    @property
    def a(self) -> torch.Tensor:
        """Saturated rate ``(N,)`` after reparameterisation."""
        return self._positive(self.raw_a)

    @property
    def b(self) -> torch.Tensor | None:
        """Baseline ``(N,)`` after reparameterisation, ``None`` without bias."""
        return self._positive(self.raw_b) if self.bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the double exponential neuron-wise along the last axis."""
        self._check(x)
        out = self.a * torch.exp(-torch.exp(self.k * x - self.s))
        return out + self._positive(self.raw_b) if self.bias else out

    def extra_repr(self) -> str:
        return f"N={self.N}, bias={self.bias}, non_negative_output={self.non_negative_output}"


class ParametricSoftplus(_PerNeuron):
    """Softplus per neuron with a learnable sharpness and baseline: ``f(x) = log(1 + exp(beta x)) / beta + b``.

    ``beta = softplus(raw_beta) > 0`` always (large ``beta`` approaches a ReLU); the
    baseline ``b`` is softplus-reparameterised when ``non_negative_output``, which
    makes ``f`` non-negative everywhere. Unbounded above, unlike the two saturating
    activations. Initialisation: ``raw_beta ~ U(5, 6)`` (a sharp, nearly rectifying
    curve with a small ``f(0) = log(2) / beta``), raw ``b ~ U(-5, -3)`` with
    ``non_negative_output`` (a baseline of about 0.007 to 0.05), else ``b ~ U(-0.1, 0.1)``.

    Args:
        num_features: Number ``N`` of neurons.
        non_negative_output: Softplus-reparameterise ``b``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``num_features`` < 1, or the input's last axis is not ``N``.

    Shape:
        - Input: ``(..., N)``.
        - Output: same shape as the input.

    Example:
        >>> act = ParametricSoftplus(2)
        >>> bool((act(torch.tensor([[-100.0, 100.0]])) >= 0).all())
        True
    """

    def __init__(self, num_features: int, non_negative_output: bool = True) -> None:
        super().__init__(num_features, non_negative_output)
        self.raw_beta = _uniform(self.N, 5.0, 6.0)
        self.raw_b = _uniform(self.N, -5.0, -3.0) if non_negative_output else _uniform(self.N, -0.1, 0.1)

    @property
    def beta(self) -> torch.Tensor:
        """Sharpness ``(N,)``, always positive."""
        return nnf.softplus(self.raw_beta)

    @property
    def b(self) -> torch.Tensor:
        """Baseline ``(N,)`` after reparameterisation."""
        return self._positive(self.raw_b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the softplus neuron-wise along the last axis."""
        self._check(x)
        beta = self.beta
        return torch.addcmul(self.b, nnf.softplus(beta * x), beta.reciprocal())  # one pass for the / beta + b

    def input_gain(self) -> torch.Tensor:
        """The per-neuron factor ``beta`` ``(N,)`` that multiplies the input before the softplus.

        A readout whose last stage is affine folds it into its weights and calls
        :meth:`forward_prescaled`, which saves a full pass over the output.
        """
        return self.beta

    def forward_prescaled(self, z: torch.Tensor, dim: int = -1, overwrite: bool = False) -> torch.Tensor:
        """Return ``forward(x)`` given ``z = input_gain() * x``, with the neuron axis at ``dim``.

        Args:
            z: The input already multiplied by :meth:`input_gain` along the neuron axis.
            dim: The neuron axis of ``z``.
            overwrite: Write the result into ``z`` and return it, when no gradient flows
                through ``z`` (``z.requires_grad`` is False); otherwise this is ignored. A
                readout passes its own fresh intermediate here: no new output-sized tensor
                is allocated, which on CPU also saves the page faults of a fresh block.

        Returns:
            Tensor of the shape of ``z``.

        Raises:
            TypeError: If ``z`` is not a floating-point tensor or ``overwrite`` not a bool.
            ValueError: If ``z`` does not have ``N`` entries along ``dim``.

        Example:
            >>> act = ParametricSoftplus(3)
            >>> x = torch.randn(2, 3, 5)
            >>> z = act.input_gain().view(3, 1) * x
            >>> torch.allclose(act.forward_prescaled(z, dim=1), act(x.transpose(1, 2)).transpose(1, 2))
            True
        """
        check_tensor("z", z, floating=True)
        if not isinstance(overwrite, bool):
            raise TypeError(f"`overwrite` must be a bool, got {type(overwrite).__name__}")
        if z.dim() == 0 or z.shape[dim] != self.N:
            raise ValueError(f"`z` must have N={self.N} entries along dim={dim}, got shape {tuple(z.shape)}")
        view = [1] * z.dim()
        view[dim] = self.N
        inverse_gain, baseline = self.beta.reciprocal().view(view), self.b.view(view)
        if overwrite and not (z.requires_grad or inverse_gain.requires_grad or baseline.requires_grad):
            torch.ops.aten.softplus.out(z, 1.0, 20.0, out=z)  # nnf.softplus's defaults, in place
            return torch.addcmul(baseline, z, inverse_gain, out=z)
        return torch.addcmul(baseline, nnf.softplus(z), inverse_gain)

    def extra_repr(self) -> str:
        return f"N={self.N}, non_negative_output={self.non_negative_output}"
