// Package probe measures how good frozen features are: a linear classifier
// fitted on a labelled training set's features and scored on a test set's.
//
// SVM is scikit-learn's LinearSVC with its defaults, the classifier of
// Point-MAE's SVM validation (tools/runner_pretrain.py, evaluate_svm):
// liblinear's dual coordinate descent for the L2-regularised squared-hinge
// loss (solver L2R_L2LOSS_SVC_DUAL), one-vs-rest, C = 1, the intercept
// learned as the weight of an extra feature of value 1 (regularised with
// the others, intercept_scaling 1), stopping tolerance 1e-4 on the
// projected gradient's spread and at most 1,000 passes per sub-problem.
// liblinear visits the samples in a random order each pass; SVM draws that
// order from pcx's seeded streams (internal/rng), so a fit repeats bit for
// bit, and lands within the solver's tolerance of scikit-learn's (which
// draws it from its own generator).
//
// Features are row-major float32 (what pcx's models output); the solver
// computes in float64, as liblinear does.
package probe
