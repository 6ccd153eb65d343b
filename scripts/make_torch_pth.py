#!/usr/bin/python3
"""Writes the test files of formats/torchpth into formats/torchpth/testdata.

Run with Debian's python3-torch (not a pyenv python):

    /usr/bin/python3 scripts/make_torch_pth.py

The "vgg16mini" state dict has the keys of torchvision's VGG16
(features.0.weight ... classifier.6.bias) with reduced widths and
deterministic, exactly representable float32 weights. classifier.6.weight
is a transposed (non-contiguous) view that shares one storage with
classifier.6.bias, which starts at storage offset 320.

It is written in three serializations:

  vgg16mini-zip.pth        torch.save default (PyTorch >= 1.6 zip archive)
  vgg16mini-legacy-v2.pth  torch.save(..., _use_new_zipfile_serialization=False):
                           legacy pickle stream, torch._utils._rebuild_tensor_v2
  vgg16mini-<sha8>.pth     legacy pickle stream as PyTorch 0.2/0.3 under Python 2
                           wrote it (torchvision's vgg16-397923af.pth): written by
                           hand below with torch._utils._rebuild_tensor (four
                           arguments), Python 2 byte strings (SHORT_BINSTRING),
                           OrderedDict reduced from a list of [key, value] lists,
                           storage keys in sorted order unlike the tensor order.
                           The name carries the first 8 hex digits of its SHA-256.

and every file is checked with torch.load. Also written:

  dtypes.pth                zip with float16, bfloat16, float64 and int64 tensors
  wrong-hash-deadbeef.pth   a copy of dtypes.pth whose name has a wrong SHA-256 prefix
  malicious-os-system.pth   a pickle calling os.system (never loaded here)
  malicious-eval-zip.pth    a zip archive whose data.pkl calls builtins.eval
  vgg16mini.json, dtypes.json  sidecars: key order, dtype, shape, first values,
                           sum and the SHA-256 of the C-order little-endian
                           float32 data of every tensor.
"""

import collections
import hashlib
import io
import json
import os
import pickle
import pickletools
import shutil
import struct
import sys
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "formats", "torchpth", "testdata")

# VGG16's feature indices with reduced widths ("M" is a max pool).
CFG = [4, 4, "M", 8, 8, "M", 8, 8, 8, "M", 16, 16, 16, "M", 16, 16, 16, "M"]


def value(k, i):
    """An exactly representable float32 for element i of tensor number k."""
    return float(((i * 37 + k * 101) % 255) - 127) / 64.0


def filled(k, shape):
    n = 1
    for d in shape:
        n *= d
    return torch.tensor([value(k, i) for i in range(n)], dtype=torch.float32).reshape(shape)


def vgg16mini():
    sd = collections.OrderedDict()
    k = 0
    cin, idx = 3, 0
    for c in CFG:
        if c == "M":
            idx += 1
            continue
        sd["features.%d.weight" % idx] = filled(k, (c, cin, 3, 3)); k += 1
        sd["features.%d.bias" % idx] = filled(k, (c,)); k += 1
        cin = c
        idx += 2  # Conv2d, ReLU
    assert idx == 31, idx  # the last pool of VGG16 is features.30
    sd["classifier.0.weight"] = filled(k, (32, 16)); k += 1
    sd["classifier.0.bias"] = filled(k, (32,)); k += 1
    sd["classifier.3.weight"] = filled(k, (32, 32)); k += 1
    sd["classifier.3.bias"] = filled(k, (32,)); k += 1
    # One storage of 330 floats: a transposed (32, 10) matrix and a bias at offset 320.
    buf = filled(k, (330,))
    sd["classifier.6.weight"] = buf[:320].view(32, 10).t()
    sd["classifier.6.bias"] = buf[320:]
    assert not sd["classifier.6.weight"].is_contiguous()
    assert sd["classifier.6.bias"].storage_offset() == 320
    # What nn.Module.state_dict attaches (pickled with a BUILD opcode).
    sd._metadata = collections.OrderedDict(
        [("", {"version": 1}), ("features", {"version": 1}), ("classifier", {"version": 1})])
    return sd


def dtypes_dict():
    sd = collections.OrderedDict()
    sd["half"] = torch.tensor([[0.5, -1.25, 65504.0], [6.1035156e-05, -0.0, 3.0]], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.0, -2.5, 3.140625, 1e30], dtype=torch.bfloat16)
    sd["double"] = torch.tensor([[0.1, -1.0 / 3.0], [1e-300, 2.5]], dtype=torch.float64)
    sd["scalar"] = torch.tensor(1.5, dtype=torch.float32)
    sd["empty"] = torch.zeros((0, 3), dtype=torch.float32)
    sd["num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    return sd


def sidecar(sd):
    out = {"keys": list(sd.keys()), "tensors": {}}
    for name, t in sd.items():
        entry = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)}
        if t.dtype.is_floating_point:
            f = t.to(torch.float32).contiguous().reshape(-1)
            entry["first"] = [float(x) for x in f[:4].tolist()]
            entry["sum"] = float(f.to(torch.float64).sum().item())
            entry["sha256"] = hashlib.sha256(f.numpy().tobytes()).hexdigest()
        out["tensors"][name] = entry
    return out


def check_same(path, want):
    got = torch.load(path)
    assert list(got.keys()) == list(want.keys()), (path, list(got.keys()))
    for name, t in want.items():
        g = got[name]
        assert g.dtype == t.dtype and g.shape == t.shape, (path, name, g.dtype, g.shape)
        assert torch.equal(g, t), (path, name)
        assert g.stride() == t.stride() and g.storage_offset() == t.storage_offset(), (path, name)
    return got


# ---- Python 2 / PyTorch 0.3 style legacy stream, written by hand ----

MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
PROTOCOL_VERSION = 1001


class Py2Pickler(pickle._Pickler):
    """Protocol 2 pickler that writes str as Python 2 byte strings
    (SHORT_BINSTRING/BINSTRING), reduces OrderedDict as Python 2 did and
    tensors as PyTorch 0.3 did: torch._utils._rebuild_tensor(storage,
    storage_offset, size, stride) over ('storage', torch.FloatStorage, key,
    location, size, view_metadata) persistent ids."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, f, keys=None):
        super().__init__(f, protocol=2)
        self.keys = keys
        self.storages = {}

    def save_py2_str(self, obj):
        b = obj.encode("ascii")
        if len(b) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(b)]) + b)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(b)) + b)
        self.memoize(obj)

    dispatch[str] = save_py2_str

    def persistent_id(self, obj):
        if self.keys is None or not isinstance(obj, torch.storage.TypedStorage):
            return None
        key = self.keys[obj.data_ptr()]
        self.storages[key] = obj
        return ("storage", torch.FloatStorage, key, "cpu", obj.size(), None)

    def reducer_override(self, obj):
        if type(obj) is collections.OrderedDict:
            return (collections.OrderedDict, ([[k, v] for k, v in obj.items()],))
        if isinstance(obj, torch.Tensor):
            assert obj.dtype == torch.float32
            return (torch._utils._rebuild_tensor,
                    (obj.storage(), obj.storage_offset(), tuple(obj.size()), obj.stride()))
        return NotImplemented


def dump_py2(f, obj, keys=None):
    p = Py2Pickler(f, keys)
    p.dump(obj)
    return p.storages


def write_legacy_rebuild(path, sd):
    # Storage keys look like PyTorch 0.3's str(root._cdata). They are assigned
    # in reverse order so that the sorted key list (the data order) differs
    # from the order in which the pickle mentions the storages.
    ptrs = []
    for t in sd.values():
        p = t.storage().data_ptr()
        if p not in ptrs:
            ptrs.append(p)
    keys = {p: str(94800000000000 + 4096 * (len(ptrs) - i)) for i, p in enumerate(ptrs)}
    f = io.BytesIO()
    dump_py2(f, MAGIC_NUMBER)
    dump_py2(f, PROTOCOL_VERSION)
    dump_py2(f, dict(protocol_version=PROTOCOL_VERSION, little_endian=True,
                     type_sizes=dict(short=2, int=4, long=8)))
    storages = dump_py2(f, sd, keys)
    order = sorted(storages)
    dump_py2(f, order)
    for key in order:
        s = storages[key]
        whole = torch.tensor([], dtype=torch.float32).set_(s.untyped(), 0, (s.size(),), (1,))
        f.write(struct.pack("<q", s.size()))
        f.write(whole.numpy().astype("<f4").tobytes())
    with open(path, "wb") as out:
        out.write(f.getvalue())


# ---- malicious files (written, never loaded) ----

class OsSystem:
    def __reduce__(self):
        return (os.system, ("touch /tmp/capa-torchpth-pwned",))


def write_malicious(dir):
    with open(os.path.join(dir, "malicious-os-system.pth"), "wb") as f:
        f.write(pickle.dumps(OsSystem(), protocol=2))
    # builtins.eval("...") as the object of a zip archive's data.pkl.
    src = b"__import__('os').system('touch /tmp/capa-torchpth-pwned')"
    pkl = (pickle.PROTO + b"\x02" + pickle.GLOBAL + b"builtins\neval\n" +
           pickle.BINUNICODE + struct.pack("<I", len(src)) + src +
           pickle.TUPLE1 + pickle.REDUCE + pickle.STOP)
    pickletools.dis(pkl, io.StringIO())  # well formed
    with zipfile.ZipFile(os.path.join(dir, "malicious-eval-zip.pth"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.endswith(".pth") or name.endswith(".json"):
            os.remove(os.path.join(OUT, name))

    sd = vgg16mini()
    p = os.path.join(OUT, "vgg16mini-zip.pth")
    torch.save(sd, p)
    assert zipfile.is_zipfile(p)
    check_same(p, sd)

    p = os.path.join(OUT, "vgg16mini-legacy-v2.pth")
    torch.save(sd, p, _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(p)
    assert b"_rebuild_tensor_v2" in open(p, "rb").read()
    check_same(p, sd)

    tmp = os.path.join(OUT, "vgg16mini-tmp.pth")
    write_legacy_rebuild(tmp, sd)
    raw = open(tmp, "rb").read()
    assert b"_rebuild_tensor\n" in raw and b"_rebuild_tensor_v2" not in raw
    got = check_same(tmp, sd)
    assert got["classifier.6.weight"].storage().data_ptr() == got["classifier.6.bias"].storage().data_ptr()
    sha = hashlib.sha256(raw).hexdigest()
    p = os.path.join(OUT, "vgg16mini-%s.pth" % sha[:8])
    os.rename(tmp, p)
    print("legacy _rebuild_tensor file:", os.path.basename(p), "sha256", sha)

    with open(os.path.join(OUT, "vgg16mini.json"), "w") as f:
        json.dump(sidecar(sd), f, indent=1)

    dsd = dtypes_dict()
    p = os.path.join(OUT, "dtypes.pth")
    torch.save(dsd, p)
    check_same(p, dsd)
    shutil.copyfile(p, os.path.join(OUT, "wrong-hash-deadbeef.pth"))
    assert not hashlib.sha256(open(p, "rb").read()).hexdigest().startswith("deadbeef")
    with open(os.path.join(OUT, "dtypes.json"), "w") as f:
        json.dump(sidecar(dsd), f, indent=1)

    write_malicious(OUT)
    total = 0
    for name in sorted(os.listdir(OUT)):
        n = os.path.getsize(os.path.join(OUT, name))
        total += n
        print("%8d %s" % (n, name))
    print("%8d total (torch %s, python %s)" % (total, torch.__version__, sys.version.split()[0]))


if __name__ == "__main__":
    main()
