"""Recurrent cores written in plain PyTorch, used by :class:`~deepSTRF.models.audio.statenet.StateNet`.

- :mod:`deepSTRF.models.dependencies.lmu`: the Legendre Memory Unit, as the full cell with
  feedback (``LMU``) and as the feedback-free variant whose linear memory is computed for
  the whole sequence at once (``LMUFFT``);
- :mod:`deepSTRF.models.dependencies.s4`: a diagonal structured state-space block (S4D),
  computed as an exact causal convolution.

Both take batch-first sequences ``(B, T, features)`` and are strictly causal. Mamba, the
third state-space core of StateNet, comes from the optional ``mambapy`` package (the
``mamba`` extra).
"""
