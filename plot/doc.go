// Package plot draws the figures of a pcx experiment as PNG files: the
// routing statistics of the Adapter-X paper's Fig. 4 (RoutingShares,
// GateHeatmap), training curves (Curves), t-SNE maps of features
// (TSNE, Scatter; the paper's Fig. 3) and masked-autoencoder
// reconstructions: point clouds in three views (PointReconstructions),
// images as a grid (ReconstructionImages).
//
// It takes plain numbers (and, for the grid, 8-bit images) and knows
// nothing about models. Drawing is done
// with gonum.org/v1/plot and its embedded Liberation fonts, so no system
// font is needed. Files are written atomically (a temporary file renamed
// over the path).
package plot
