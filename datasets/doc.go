// Package datasets loads the point-cloud classification data sets that
// Point-MAE and DAPT fine-tune on, plus pcx's synthetic set and any folder of
// clouds or meshes, into one in-memory form: a Dataset with a train and a
// test Split, each a list of samples (flat xyz, three float32 per point,
// optional normals) with integer labels indexing Dataset.Classes.
//
// # Layouts
//
// ScanObjectNN (LoadScanObjectNN). HDF5 files with a float dataset "data"
// (N×P×3, P = 2048 in the release) and an integer dataset "label" (N or
// N×1). Other datasets in the file (the release has "mask") are ignored.
// Three variants, each a pair of files:
//
//	objbg    main_split/{training,test}_objectdataset.h5
//	objonly  main_split_nobg/{training,test}_objectdataset.h5
//	hardest  main_split/{training,test}_objectdataset_augmentedrot_scale75.h5  (PB_T50_RS)
//
// The root is the folder holding main_split/ and main_split_nobg/; it may
// also be main_split/ or main_split_nobg/ itself, or any folder holding the
// variant's two files. The 15 class names are ScanObjectNN's, unless a
// shape_names.txt (one name a line) beside the files names them, as Export
// writes. Points are used as stored: no normalisation, as in Point-MAE.
//
// ModelNet40 (LoadModelNet40) in any of three layouts, detected from the
// root (or a modelnet40_normal_resampled/ or ModelNet40/ folder inside it):
//
//	dat   modelnet40_{train,test}_8192pts_fps.dat: Point-MAE's cache, a Python
//	      pickle of [list of float32 arrays P×6 (xyz, normals), list of int32
//	      arrays of shape (1,)]. Decoded without running any Python: only
//	      numpy arrays, dtypes and scalars, lists, tuples and numbers are
//	      accepted (see ReadModelNetDat).
//	txt   modelnet40_normal_resampled/: modelnet40_shape_names.txt (one class
//	      a line), modelnet40_{train,test}.txt (items such as airplane_0001;
//	      the class is the part before the last "_") and <class>/<item>.txt
//	      files of "x,y,z,nx,ny,nz" lines.
//	mesh  ModelNet40/<class>/{train,test}/*.off: the original meshes, sampled
//	      to points with pointcloud.SampleSurface, with a seed fixed per file.
//
// As Point-MAE does, each ModelNet sample is cut to the first
// ModelNetOptions.Points points (the .dat points are in farthest-point
// order, so that is a farthest-point subsample) and then normalised: centred
// on its mean and scaled into the unit sphere (pointcloud.Normalize).
//
// Folders (LoadFolder): <root>/<class>/{train,test}/<files> in any format that
// pointcloud.ReadFile reads. Meshes are sampled to FolderOptions.Points points
// (DefaultMeshPoints when 0). Clouds with more than FolderOptions.Points
// points (when it is set) are cut to a random subset of that size, fixed per
// file, keeping the file's point order; other clouds are used as they are,
// so samples may differ in size. Classes are the sub-folders in name order,
// or the order of <root>/shape_names.txt where that exists.
//
// ShapeNet-55 (LoadShapeNet55), Point-MAE's pretraining set, as Point-MAE
// lays it out: ROOT/ShapeNet-55/{train,test}.txt list files of
// ROOT/shapenet_pc/ (lines such as 02691156-1a04e3eab45ca15dd86060f189eb133.npy,
// the taxonomy id before the "-"), each an 8192×3 float32 .npy array. As
// Point-MAE's ShapeNet data set does, each cloud is cut to a random subset
// of ShapeNetOptions.Points points (1024) and normalised (pc_norm); pcx
// draws the subset once per file, Point-MAE anew at every read. Labels are
// the taxonomy ids (55 classes); pretraining ignores them.
//
// Unlabelled folders (LoadUnlabelled): every file under a folder, at any
// depth, in a format pointcloud.ReadFile reads, handled as LoadFolder
// handles its files, as one class; a seeded share (DefaultHoldOut, 10%)
// is held out as the test split. Open normalises their samples (files
// come in any units) unless Options.Normalize says otherwise. Open names it "unlabelled:DIR"; Detect
// never picks it.
//
// npy (LoadNPY): {train,test}_data.npy (float, samples × points × 3),
// {train,test}_label.npy (integers) and shape_names.txt, as Export writes.
//
// Open resolves a spec such as "synth", "scanobjectnn:/data/ScanObjectNN" or
// a bare path whose layout Detect recognises, for the command line. Export
// writes a Dataset back out as h5 (ScanObjectNN layout), npy or ply files
// that Open reads again.
//
// Loaders read independent files (text trees, mesh trees, folders, the
// samples of a .dat file) on runtime.GOMAXPROCS workers; the result never
// depends on the number of workers. Every error names the file and the
// problem; a malformed file gives an error, not a panic or a hang. HDF5
// files are read by the pure-Go github.com/scigolib/hdf5, whose panics are
// turned into errors and whose known over-allocation on a lying header is
// checked for before it reads; see ReadH5 for its limits. ModelNet .dat
// pickles pass nn/state's VetPickle first, which bounds the unpickler's
// memory to a few times the file's size.
package datasets
