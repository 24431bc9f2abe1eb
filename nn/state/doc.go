// Package state reads and writes model state: named tensors in safetensors
// files and in PyTorch checkpoints (.pth, .pt), such as the pre-trained
// Point-MAE and DAPT weights. It is independent of any tensor library: a
// Tensor is a shape, an element type and its values as float32 (for float
// types) or int64 (for integers and bools), and a Dict is a flat, ordered
// name → tensor map with optional string metadata.
//
// # Safetensors
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON mapping each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} (plus an optional "__metadata__" object of strings), then
// the data buffer, to which the offsets are relative. DecodeSafetensors
// validates the whole header before reading data: the length against the
// file size, the JSON, each entry (known dtype, shape, end - begin =
// elements × dtype size) and the offsets together, which must tile the
// buffer exactly. WriteSafetensors writes the layout of the reference
// implementation (tensors sorted by name, header padded with spaces to a
// multiple of 8) through a temporary file that is synced and renamed, so a
// crash never leaves a partial file. It records the file's SHA-256 in the
// metadata (ChecksumKey), which DecodeSafetensors checks, so a file changed
// or damaged since is an error matching ErrChecksum, not different weights.
//
// # PyTorch checkpoints
//
// torch.save writes a pickle of the object. Tensors are pickled as calls
// to torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...),
// where storage is a persistent id ("storage", torch.FloatStorage, key,
// location, element count) for raw data kept outside the pickle. Since
// torch 1.6 the file is a zip archive: <dir>/data.pkl is the pickle and
// <dir>/data/<key> each storage (the folder name varies). The older legacy
// format is a stream of pickles — a magic number, the protocol version
// 1001, sys_info, the object, the list of storage keys — followed by each
// storage as an int64 element count and its elements. ReadPTH reads both,
// decodes each tensor through its storage offset and strides (transposed
// views, slices, storages shared by several tensors), converts float16,
// bfloat16 and float64 to float32 and integer types to int64, and returns
// the object as a tree of Go values (see DecodePTH). StateDict takes the
// flat state dict out of that tree and StripPrefixes renames its keys as
// Point-MAE does.
//
// WritePTH (and EncodePTH) write the zip format as torch.save does, so
// that torch.load reads the file: a protocol-2 pickle of a tree of Go
// values (state dicts, tensors, dicts, lists, tuples, str, int, float,
// bool, None) as archive/data.pkl, each tensor's storage as
// archive/data/<key>, archive/byteorder and archive/version. With
// DecodePTH it makes official-format checkpoints that round-trip:
// Point-MAE's {"base_model": state dict, "epoch": n} and MAE's {"model":
// state dict, "epoch": n}.
//
// # Safety
//
// A pickle is a program: unpickling with Python runs any function it names,
// so a checkpoint from elsewhere can run code. This package never runs
// pickled code. Pickles are interpreted by github.com/nlpodyssey/gopickle,
// with Go implementations of only these globals:
//
//	torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter
//	torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage
//	torch.Size, collections.OrderedDict
//	numpy.core.multiarray.scalar (and numpy._core...), numpy.dtype
//	_codecs.encode (latin-1 only), builtins.bytes (empty only)
//	argparse.Namespace (read as inert data: a Namespace)
//
// The numpy globals cover the numpy scalars that Point-MAE keeps in its
// metrics; _codecs.encode and bytes are how pickle protocol 2, torch's
// default, stores bytes; MAE's checkpoints keep their command-line
// arguments as an argparse.Namespace, whose attributes are read as a dict
// and never acted on. Any other global, such as os.system or
// builtins.eval, makes the load fail with an error that wraps
// ErrForbiddenGlobal and names it. That includes whole pickled nn.Modules
// and the like: save the state_dict() instead.
//
// Before gopickle sees a pickle, a pre-pass (VetPickle, which the datasets
// package uses for ModelNet .dat pickles too) walks its opcodes and simulates
// the stack. It checks every global name (also those built on the stack for
// STACK_GLOBAL), every length against the bytes present, and the stack and
// MARK discipline, and estimates what unpickling will cost. So malformed or
// hostile input gives an error, never a panic or a hang, and memory stays
// proportional to the input: pickles are limited to 64 MiB, the stack to
// 2^18 values, MARKs to 2^16 deep, text numbers to 1024 digits, unpickling
// to a fixed multiple of the pickle's size, storages to what the file holds,
// and tensors together to a few times the elements of the file (a tensor
// that repeats one storage element many times, with stride 0, counts in
// full). Every tensor's reach (offset + Σ (size-1)·stride) is checked
// against its storage, every storage against its record or the bytes left
// in the file, and object trees may not contain themselves or nest deeper
// than 256 levels.
package state
