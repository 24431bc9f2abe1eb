#!/usr/bin/python3
"""Golden fixture for pcx's probe package: scikit-learn's LinearSVC (the
classifier of Point-MAE's SVM validation, tools/runner_pretrain.py
evaluate_svm: LinearSVC() with its defaults) fitted on small labelled
feature sets.

For each case it stores the features (quantised to multiples of 1/64 and
written as integers, so that Go reads exactly the values sklearn saw), the
labels, and sklearn's results: coef_, intercept_, n_iter_, the test
decision values, predictions and accuracy with the defaults
(random_state=0); the same with a tolerance of 1e-8 (the optimum itself,
which every correct solver of the problem approaches); and the spread of
the default-tolerance solutions over random_state 1..4 (how far the same
solver lands from itself with another coordinate order).

Run: /usr/bin/python3 scripts/golden_probe.py  (writes testdata/golden/probe_svm.json)
"""
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.svm import LinearSVC

OUT = os.path.join(os.path.dirname(__file__), "..", "testdata", "golden", "probe_svm.json")
SCALE = 64  # features are q / SCALE for integers q


def blobs(rng, classes, d, n_train, n_test, spread, labels=None):
    if labels is None:
        labels = list(range(classes))
    centres = rng.normal(size=(len(labels), d)) * spread

    def draw(n):
        y = np.array([labels[i % len(labels)] for i in range(n)])
        rng.shuffle(y)
        idx = np.array([labels.index(v) for v in y])
        x = centres[idx] + rng.normal(size=(n, d))
        return np.round(x * SCALE).astype(np.int64), y

    qa, ya = draw(n_train)
    qb, yb = draw(n_test)
    return qa, ya, qb, yb


def fit(xa, ya, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LinearSVC(dual=True, **kw).fit(xa, ya)


def case(name, rng, classes, d, n_train, n_test, spread, labels=None):
    qa, ya, qb, yb = blobs(rng, classes, d, n_train, n_test, spread, labels)
    xa, xb = qa.astype(np.float64) / SCALE, qb.astype(np.float64) / SCALE
    m = fit(xa, ya, random_state=0)
    tight = fit(xa, ya, random_state=0, tol=1e-8, max_iter=100000)
    sc = 0.0
    for rs in range(1, 5):
        o = fit(xa, ya, random_state=rs)
        sc = max(sc, float(np.max(np.abs(o.coef_ - m.coef_))), float(np.max(np.abs(o.intercept_ - m.intercept_))))
    pred = m.predict(xb)
    return {
        "name": name,
        "d": d,
        "train_q": qa.reshape(-1).tolist(), "train_y": ya.tolist(),
        "test_q": qb.reshape(-1).tolist(), "test_y": yb.tolist(),
        "classes": m.classes_.tolist(),
        "coef": m.coef_.reshape(-1).tolist(), "intercept": m.intercept_.tolist(),
        "n_iter": int(m.n_iter_),
        "decision": m.decision_function(xb).reshape(-1).tolist(),
        "pred": pred.tolist(),
        "accuracy": float(np.mean(pred == yb)),
        "tight_coef": tight.coef_.reshape(-1).tolist(), "tight_intercept": tight.intercept_.tolist(),
        "tight_n_iter": int(tight.n_iter_),
        "tight_pred": tight.predict(xb).tolist(),
        "seed_spread": sc,
    }


def main():
    rng = np.random.default_rng(15)
    cases = [
        case("separable", rng, 4, 32, 160, 80, 3.0),
        case("overlap", rng, 5, 48, 200, 100, 0.35),
        case("binary", rng, 2, 32, 120, 60, 0.4),
        case("labels", rng, None, 40, 150, 75, 0.6, labels=[3, 7, 12]),
    ]
    out = {"sklearn": sklearn.__version__, "scale": SCALE,
           "settings": "LinearSVC(dual=True) defaults: C=1, squared_hinge, l2, ovr, tol=1e-4, max_iter=1000, intercept_scaling=1",
           "cases": cases}
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    for c in cases:
        print(c["name"], "acc", c["accuracy"], "n_iter", c["n_iter"], "tight", c["tight_n_iter"], "spread", c["seed_spread"])
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
