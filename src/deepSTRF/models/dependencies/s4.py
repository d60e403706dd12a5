"""Structured state-space layers (S4, Gu, Goel & Ré, 2022; S4D, Gu, Gupta, Goel & Ré, 2022) in plain PyTorch.

Each of the ``d_model`` channels is an independent linear state-space model whose state
holds ``d_state`` complex coordinates in conjugate pairs (``d_state / 2`` are stored, the
other half is implied by taking twice the real part). The layer computes the causal
convolution of its input with the model's impulse response ``K`` (the SSM kernel), adds
the skip term ``D u`` and returns ``GLU(Linear(GELU(·)))``, as in the standard S4 block.
Two parameterisations of the state matrix are offered:

``mode="dplr"`` (default): S4, diagonal plus low rank.
    ``A = Λ - p p^*`` with ``Λ = -exp(log_A_real) - i·A_imag`` (``d_state / 2`` conjugate
    pairs), a rank-one correction ``p``, input vector ``B`` and output vector ``C``,
    initialised from HiPPO-LegS: the LegS matrix ``A_nk = -√(2n+1)√(2k+1)`` (``n > k``),
    ``-(n+1)`` (``n = k``), ``0`` otherwise, plus ``p pᵀ`` with ``p_n = √(n+½)`` is
    ``-½ I`` plus a skew-symmetric matrix; diagonalising that normal part unitarily gives
    ``Λ`` (real part ``-½``), and ``p``, ``B = √(2n+1)`` are expressed in its eigenbasis
    (``B``'s imaginary part clipped to ``[-2, 2]``). ``C`` is complex Gaussian and the step
    ``dt = exp(log_dt)`` log-uniform in ``[dt_min, dt_max]`` per channel. The model is
    discretised by the bilinear transform,
    ``Ā = (2/dt - A)^{-1} (2/dt + A)``, ``B̄ = (2/dt - A)^{-1} 2B``, and the kernel of length
    ``L``, ``K_k = C Ā^k B̄`` for ``k < L``, is obtained in the frequency domain: its
    generating function at the ``L``-th roots of unity ``ω`` is
    ``2/(1+ω) · C̃ (z - dt·A)^{-1} dt·B`` with ``z = 2(1-ω)/(1+ω)`` and ``C̃ = C (I - Ā^L)``
    (which removes the wrap-around of the infinite kernel). The resolvent of the
    diagonal-plus-rank-one matrix is a sum of Cauchy terms corrected by the Woodbury
    identity, ``k̂ = r_{CB} - r_{Cp} r_{p̄B} / (1 + r_{p̄p})`` with
    ``r_{xy}(z) = Σ_n dt·x_n y_n / (z - dt·Λ_n)`` over all ``d_state`` modes, and an inverse
    real FFT gives ``K``. The input is convolved with ``K`` by block Toeplitz products over
    chunks of frames, which is exactly causal: outputs before any frame are bit-identical
    whatever follows.
    These are the definitions and parameter values of deepSTRF 0.1.0's S4 block
    (the ``state-spaces`` standalone S4 with its defaults); see
    :mod:`deepSTRF.models.legacy` for reading its checkpoints.

``mode="diag"``: S4D, diagonal.
    ``A = -exp(log_A_real) + i·A_imag`` initialised as S4D-Lin (``-1/2 + iπn``), ``B = 1``,
    the zero-order-hold discretisation ``Ā = exp(dt·A)``, ``B̄ = (Ā - 1)/A`` and the kernel
    ``K_k = 2 Re(C Ā^k B̄)``. The convolution is computed exactly and causally, without
    FFT: within chunks of ``C`` frames by a Toeplitz product, and across chunks through
    the states at chunk boundaries, which a log-depth doubling scan accumulates. Outputs
    before any frame are therefore bit-identical whatever follows.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepSTRF._validation import check_int, check_positive_float, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["S4Block", "dplr_transition", "hippo_legs_dplr"]

_CHUNK = 32  # frames per chunk of the causal convolution (mode="diag")
_MODES = ("dplr", "diag")


def hippo_legs_dplr(d_state: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """HiPPO-LegS in diagonal-plus-low-rank form, one mode of each conjugate pair.

    Args:
        d_state: State size ``N`` (even).

    Returns:
        ``(Λ, p, B)``, complex64 of shape ``(N / 2,)``: the eigenvalues with negative
        imaginary part of the normal part ``A + p pᵀ`` of the LegS matrix, and the low-rank
        vector and input vector in the corresponding unitary eigenbasis, so that the LegS
        system is ``(Λ - p p^*, B)`` up to that change of basis (with ``B``'s imaginary part
        clipped to ``[-2, 2]``).

    Example:
        >>> lam, p, b = hippo_legs_dplr(8)
        >>> lam.shape, bool(torch.allclose(lam.real, torch.tensor(-0.5)))
        (torch.Size([4]), True)
    """
    n = torch.arange(d_state, dtype=torch.float64)
    root = torch.sqrt(2 * n + 1)
    legs = -torch.outer(root, root) * (n[:, None] > n[None, :]) - torch.diag(n + 1)
    p = torch.sqrt(n + 0.5)
    normal = legs + torch.outer(p, p)  # -I/2 + skew-symmetric
    skew = normal - torch.diag(torch.diagonal(normal))
    imag, vectors = torch.linalg.eigh(skew.to(torch.complex128) * -1j)  # eigenvalues of skew are i·imag
    order = torch.argsort(imag)[: d_state // 2]
    vectors = vectors[:, order]
    lam = torch.complex(torch.diagonal(normal).mean().expand(d_state // 2), imag[order])
    p_tilde = vectors.conj().T @ p.to(torch.complex128)
    b_tilde = vectors.conj().T @ root.to(torch.complex128)
    b_tilde = torch.complex(b_tilde.real, b_tilde.imag.clamp(-2.0, 2.0))
    return lam.to(torch.complex64), p_tilde.to(torch.complex64), b_tilde.to(torch.complex64)


def _conjugate_pairs(x: torch.Tensor) -> torch.Tensor:
    """Append the conjugates along the last axis: ``(..., N/2) -> (..., N)``."""
    return torch.cat([x, x.conj()], dim=-1)


def dplr_transition(
    log_dt: torch.Tensor, log_A_real: torch.Tensor, A_imag: torch.Tensor, P: torch.Tensor
) -> torch.Tensor:
    """Bilinear discretisation ``Ā = (2/dt - A)^{-1} (2/dt + A)`` of ``A = Λ - p p^*`` as a dense matrix.

    Args:
        log_dt: ``(H,)`` log step sizes.
        log_A_real: ``(H, N/2)``, ``Re Λ = -exp(log_A_real)``.
        A_imag: ``(H, N/2)``, ``Im Λ = -A_imag``.
        P: ``(H, N/2, 2)`` real and imaginary parts of ``p``.

    Returns:
        ``(H, N, N)`` complex: ``Ā`` acting on the full state (both members of each conjugate pair).

    Example:
        >>> block = S4Block(d_model=2, d_state=4)
        >>> dplr_transition(block.log_dt, block.log_A_real, block.A_imag, block.P).shape
        torch.Size([2, 4, 4])
    """
    # (2/dt - A)^{-1} by the Sherman-Morrison formula: Ā = diag(n/m) - 4/(dt·s) (p/m)(p̄/m)ᵀ
    # with m = 2/dt - Λ, n = 2/dt + Λ and s = 1 + Σ |p|²/m, over the full state
    lam = _conjugate_pairs(torch.complex(-torch.exp(log_A_real), -A_imag))
    p = _conjugate_pairs(torch.view_as_complex(P))
    dt = torch.exp(log_dt)[:, None].to(lam.dtype)
    m, n = 2 / dt - lam, 2 / dt + lam
    s = 1 + (p * p.conj() / m).sum(-1, keepdim=True)
    return torch.diag_embed(n / m) - (4 / (dt * s))[..., None] * (p / m)[:, :, None] * (p.conj() / m)[:, None, :]


def _times_power(row: torch.Tensor, matrix: torch.Tensor, power: int) -> torch.Tensor:
    """``row @ matrix^power`` for ``(H, n)`` rows and ``(H, n, n)`` matrices, by repeated squaring."""
    while power:
        if power & 1:
            row = torch.einsum("hn,hnm->hm", row, matrix)
        power >>= 1
        if power:
            matrix = matrix @ matrix
    return row


def _causal_convolution(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``y_t = Σ_{k<=t} kernel_k u_{t-k}`` for ``u`` ``(B, H, T)`` and ``kernel`` ``(H, T)``, exactly causal.

    Block Toeplitz products over chunks of ``_CHUNK`` frames: output chunk ``j`` gathers
    input chunks ``j - d`` for ``d >= 0`` only, and the diagonal block is lower triangular
    with exact zeros, so outputs before a frame are bit-identical whatever follows.
    """
    batch, channels, length = u.shape
    chunk = min(length, _CHUNK)
    n_chunks = -(-length // chunk)
    u = nn.functional.pad(u, (0, n_chunks * chunk - length)).view(batch, channels, n_chunks, chunk)
    u = u.permute(1, 3, 2, 0).contiguous()  # (H, s, chunks, B): the chunks of any prefix are one matrix
    kernel = nn.functional.pad(kernel, (0, n_chunks * chunk - length))
    steps = torch.arange(chunk, device=u.device)
    lag = steps[:, None] - steps[None, :]
    diagonal = kernel[:, lag.clamp(min=0)] * (lag >= 0).to(u.dtype)  # (H, t, s), lower triangular
    y = torch.bmm(diagonal, u.reshape(channels, chunk, n_chunks * batch)).view(channels, chunk, n_chunks, batch)
    for d in range(1, n_chunks):
        block = kernel[:, d * chunk + lag]  # (H, t, s): lags d·chunk + t - s > 0
        past = u[:, :, : n_chunks - d].reshape(channels, chunk, (n_chunks - d) * batch)
        y[:, :, d:] += torch.bmm(block, past).view(channels, chunk, n_chunks - d, batch)
    return y.permute(3, 0, 2, 1).reshape(batch, channels, n_chunks * chunk)[..., :length]


def _real_form(transition: torch.Tensor) -> torch.Tensor:
    """The real ``(H, N, N)`` matrix of ``Ā`` acting on ``(Re x, Im x)`` of the stored half ``x`` of the state.

    The full state is ``(x, x̄)``, so ``x' = X x + Y x̄`` with ``X``, ``Y`` the top blocks of ``Ā``.
    """
    half = transition.shape[-1] // 2
    plus = transition[:, :half, :half] + transition[:, :half, half:]
    minus = transition[:, :half, :half] - transition[:, :half, half:]
    top = torch.cat([plus.real, -minus.imag], dim=-1)
    bottom = torch.cat([plus.imag, minus.real], dim=-1)
    return torch.cat([top, bottom], dim=-2)


class S4Block(ConfigurableModule):
    """S4 layer: a state-space convolution followed by GELU, dropout and a GLU projection.

    ``mode="dplr"`` is S4 (diagonal plus low-rank state matrix, HiPPO-LegS initialisation,
    bilinear discretisation, the kernel computed from a Cauchy resolvent with a Woodbury
    correction at the roots of unity), as in deepSTRF 0.1.0; ``mode="diag"`` is S4D
    (diagonal, S4D-Lin initialisation, zero-order hold). See the module documentation.

    Args:
        d_model: Number of channels ``H``.
        d_state: State size per channel (even; ``d_state / 2`` conjugate pairs are stored).
        dt_min: Smallest initial discretisation step, in frames.
        dt_max: Largest initial discretisation step, in frames.
        dropout: Dropout probability after the activation.
        transposed: If True, inputs and outputs are ``(B, H, T)``; otherwise ``(B, T, H)``.
        mode: ``"dplr"`` (S4) or ``"diag"`` (S4D).

    Shape:
        - Input: ``(B, T, H)`` (``transposed=False``) or ``(B, H, T)``
        - Output: same shape as the input.

    Raises:
        TypeError, ValueError: For invalid arguments or a malformed input.

    Example:
        >>> layer = S4Block(d_model=6, d_state=8)
        >>> y, state = layer(torch.randn(2, 37, 6))
        >>> y.shape, state
        (torch.Size([2, 37, 6]), None)
        >>> S4Block(d_model=6, mode="diag")(torch.randn(2, 37, 6))[0].shape
        torch.Size([2, 37, 6])
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dropout: float = 0.0,
        transposed: bool = False,
        mode: str = "dplr",
    ) -> None:
        super().__init__()
        self.d_model = check_int("d_model", d_model)
        self.d_state = check_int("d_state", d_state, minimum=2)
        if self.d_state % 2:
            raise ValueError(f"`d_state` must be even, got {d_state}")
        dt_min = check_positive_float("dt_min", dt_min)
        dt_max = check_positive_float("dt_max", dt_max)
        if dt_min > dt_max:
            raise ValueError(f"`dt_min` must not exceed `dt_max`, got {dt_min} > {dt_max}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must lie in [0, 1), got {dropout}")
        if not isinstance(mode, str) or mode not in _MODES:
            raise ValueError(f"`mode` must be one of {_MODES}, got {mode!r}")
        self.mode = mode
        self.transposed = bool(transposed)
        modes = self.d_state // 2
        log_dt = torch.rand(self.d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.log_A_real = nn.Parameter(torch.full((self.d_model, modes), math.log(0.5)))
        if mode == "dplr":
            lam, p, b = hippo_legs_dplr(self.d_state)
            self.A_imag = nn.Parameter((-lam.imag).clamp(min=1e-4).repeat(self.d_model, 1))
            self.B = nn.Parameter(torch.view_as_real(b).repeat(self.d_model, 1, 1))
            self.P = nn.Parameter(torch.view_as_real(p).repeat(self.d_model, 1, 1))
        else:
            self.A_imag = nn.Parameter(math.pi * torch.arange(modes, dtype=torch.float32).repeat(self.d_model, 1))
        self.C = nn.Parameter(torch.randn(self.d_model, modes, 2) * math.sqrt(0.5))  # real and imaginary parts
        self.D = nn.Parameter(torch.randn(self.d_model))
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Sequential(nn.Linear(self.d_model, 2 * self.d_model), nn.GLU(dim=-1))

    def _dplr_kernel(self, length: int) -> torch.Tensor:
        """The S4 kernel of ``length`` frames, ``(H, length)``, from its values at the roots of unity."""
        dt = torch.exp(self.log_dt)[:, None]
        lam = torch.complex(-torch.exp(self.log_A_real), -self.A_imag)  # (H, N/2)
        p = torch.view_as_complex(self.P)
        c = torch.view_as_complex(self.C)
        # C̃ = C (I - Ā^L): the kernel's generating function at the L-th roots of unity then has no wrap-around
        # (the functional x -> 2 Re(c x) is f = 2 (Re c, -Im c) on (Re x, Im x); f R^L gives c Ā^L back)
        real = _real_form(dplr_transition(self.log_dt, self.log_A_real, self.A_imag, self.P))
        functional = 2 * torch.cat([c.real, -c.imag], dim=-1)
        wrapped = _times_power(functional, real, length) / 2
        half = c.shape[-1]
        c = c - torch.complex(wrapped[:, :half], -wrapped[:, half:])
        # roots of unity ω_k = exp(-2πik/L), k <= L/2, and their bilinear images z = 2(1-ω)/(1+ω)
        steps = torch.arange(length // 2 + 1, dtype=torch.float64, device=dt.device)
        omega = torch.polar(torch.ones_like(steps), -2 * math.pi * steps / length)
        y = (2 * (1 - omega) / (1 + omega)).imag.to(dt.dtype)  # z = i·y = 2i·tan(πk/L)
        # Cauchy sums over every mode: a stored pole w and its conjugate together give
        # v/(z-w) + v̄/(z-w̄) = (2 Re(v) z - 2 Re(v w̄)) / (z² - 2 Re(w) z + |w|²), whose
        # denominator is |w|² - y² - 2i Re(w) y on the imaginary axis
        # (scaled by y² where |y| > 1, so that float32 holds it up to the Nyquist frequency, y ~ 1e16)
        poles = (dt * lam)[..., None]  # (H, N/2, 1)
        scale = y.abs().clamp(min=1.0)
        den_real = poles.abs().square() / scale.square() - (y / scale).square()
        den_imag = -2 * poles.real / scale * (y / scale)
        norm = (den_real * den_real + den_imag * den_imag) * scale.square()
        cauchy = torch.stack([den_real / norm, -den_imag / norm], dim=-1)  # 1/den, (H, N/2, L/2+1, 2)
        left = torch.stack([c, p.conj()])  # C and q = p̄
        right = torch.stack([torch.view_as_complex(self.B), p]) * dt  # dt·B and dt·p
        weights = left[:, None] * right[None, :]  # (2, 2, H, N/2)
        coefficients = 2 * torch.stack([weights.real, (weights * poles[..., 0].conj()).real])  # (2, 2, 2, H, N/2)
        sums = torch.einsum("kijhn,hnlc->kijhlc", coefficients, cauchy)
        sums = torch.view_as_complex(sums.contiguous())
        r = 1j * y * sums[0] - sums[1]
        spectrum = r[0, 0] - r[0, 1] * r[1, 0] / (1 + r[1, 1])
        spectrum = spectrum * (2 / (1 + omega)).to(lam.dtype)
        return torch.fft.irfft(spectrum, n=length)

    def _discretise(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``dt·A`` and ``C·B̄``, both complex of shape ``(H, modes)``."""
        A = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        dtA = A * torch.exp(self.log_dt)[:, None]
        CB = torch.view_as_complex(self.C) * torch.expm1(dtA) / A
        return dtA, CB

    def kernel(self, length: int) -> torch.Tensor:
        """The SSM convolution kernel (impulse response) for lags ``k < length``, shape ``(H, length)``.

        ``C Ā^k B̄`` (``mode="dplr"``) or ``2 Re(C Ā^k B̄)`` (``mode="diag"``).

        Example:
            >>> S4Block(d_model=3, d_state=4).kernel(5).shape
            torch.Size([3, 5])
        """
        length = check_int("length", length)
        if self.mode == "dplr":
            return self._dplr_kernel(length)
        dtA, CB = self._discretise()
        k = torch.arange(length, device=dtA.device, dtype=dtA.real.dtype)
        return 2 * torch.einsum("hq,hqk->hk", CB, torch.exp(dtA[..., None] * k)).real

    def convolve(self, u: torch.Tensor) -> torch.Tensor:
        """Causal convolution of ``u`` (``(B, H, T)``) with the SSM kernel, without the ``D`` term.

        Example:
            >>> S4Block(d_model=3, d_state=4).convolve(torch.randn(2, 3, 9)).shape
            torch.Size([2, 3, 9])
        """
        if self.mode == "dplr":
            return _causal_convolution(u, self._dplr_kernel(u.shape[-1]))
        batch, channels, length = u.shape
        chunk = min(length, _CHUNK)
        n_chunks = -(-length // chunk)
        u = nn.functional.pad(u, (0, n_chunks * chunk - length)).view(batch, channels, n_chunks, chunk)
        dtA, CB = self._discretise()
        steps = torch.arange(chunk + 1, device=u.device, dtype=u.dtype)
        decay = torch.exp(dtA[..., None] * steps)  # (H, q, chunk + 1): Ā^0 .. Ā^chunk
        impulse = 2 * torch.einsum("hq,hqk->hk", CB, decay[..., :chunk]).real  # (H, chunk)
        lag = torch.arange(chunk, device=u.device)
        lag = lag[:, None] - lag[None, :]
        toeplitz = impulse[:, lag.clamp(min=0)] * (lag >= 0).to(u.dtype)  # (H, t, s)
        y = torch.einsum("hts,bhns->bhnt", toeplitz, u)
        # state (per unit B̄) at the end of each chunk from that chunk's input, then across chunks
        ends = torch.einsum("hqs,bhns->bhnq", decay[..., :chunk].flip(-1), u.to(decay.dtype))
        carry_step, span = decay[..., chunk], 1
        while span < n_chunks:
            ends = torch.cat([ends[:, :, :span], ends[:, :, span:] + carry_step[:, None] * ends[:, :, :-span]], dim=2)
            carry_step, span = carry_step * carry_step, 2 * span
        previous = nn.functional.pad(ends[:, :, :-1], (0, 0, 1, 0))  # state entering each chunk
        y = y + 2 * torch.einsum("hqt,bhnq->bhnt", CB[..., None] * decay[..., 1:], previous).real
        return y.reshape(batch, channels, n_chunks * chunk)[..., :length]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Apply the layer (see the class docstring).

        Returns:
            ``(y, state)``: the output sequence and ``None`` (the convolution mode keeps no state).
        """
        check_tensor("x", x, ndim=3, floating=True)
        channel_axis = 1 if self.transposed else 2
        if x.shape[channel_axis] != self.d_model:
            layout = "(B, H, T)" if self.transposed else "(B, T, H)"
            raise ValueError(f"`x` must have layout {layout} with H={self.d_model}, got shape {tuple(x.shape)}")
        u = x if self.transposed else x.transpose(1, 2)
        y = self.convolve(u) + self.D[:, None] * u
        y = self.dropout(self.activation(y)).transpose(1, 2)
        y = self.output(y)
        return (y.transpose(1, 2) if self.transposed else y), None
