"""Recurrent cores written in plain PyTorch, used by :class:`~deepSTRF.models.audio.statenet.StateNet`.

- :mod:`deepSTRF.models.dependencies.lmu`: the Legendre Memory Unit, as the full cell with
  feedback (``LMU``) and as the feedback-free variant whose linear memory is computed for
  the whole sequence at once (``LMUFFT``);
- :mod:`deepSTRF.models.dependencies.s4`: the structured state-space block, as S4 with a
  diagonal-plus-low-rank state matrix (``mode="dplr"``, the default, deepSTRF 0.1.0's
  kernel, from Cauchy sums with a Woodbury correction at the roots of unity) or as the
  diagonal S4D (``mode="diag"``), both computed as an exact causal convolution.

Both take batch-first sequences ``(B, T, features)`` and are strictly causal. Mamba, the
third state-space core of StateNet, comes from the optional ``mambapy`` package (the
``mamba`` extra).
"""
