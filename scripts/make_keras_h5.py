#!/usr/bin/python3
"""Generate the HDF5 test files of formats/hdf5 (Keras weight-file layouts).

Regenerate (from the repository root; needs Debian's python3-h5py, so use
/usr/bin/python3, not a pyenv python3):

    /usr/bin/python3 scripts/make_keras_h5.py                 # writes formats/hdf5/testdata/
    /usr/bin/python3 scripts/make_keras_h5.py --big /tmp/fc1.h5
    go test ./formats/hdf5

The files reproduce the layout of Keras's published VGG16 weight files
(vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5) with the same layer
and weight names but reduced widths (conv channels 4..16, small Dense
layers), so that the committed files stay small:

  * root attribute "layer_names" and per-layer attribute "weight_names":
    1-D arrays of fixed-length null-padded byte strings (numpy "S"); layers
    without weights (input, pooling, flatten) get an empty float64 array,
    as Keras's save_attributes_to_hdf5_group writes for an empty list;
  * Keras 1 names ("block1_conv1_W_1:0", datasets in the layer group) and
    Keras 2 names ("block1_conv1/kernel:0", one group deeper);
  * libver="earliest" (superblock 0, symbol-table groups, like the
    published files and h5py's default) and libver="latest" (superblock 3,
    link messages, dense link storage in a fractal heap for the root);
  * a float64 and a big-endian float32 variant, an attribute-heavy file
    (compact and dense attribute storage, every attribute type the reader
    handles) and a file of storage layouts (contiguous, compact, chunked,
    gzip, unwritten, integer and scalar datasets).

Values are deterministic: element i of the dataset with seed s is
value(s, i) = ((splitmix64(s << 32 | i) >> 40) - 2**23) / 2**23, a number in
[-1, 1) that float32 represents exactly. formats/hdf5 reimplements it, and
testdata/manifest.json lists, for every file, the layer and weight names,
each dataset's path, shape, dtype and seed, the expected attributes and the
datasets that must fail to read. Python is never needed to run the Go
tests: the files and manifest are committed.

--big PATH writes one (25088, 4096) float32 dataset /fc1/fc1_W_1:0 (the
size of VGG16's fc1 kernel, 411 MB) with value(i) = ((i % 4093) - 2046) /
1024, for the streaming measurement of formats/hdf5 (HDF5_BIG=PATH go test
-run Big -v). Do not commit it.
"""

import argparse
import json
import os

import h5py
import numpy as np

MASK = (1 << 64) - 1


def splitmix64(x):
    """Vectorized splitmix64 finalizer over a uint64 array (wrapping)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def values(seed, shape):
    n = int(np.prod(shape)) if shape else 1
    x = (np.uint64(seed) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    v = (splitmix64(x) >> np.uint64(40)).astype(np.int64) - (1 << 23)
    return (v.astype(np.float64) / (1 << 23)).reshape(shape)


# VGG16 with reduced widths: (layer, kind, shape of kernel) in model order.
CONV = [
    ("block1_conv1", 3, 4), ("block1_conv2", 4, 4), "block1_pool",
    ("block2_conv1", 4, 6), ("block2_conv2", 6, 6), "block2_pool",
    ("block3_conv1", 6, 8), ("block3_conv2", 8, 8), ("block3_conv3", 8, 8), "block3_pool",
    ("block4_conv1", 8, 12), ("block4_conv2", 12, 12), ("block4_conv3", 12, 12), "block4_pool",
    ("block5_conv1", 12, 16), ("block5_conv2", 16, 16), ("block5_conv3", 16, 16), "block5_pool",
]
TOP = ["flatten", ("fc1", 64, 32), ("fc2", 32, 32), ("predictions", 32, 10)]


def layers(top):
    """Yields (name, weights) where weights is [(suffix1, suffix2, shape)]."""
    yield "input_1", []
    for item in CONV + (TOP if top else []):
        if isinstance(item, str):
            yield item, []
            continue
        name, cin, cout = item
        kshape = (3, 3, cin, cout) if "conv" in name else (cin, cout)
        yield name, [("W", "kernel", kshape), ("b", "bias", (cout,))]


def write_keras(path, libver, keras, top, dtype, manifest, seed0=1):
    """Writes a Keras-style weight file and records it in manifest."""
    entry = {"layer_names": [], "layers": {}, "datasets": [], "attrs": [], "errors": []}
    seed = seed0
    with h5py.File(path, "w", libver=libver) as f:
        names = []
        for name, weights in layers(top):
            names.append(name)
            g = f.create_group(name)
            wnames = []
            for k1, k2, shape in weights:
                if keras == 1:
                    wname = f"{name}_{k1}_1:0"
                else:
                    wname = f"{name}/{k2}:0"
                g.create_dataset(wname, data=values(seed, shape).astype(dtype))
                entry["datasets"].append({"path": f"/{name}/{wname}", "shape": list(shape),
                                          "dtype": np.dtype(dtype).name + ("" if np.dtype(dtype).byteorder != ">" else " (big-endian)"),
                                          "seed": seed})
                wnames.append(wname)
                seed += 1
            # Keras: group.attrs["weight_names"] = [n.encode("utf8") ...];
            # an empty list becomes an empty float64 array.
            g.attrs["weight_names"] = np.asarray([n.encode("utf8") for n in wnames])
            entry["layers"][name] = wnames
        f.attrs["layer_names"] = np.asarray([n.encode("utf8") for n in names])
        f.attrs["backend"] = "tensorflow"              # variable-length str
        f.attrs["keras_version"] = np.bytes_(b"2.0.8" if keras == 2 else b"1.2.2")  # fixed-length
        entry["layer_names"] = names
        entry["attrs"] += [
            {"object": "/", "name": "backend", "strings": ["tensorflow"]},
            {"object": "/", "name": "keras_version", "strings": ["2.0.8" if keras == 2 else "1.2.2"]},
        ]
    manifest[os.path.basename(path)] = entry


def write_attrs(path, libver, manifest):
    """An object with many attributes of every kind the reader handles."""
    entry = {"layer_names": [], "layers": {}, "datasets": [], "attrs": [], "errors": []}
    with h5py.File(path, "w", libver=libver) as f:
        g = f.create_group("dense_1")
        d = g.create_dataset("dense_1_W_1:0", data=values(7, (3, 2)).astype("<f4"))
        entry["datasets"].append({"path": "/dense_1/dense_1_W_1:0", "shape": [3, 2], "dtype": "float32", "seed": 7})
        a = f.attrs
        long_names = [f"layer_{i:04d}_with_a_long_name".encode() for i in range(200)]
        a["layer_names"] = np.asarray(long_names)  # 200 x 29 bytes
        entry["layer_names"] = [n.decode() for n in long_names]
        g.attrs["weight_names"] = np.asarray([b"dense_1_W_1:0"])
        entry["layers"] = {"dense_1": ["dense_1_W_1:0"]}

        def add(obj, objpath, name, value, **want):
            obj.attrs[name] = value
            entry["attrs"].append(dict(object=objpath, name=name, **want))

        add(f, "/", "backend", "tensorflow", strings=["tensorflow"])
        add(f, "/", "vlen_list", ["a", "", "ünïcode", "x" * 100], strings=["a", "", "ünïcode", "x" * 100])
        add(f, "/", "fixed_scalar", np.bytes_(b"hello"), strings=["hello"])
        add(f, "/", "space_padded", np.array([b"ab", b"c"], dtype="S4"), strings=["ab", "c"])
        add(f, "/", "int8", np.array([-128, 0, 127], dtype="i1"), ints=[-128, 0, 127])
        add(f, "/", "uint16_be", np.array([1, 65535], dtype=">u2"), ints=[1, 65535])
        add(f, "/", "int32_2d", np.arange(-3, 3, dtype="<i4").reshape(2, 3), ints=list(range(-3, 3)), shape=[2, 3])
        add(f, "/", "int64", np.int64(-(1 << 40)), ints=[-(1 << 40)], scalar=True)
        add(f, "/", "uint64", np.array([(1 << 63) + 5], dtype="<u8"), floats=[float((1 << 63) + 5)])
        add(f, "/", "float32", np.array([1.5, -0.25], dtype="<f4"), floats=[1.5, -0.25])
        add(f, "/", "float64_be", np.array([3.141592653589793], dtype=">f8"), floats=[3.141592653589793])
        add(f, "/", "empty", np.asarray([]), strings=[], shape=[0])
        add(d, "/dense_1/dense_1_W_1:0", "units", np.int32(2), ints=[2], scalar=True)
        add(d, "/dense_1/dense_1_W_1:0", "note", "dataset attribute", strings=["dataset attribute"])
        # The space-padded string needs an explicit type.
        tid = h5py.h5t.C_S1.copy()
        tid.set_size(4)
        tid.set_strpad(h5py.h5t.STR_SPACEPAD)
        del f.attrs["space_padded"]
        f.attrs.create("space_padded", np.array([b"ab  ", b"c   "], dtype="S4"), dtype=h5py.Datatype(tid))
    manifest[os.path.basename(path)] = entry


def write_layouts(path, libver, manifest):
    """Datasets in each storage layout, and features the reader rejects."""
    entry = {"layer_names": None, "layers": {}, "datasets": [], "attrs": [], "errors": []}
    with h5py.File(path, "w", libver=libver) as f:
        def ds(name, shape, dtype, seed, **kw):
            v = values(seed, shape)
            shift = 1 if np.dtype(dtype).kind == "u" else 0  # unsigned: values in [0, 200]
            if np.dtype(dtype).kind in "iu":
                v = np.round((v + shift) * 100)
            f.create_dataset(name, data=v.astype(dtype), **kw)
            bo = " (big-endian)" if np.dtype(dtype).byteorder == ">" else ""
            entry["datasets"].append({"path": "/" + name, "shape": list(shape), "dtype": np.dtype(dtype).name + bo,
                                      "seed": seed, "scale": 100 if np.dtype(dtype).kind in "iu" else 1, "shift": shift})

        ds("contiguous", (5, 7), "<f4", 11)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        v = values(12, (3, 4)).astype("<f4")
        sid = h5py.h5s.create_simple((3, 4))
        dsid = h5py.h5d.create(f.id, b"compact", h5py.h5t.IEEE_F32LE, sid, dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, v)
        entry["datasets"].append({"path": "/compact", "shape": [3, 4], "dtype": "float32", "seed": 12})
        if libver == "earliest":
            ds("chunked", (5, 7, 3), "<f4", 13, chunks=(2, 3, 2))
        else:
            entry["errors"].append({"path": "/chunked", "contains": "chunk index"})
            f.create_dataset("chunked", data=values(13, (5, 7, 3)).astype("<f4"), chunks=(2, 3, 2))
            ds("single_chunk", (4, 3), "<f4", 16, chunks=(4, 3))
        ds("f64_be", (2, 3), ">f8", 14)
        ds("int16", (4,), "<i2", 15)
        ds("uint8", (6,), "u1", 17)
        ds("int64_be", (2, 2), ">i8", 18)
        ds("scalar", (), "<f4", 19)
        f.create_dataset("unwritten", shape=(2, 5), dtype="<f4")  # no storage: reads as zeros
        entry["datasets"].append({"path": "/unwritten", "shape": [2, 5], "dtype": "float32", "seed": -1})
        f.create_dataset("gzip", data=values(20, (4, 4)).astype("<f4"), compression="gzip")
        entry["errors"].append({"path": "/gzip", "contains": "compressed datasets not supported"})
        f.create_dataset("strings", data=np.array([b"ab", b"cd"]))
        entry["errors"].append({"path": "/strings", "contains": "not numeric"})
        g = f.create_group("a/b/c")
        g.create_dataset("deep", data=values(21, (2,)).astype("<f4"))
        entry["datasets"].append({"path": "/a/b/c/deep", "shape": [2], "dtype": "float32", "seed": 21})
        f["soft"] = h5py.SoftLink("/contiguous")
        entry["errors"].append({"path": "/soft", "contains": "soft link"})
    manifest[os.path.basename(path)] = entry


def write_big(path):
    rows, cols = 25088, 4096
    with h5py.File(path, "w", libver="earliest") as f:
        g = f.create_group("fc1")
        d = g.create_dataset("fc1_W_1:0", shape=(rows, cols), dtype="<f4")
        step = 1024
        for r in range(0, rows, step):
            i = np.arange(r * cols, min(r + step, rows) * cols, dtype=np.int64)
            d[r:r + step] = (((i % 4093) - 2046) / 1024).astype("<f4").reshape(-1, cols)
        g.attrs["weight_names"] = np.asarray([b"fc1_W_1:0"])
        f.attrs["layer_names"] = np.asarray([b"fc1"])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", default=os.path.join(here, "..", "formats", "hdf5", "testdata"), help="output directory")
    p.add_argument("--big", metavar="PATH", help="write only the full-size fc1 file to PATH")
    args = p.parse_args()
    if args.big:
        write_big(args.big)
        return
    os.makedirs(args.o, exist_ok=True)
    m = {}
    o = lambda name: os.path.join(args.o, name)
    write_keras(o("vgg16_notop_keras1_earliest.h5"), "earliest", 1, False, "<f4", m)
    write_keras(o("vgg16_top_keras2_earliest.h5"), "earliest", 2, True, "<f4", m)
    write_keras(o("vgg16_notop_keras2_latest.h5"), "latest", 2, False, "<f4", m)
    write_keras(o("vgg16_top_keras1_v108.h5"), "v108", 1, True, "<f4", m)
    write_keras(o("vgg16_notop_keras1_f64.h5"), "earliest", 1, False, "<f8", m)
    write_keras(o("vgg16_notop_keras2_bigendian.h5"), "earliest", 2, False, ">f4", m)
    write_attrs(o("attrs_earliest.h5"), "earliest", m)
    write_attrs(o("attrs_latest.h5"), "latest", m)
    write_layouts(o("layouts_earliest.h5"), "earliest", m)
    write_layouts(o("layouts_latest.h5"), "latest", m)
    for name, entry in m.items():
        with h5py.File(o(name), "r") as f:
            entry["superblock"] = int(f.id.get_create_plist().get_version()[0])
    with open(o("manifest.json"), "w") as fp:
        json.dump(m, fp, indent=1, sort_keys=True, ensure_ascii=False)
        fp.write("\n")


if __name__ == "__main__":
    main()
