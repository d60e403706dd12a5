"""Utilities above the models: checkpoints on disk and on the Hub, plots, process tuning.

- :mod:`deepSTRF.utils.hub`: the public face of the checkpoint format
  (:mod:`deepSTRF.models.checkpoint`) behind ``save_pretrained`` / ``from_pretrained`` /
  ``push_to_hub``.
- Downloads, archives and dataset sources live beside the datasets
  (:mod:`deepSTRF.datasets.download`, :mod:`deepSTRF.datasets.archive`,
  :mod:`deepSTRF.datasets.sources`); the old ``deepSTRF.utils.*`` paths still work, with a
  ``DeprecationWarning``.
- :mod:`deepSTRF.utils.plotting`: STRFs, responses, scores, prefilter kernels and
  filterbanks (the ``plot`` extra).
- :mod:`deepSTRF.utils.performance`: :func:`~deepSTRF.utils.performance.tune_allocator`.
- :mod:`deepSTRF.utils.data`: deepSTRF 0.1.0's import path of
  :func:`~deepSTRF.datasets.neural_collate`.
"""
