"""Linear encoding models that compose with scikit-learn, and the workflow around them.

Needs the ``sklearn`` extra (``pip install 'deepSTRF[sklearn]'``).

- :class:`RidgeSTRF`: ridge STRF/TRF, penalty per output chosen by CV over trials;
- :class:`BandedRidgeSTRF`: one penalty per band of features;
- :func:`cross_validate_ridge`: nested CV in one call, per-trial and per-output scores;
- :class:`ModelEstimator`: any deepSTRF model trained by the Fitter, behind the same interface;
- :func:`from_mat`: arrays from MATLAB v5 and v7.3 files;
- :class:`LaggedMoments`: streamed lagged covariance (memory independent of recording length).

Example:
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((6, 200, 3)), rng.standard_normal((6, 200))    # 6 trials (T, F)
    >>> search = GridSearchCV(RidgeSTRF(n_lags=4), {"n_lags": [2, 4]}, cv=3).fit(X, y)
    >>> sorted(search.best_params_)
    ['n_lags']
"""

from deepSTRF.estimators.banded import BandedRidgeSTRF
from deepSTRF.estimators.crossval import RidgeCVResult, cross_validate_ridge
from deepSTRF.estimators.matfile import from_mat
from deepSTRF.estimators.model import ModelEstimator
from deepSTRF.estimators.moments import LaggedMoments, TrialMoments
from deepSTRF.estimators.ridge import RidgeSTRF

__all__ = [
    "BandedRidgeSTRF",
    "LaggedMoments",
    "ModelEstimator",
    "RidgeCVResult",
    "RidgeSTRF",
    "TrialMoments",
    "cross_validate_ridge",
    "from_mat",
]
