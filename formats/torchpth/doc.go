// Package torchpth reads PyTorch state-dict files (.pth, .pt) such as the
// torchvision model weights (vgg16-397923af.pth), without Python and
// without executing anything.
//
// Three serializations are accepted:
//
//   - [FormatLegacy]: PyTorch 0.1.10 to 0.3. A sequence of pickles (the
//     magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a
//     sys_info dict, the state dict, then the list of storage keys),
//     followed, for each key of that list in order, by an 8-byte
//     little-endian element count and the raw little-endian elements.
//     Tensors are rebuilt by torch._utils._rebuild_tensor(storage,
//     storage_offset, size, stride).
//   - [FormatLegacyV2]: the same layout, written by PyTorch 0.4 to 1.5 or
//     with torch.save(..., _use_new_zipfile_serialization=False); tensors
//     are rebuilt by torch._utils._rebuild_tensor_v2(storage,
//     storage_offset, size, stride, requires_grad, backward_hooks).
//   - [FormatZip]: PyTorch 1.6 and later. A ZIP archive holding
//     <archive>/data.pkl (the state dict) and one entry
//     <archive>/data/<key> of raw little-endian elements per storage.
//
// In every format a storage is referenced from the pickle by the
// persistent id ('storage', torch.FloatStorage, key, location, numel) (the
// legacy formats append a view_metadata that is None or (view_key, offset,
// size)).
//
// # Safety
//
// A .pth file is a Python pickle, and unpickling can call any Python
// function. This package implements its own small pickle machine: it
// supports only the opcodes that state dicts use, it calls nothing, and it
// accepts only these globals:
//
//	collections.OrderedDict
//	torch._utils._rebuild_tensor, torch._utils._rebuild_tensor_v2,
//	torch._utils._rebuild_parameter
//	torch.FloatStorage, torch.DoubleStorage, torch.HalfStorage,
//	torch.BFloat16Storage, torch.LongStorage, torch.IntStorage,
//	torch.ShortStorage, torch.CharStorage, torch.ByteStorage,
//	torch.BoolStorage (as storage types only)
//
// Any other global (os.system, builtins.eval, ...) is rejected with an
// error wrapping [ErrUnsafe] that names it.
//
// # Allocation
//
// Every count read from the file (string lengths, storage sizes, tensor
// extents) is checked against the bytes that remain before anything is
// allocated, and a tensor's storage offset, sizes and strides must address
// elements inside its storage. [ReadStateDict] reads only the pickles and
// the storage headers; tensor data is read from the [io.ReaderAt] when
// [StateDict.Tensor] is called, straight into the float32 result.
package torchpth

import "errors"

// ErrFormat is wrapped by every error that reports a malformed file:
// truncated data, a bad pickle, a state dict that does not match the
// storages that follow it.
var ErrFormat = errors.New("torchpth: invalid format")

// ErrUnsafe is wrapped by the error returned for a pickle that references a
// global outside the allowlist (see the package documentation), or that
// tries to call a global that is only allowed as a type. Nothing is ever
// executed; the error names the global.
var ErrUnsafe = errors.New("torchpth: unsafe pickle")

// ErrUnsupported is wrapped by the error returned for a well-formed file
// that uses a feature this package does not implement: the tar format of
// PyTorch before 0.1.10, a big-endian file, a compressed storage, a pickle
// opcode that state dicts do not use, a value that is not a tensor, or a
// tensor dtype that does not convert to float32.
var ErrUnsupported = errors.New("torchpth: unsupported feature")

// ErrChecksum is wrapped by the error [OpenFile] and [ReadFile] return when
// the file name carries a SHA-256 prefix (name-<hex>.pth) that the file's
// contents do not match.
var ErrChecksum = errors.New("torchpth: checksum mismatch")

// Format is the serialization of a state-dict file.
type Format string

// The serializations [StateDict.Format] reports.
const (
	// FormatLegacy is the legacy pickle stream with
	// torch._utils._rebuild_tensor (PyTorch 0.1.10 to 0.3).
	FormatLegacy Format = "legacy-rebuild_tensor"
	// FormatLegacyV2 is the legacy pickle stream with
	// torch._utils._rebuild_tensor_v2 (PyTorch 0.4 to 1.5, or later with
	// _use_new_zipfile_serialization=False).
	FormatLegacyV2 Format = "legacy-v2"
	// FormatZip is the ZIP archive of PyTorch 1.6 and later.
	FormatZip Format = "zip"
)

// MaxDims is the largest number of dimensions a tensor may have.
const MaxDims = 64
