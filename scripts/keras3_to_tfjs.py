#!/usr/bin/python3
"""Reads a Keras 3 model file (.keras) as Keras 3's saving_lib loads it and
rewrites it in TensorFlow.js's Layers format, for interchange's test of
ExportKeras: TensorFlow.js then runs it, so libhdf5 (through h5py, which
verifies the checksums) reads the weights Capa wrote and an independent
implementation of Keras's layers runs the config Capa wrote.

Keras is not in Debian; this script checks what Keras 3's loader relies on
(keras/src/saving/saving_lib.py and serialization_lib.py):
  - the zip holds metadata.json, config.json and model.weights.h5;
  - every serialized object is {"module", "class_name", "config",
    "registered_name"} with a module Keras resolves; layer dtypes are
    DTypePolicy objects; InputLayer has batch_shape;
  - a Functional model's inbound nodes are {"args", "kwargs"} whose Keras
    tensors carry shape, dtype and keras_history of a known layer;
  - model.weights.h5 has the model's own "vars" group and, for every layer
    of model.layers (without Sequential's InputLayer) named by its
    snake_case class counted per class, layers/<name>/vars holding exactly
    the layer's variables "0", "1", ... in Keras's order.

    /usr/bin/python3 scripts/keras3_to_tfjs.py M.keras OUTDIR
"""
import io
import json
import os
import re
import sys
import zipfile

import h5py
import numpy as np

MODULES = {"keras", "keras.layers", "keras.initializers", "keras.regularizers", "keras.src.models.functional"}

# Keras's variables of each layer class with weights, in order, as
# functions of its config (TensorFlow.js's weight names).
VARIABLES = {
    "Conv2D": lambda c: ["kernel"] + (["bias"] if c.get("use_bias", True) else []),
    "Conv2DTranspose": lambda c: ["kernel"] + (["bias"] if c.get("use_bias", True) else []),
    "Dense": lambda c: ["kernel"] + (["bias"] if c.get("use_bias", True) else []),
    "DepthwiseConv2D": lambda c: ["depthwise_kernel"] + (["bias"] if c.get("use_bias", True) else []),
    "SeparableConv2D": lambda c: ["depthwise_kernel", "pointwise_kernel"] + (["bias"] if c.get("use_bias", True) else []),
    "BatchNormalization": lambda c: (["gamma"] if c.get("scale", True) else []) + (["beta"] if c.get("center", True) else []) + ["moving_mean", "moving_variance"],
    "LayerNormalization": lambda c: (["gamma"] if c.get("scale", True) else []) + (["beta"] if c.get("center", True) else []),
    "PReLU": lambda c: ["alpha"],
}
TFJS_ACTIVATIONS = {"silu": "swish"}


def fail(msg):
    sys.exit("keras3_to_tfjs: " + msg)


def snake(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def check_object(o, what):
    if not isinstance(o, dict) or set(o) < {"module", "class_name", "config", "registered_name"}:
        fail("%s is not a serialized Keras object: %.200s" % (what, json.dumps(o)))
    if o["module"] not in MODULES:
        fail("%s: module %r" % (what, o["module"]))


def plain(cfg, what):
    """A Keras 3 layer config in Keras 2's form (TensorFlow.js's)."""
    out = {}
    for k, v in cfg.items():
        if k == "dtype" and isinstance(v, dict):
            check_object(v, what + ".dtype")
            if v["class_name"] != "DTypePolicy":
                fail("%s: dtype %r" % (what, v))
            v = v["config"]["name"]
        elif k == "batch_shape":
            k = "batch_input_shape"
        elif isinstance(v, dict) and (k.endswith("_initializer") or k.endswith("_regularizer")):
            check_object(v, what + "." + k)
            v = {"class_name": v["class_name"], "config": v["config"]}
        elif k == "activation":
            v = TFJS_ACTIVATIONS.get(v, v)
        elif k == "groups" and v == 1:
            continue
        out[k] = v
    return out


def keras_layer_order(layers, outputs):
    """The config's layers in the order of Keras 3's model.layers for a
    Functional model (map_graph in keras/src/ops/function.py): by
    decreasing depth, ties by the first visit of a depth-first walk from
    the outputs."""
    by_name = {l["name"]: l for l in layers}
    first, done, post = {}, set(), []

    def visit(key):
        if key in done:
            return
        name, node = key
        first.setdefault(name, len(first))
        nodes = by_name[name]["inbound_nodes"]
        for ref in (nodes[node] if nodes else []):
            visit((ref[0], ref[1]))
        done.add(key)
        post.append(key)

    for o in outputs:
        visit((o[0], o[1]))
    node_depth, layer_depth = {}, {}
    for key in reversed(post):
        d = max(node_depth.get(key, 0), layer_depth.get(key[0], 0))
        layer_depth[key[0]] = node_depth[key] = d
        nodes = by_name[key[0]]["inbound_nodes"]
        for ref in (nodes[key[1]] if nodes else []):
            k = (ref[0], ref[1])
            node_depth[k] = max(node_depth.get(k, 0), d + 1)
    for name in by_name:
        if name not in layer_depth:  # an input the outputs do not use
            layer_depth[name], first[name] = 0, -1
    return sorted(layers, key=lambda l: (-layer_depth[l["name"]], first[l["name"]]))


def main():
    src, dst = sys.argv[1], sys.argv[2]
    zf = zipfile.ZipFile(src)
    names = set(zf.namelist())
    for n in ("metadata.json", "config.json", "model.weights.h5"):
        if n not in names:
            fail("no %s in %s" % (n, src))
    meta = json.loads(zf.read("metadata.json"))
    if not meta.get("keras_version", "").startswith("3."):
        fail("metadata.json: keras_version %r" % meta.get("keras_version"))
    top = json.loads(zf.read("config.json"))
    check_object(top, "the model")
    functional = top["class_name"] == "Functional"
    if functional:
        if top["module"] != "keras.src.models.functional" or top["registered_name"] != "Functional":
            fail("a Functional model's module %r, registered_name %r" % (top["module"], top["registered_name"]))
    elif (top["module"], top["class_name"]) != ("keras", "Sequential"):
        fail("model class %s.%s" % (top["module"], top["class_name"]))
    cfg = top["config"]
    layers, seen = [], set()
    for i, l in enumerate(cfg["layers"]):
        what = "layer %d" % i
        check_object(l, what)
        if l["module"] != "keras.layers":
            fail("%s: module %r" % (what, l["module"]))
        c = plain(l["config"], what)
        if l["class_name"] == "InputLayer":
            if "batch_input_shape" not in c:
                fail("%s: InputLayer without batch_shape" % what)
        elif not isinstance(l["config"].get("dtype"), dict):
            fail("%s: dtype %r is not a DTypePolicy" % (what, l["config"].get("dtype")))
        e = {"class_name": l["class_name"], "config": c}
        if functional:
            e["name"] = l["name"]
            nodes = []
            for node in l["inbound_nodes"]:
                if set(node) != {"args", "kwargs"}:
                    fail("%s: inbound node %r" % (what, node))
                refs = []

                def collect(a):
                    if isinstance(a, list):
                        for x in a:
                            collect(x)
                    elif isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
                        t = a["config"]
                        if t["dtype"] != "float32" or not isinstance(t["shape"], list) or t["shape"][0] is not None:
                            fail("%s: Keras tensor %r" % (what, t))
                        h = t["keras_history"]
                        if h[0] not in seen:
                            fail("%s: input from %r, not an earlier layer" % (what, h[0]))
                        refs.append([h[0], h[1], h[2], {}])
                    else:
                        fail("%s: argument %r" % (what, a))

                collect(node["args"])
                nodes.append(refs)
            e["inbound_nodes"] = nodes
        seen.add(c["name"])
        layers.append(e)
    topo_cfg = {"name": cfg["name"], "layers": layers}
    if functional:
        topo_cfg["input_layers"] = cfg["input_layers"]
        topo_cfg["output_layers"] = cfg["output_layers"]
    elif top.get("build_config", {}).get("input_shape") != layers[0]["config"]["batch_input_shape"]:
        fail("Sequential build_config %r" % top.get("build_config"))

    f = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    if "vars" not in f or len(f["vars"]) != 0:
        fail("model.weights.h5 lacks the model's empty vars group")
    model_layers = keras_layer_order(layers, cfg["output_layers"]) if functional else layers[1:]
    if functional and [l["name"] for l in model_layers] != [l["name"] for l in layers]:
        fail("the layers are not in model.layers's order: %s" % [l["name"] for l in model_layers])
    used, specs, data = {}, [], []
    for l in model_layers:
        name = snake(l["class_name"])
        if name in used:
            used[name] += 1
            name = "%s_%d" % (name, used[name])
        else:
            used[name] = 0
        want = VARIABLES.get(l["class_name"], lambda c: [])(l["config"])
        path = "layers/%s/vars" % name
        if path not in f:
            if want:
                fail("model.weights.h5 has no %s for layer %s" % (path, l["config"]["name"]))
            continue
        g = f[path]
        if sorted(g.keys()) != sorted(str(i) for i in range(len(want))):
            fail("%s holds %s, Keras's %s has %d variables" % (path, list(g.keys()), l["class_name"], len(want)))
        for i, v in enumerate(want):
            a = np.asarray(g[str(i)])
            if a.dtype != np.float32:
                fail("%s/%d is %s" % (path, i, a.dtype))
            specs.append({"name": "%s/%s" % (l["config"]["name"], v), "shape": list(a.shape), "dtype": "float32"})
            data.append(a.astype("<f4").tobytes())
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(dst, "weights.bin"), "wb") as w:
        w.write(b"".join(data))
    doc = {
        "format": "layers-model",
        "generatedBy": "keras3_to_tfjs.py",
        "modelTopology": {"class_name": top["class_name"], "config": topo_cfg, "keras_version": "2.15.0", "backend": "tensorflow"},
        "weightsManifest": [{"paths": ["weights.bin"], "weights": specs}],
    }
    with open(os.path.join(dst, "model.json"), "w") as w:
        json.dump(doc, w)


if __name__ == "__main__":
    main()
