"""Utilities: checkpoints on disk and on the Hub, downloads and archives, plots, process tuning.

- :mod:`deepSTRF.utils.hub`: the checkpoint format behind ``save_pretrained`` /
  ``from_pretrained`` / ``push_to_hub``.
- :mod:`deepSTRF.utils.download`, :mod:`deepSTRF.utils.archive`,
  :mod:`deepSTRF.utils.sources`: the data cache, verified and resumable downloads, safe
  archive extraction, and the sources of the public datasets.
- :mod:`deepSTRF.utils.plotting`: STRFs, responses, scores, prefilter kernels and
  filterbanks (the ``plot`` extra).
- :mod:`deepSTRF.utils.performance`: :func:`~deepSTRF.utils.performance.tune_allocator`.
"""
