// Package imagesets reads labelled image collections for image
// classification: VTAB-1K task folders as NOAH lays them out, image
// folders (one folder per class), MNIST-style idx files and CIFAR-10/100
// in both their binary and Python versions. It can also write any of them
// out as a VTAB-1K task folder.
//
// A Dataset has a Train and a Test Split. A Split is a list of labels with
// a way to get each image as an images.Image (8-bit RGB): sets read from
// image files hold only the paths and decode an image each time it is
// asked for (images.Decode, with its size limits), while idx and CIFAR
// sets are decoded into memory once, when they are opened (their header
// counts are checked against the file sizes before anything is
// allocated). Images are returned as fresh copies, and a Split may be read
// from several goroutines at once.
//
// VTAB-1K (OpenVTAB): <root>/<task>/ holds train800.txt, val200.txt,
// train800val200.txt and test.txt, lines "relative/path label" with paths
// relative to the task folder, as NOAH's lib/datasets.py reads them
// (NOAH splits at the first space; this package takes the label after the
// last run of blanks, so paths may hold spaces). The final protocol trains
// on train800val200 and tests on test; otherwise it trains on train800 and
// tests on val200. VTABTasks lists the 19 tasks under NOAH's folder names
// (cifar100, oxford_pet, ...) with their class counts; classes are named
// "0", "1", ... unless the task folder has a classes.txt (one name a line,
// in label order), which ExportVTAB1K writes and pcx reads (VTAB-1K's own
// folders have none).
//
// Image folders (OpenFolder): <dir>/train/<class>/... and
// <dir>/test/<class>/... when both exist, otherwise <dir>/<class>/...
// split per class into train and test by a seeded shuffle. Files ending
// .png, .jpg or .jpeg (any case) are read, in sub-folders too; hidden
// files and folders are skipped. Classes are the sorted folder names.
//
// idx (OpenIDX): train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each possibly
// gzipped (recognised by its magic bytes, with or without a .gz name).
// Grey images become RGB by replicating the grey level. The classes are
// Fashion-MNIST's names when the folder's path mentions "fashion" (in any
// case) or OpenIDXNamed says so, and the digits "0" to "9" otherwise;
// labels must be below 10.
//
// CIFAR (OpenCIFAR): the binary version (data_batch_1.bin to
// data_batch_5.bin, test_batch.bin and batches.meta.txt for CIFAR-10;
// train.bin, test.bin, whose records carry a coarse and a fine label, of
// which the fine one is used, and fine_label_names.txt for CIFAR-100) and
// the Python version (pickled dicts data_batch_1 to data_batch_5 and
// test_batch with data, a uint8 N×3072 array, and labels, and batches.meta
// with label_names; CIFAR-100's train, test and meta with fine_labels and
// fine_label_names). Pickles are read with pcx's vetted unpickler
// (datasets.Unpickle): only numpy's array machinery is recognised, and
// nothing in a pickle is executed.
//
// Unlabelled images (OpenUnlabelled), for pretraining: every .png, .jpg,
// .jpeg and .gif file under a folder, recursively and in sorted order,
// whatever the folders mean; a seeded share is held out as Test and every
// label is 0.
//
// ExportVTAB1K writes PNGs and the four list files; Open recognises which
// of these layouts a folder holds.
package imagesets
