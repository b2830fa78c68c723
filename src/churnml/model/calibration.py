"""Probability calibrators: isotonic and Platt (sigmoid), fitted on raw probabilities.

Both take raw probabilities (the booster's sigmoid output) and return calibrated ones.
:func:`fit_calibrator` with ``method="auto"`` picks between them (or neither) by cross-validated
Brier score on the data it is given (which must be rows the booster did not train on).
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-6
#: pseudo-rows at the overall churn rate added to every isotonic step
PRIOR_ROWS = 2
#: weight of the raw probability blended into isotonic output (keeps the ranking strict)
TIE_BREAK = 1e-6


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class IsotonicCalibrator:
    """Monotone step function from raw to calibrated probability (clipped to the fitted range),
    each step's rate shrunk towards the overall rate so that no account is scored a certain 0 or 1.

    Examples
    --------
    >>> cal = IsotonicCalibrator().fit([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1])
    >>> cal.predict([0.2, 0.8]).round(2).tolist()  # two rows per step: (0 + 1) / 4, (2 + 1) / 4
    [0.25, 0.75]
    >>> bool(cal.predict([0.2])[0] < cal.predict([0.3])[0])  # same step, order kept
    True
    """

    method = "isotonic"

    def fit(self, p, y):
        from sklearn.isotonic import IsotonicRegression

        p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
        first = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        # each step's rate shrunk towards the overall rate by PRIOR_ROWS pseudo-rows:
        # (churned + PRIOR_ROWS * rate) / (rows + PRIOR_ROWS). A top step of 20 rows that all
        # churned reads about 0.91, not a certain 1.0, and an empty bottom step stays near 0
        # without being 0. A second isotonic fit pools steps the smoothing left out of order.
        _, step, rows = np.unique(first.predict(p), return_inverse=True, return_counts=True)
        churned = np.bincount(step, weights=y)
        prior = PRIOR_ROWS * y.mean()
        smoothed = ((churned + prior) / (rows + PRIOR_ROWS))[step]
        self.isotonic_ = IsotonicRegression(out_of_bounds="clip").fit(p, smoothed)
        return self

    def predict(self, p):
        p = np.asarray(p, dtype=float)
        # a convex blend with a millionth of the raw probability breaks the step function's ties,
        # so the calibrated scores rank accounts exactly as the booster does
        return (1 - TIE_BREAK) * self.isotonic_.predict(p) + TIE_BREAK * np.clip(p, 0, 1)


class SigmoidCalibrator:
    """Platt scaling: ``1 / (1 + exp(-(a * logit(p) + b)))`` fitted by maximum likelihood.

    Uses Platt's smoothed targets, so a perfectly separated sample does not blow up ``a``.

    Examples
    --------
    >>> cal = SigmoidCalibrator().fit([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1])
    >>> bool(cal.predict([0.9])[0] > cal.predict([0.1])[0])
    True
    """

    method = "sigmoid"

    def fit(self, p, y):
        from scipy.optimize import minimize

        z = _logit(p)
        y = np.asarray(y, dtype=float)
        n_pos, n_neg = y.sum(), len(y) - y.sum()
        t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

        def loss(ab):
            s = ab[0] * z + ab[1]
            # log(1 + exp(s)) - t * s, computed stably; gradient alongside
            value = np.logaddexp(0, s) - t * s
            d = 1 / (1 + np.exp(-s)) - t
            return value.sum(), np.array([(d * z).sum(), d.sum()])

        start = np.array([1.0, 0.0])
        result = minimize(loss, start, jac=True, method="L-BFGS-B")
        self.a_, self.b_ = (float(v) for v in result.x)
        return self

    def predict(self, p):
        return 1 / (1 + np.exp(-(self.a_ * _logit(p) + self.b_)))


CALIBRATORS = {"isotonic": IsotonicCalibrator, "sigmoid": SigmoidCalibrator}


def fit_calibrator(p, y, *, method="auto", n_splits=5, random_state=0):
    """Fit a calibrator on held-out raw probabilities ``p`` and labels ``y``.

    Parameters
    ----------
    p, y : array-like
        Raw probabilities and 0/1 labels of rows the booster did not train on.
    method : {"auto", "isotonic", "sigmoid"}
        "auto" scores both by ``n_splits``-fold cross-validated Brier score on ``(p, y)`` and
        keeps the better one (sigmoid wins ties and small samples: it has two parameters), or
        none at all when the raw probabilities score better than both.
    n_splits : int
    random_state : int

    Returns
    -------
    (calibrator, method)
        The calibrator refitted on all of ``(p, y)`` and the name of the method chosen;
        ``(None, "none")`` when "auto" finds that no calibration is better.
    """
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=int)
    if method != "auto":
        if method not in CALIBRATORS:
            raise ValueError(
                f"calibration must be 'auto', 'isotonic' or 'sigmoid', but got {method!r}"
            )
        return CALIBRATORS[method]().fit(p, y), method
    scores = cross_validated_brier(p, y, n_splits=n_splits, random_state=random_state)
    best = "isotonic" if scores.get("isotonic", np.inf) < scores["sigmoid"] else "sigmoid"
    if scores["none"] < scores[best]:
        return None, "none"  # the raw probabilities are already the better estimate out of fold
    return CALIBRATORS[best]().fit(p, y), best


def cross_validated_brier(p, y, *, n_splits=5, random_state=0) -> dict:
    """Out-of-fold Brier score of each calibrator (and of the raw probabilities, key ``"none"``)."""
    from sklearn.model_selection import StratifiedKFold

    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=int)
    minority = int(min(y.sum(), len(y) - y.sum()))
    out = {"none": float(np.mean((p - y) ** 2))}
    if minority < 2:
        out["sigmoid"] = out["none"]
        return out
    k = min(n_splits, minority)
    folds = StratifiedKFold(k, shuffle=True, random_state=random_state).split(p, y)
    folds = list(folds)
    for name, cls in CALIBRATORS.items():
        if name == "isotonic" and minority < 20:
            continue  # a step function on a handful of positives overfits
        oof = np.empty_like(p)
        for train, test in folds:
            oof[test] = cls().fit(p[train], y[train]).predict(p[test])
        out[name] = float(np.mean((oof - y) ** 2))
    return out
