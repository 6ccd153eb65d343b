#!/usr/bin/python3
"""Writes a Keras 2 whole-model file (model.save("m.h5")) from a model
trained and saved by TensorFlow.js (scripts/node/tfjs_train_save.js), for
interchange/keras_h5_test.go: the layout of Keras 2's legacy HDF5 format
(keras/src/legacy/saving/legacy_h5_format.py, save_model_to_hdf5 and
save_weights_to_hdf5_group), written with h5py:

  /                 attrs keras_version, backend, model_config (the model
                    JSON, a UTF-8 byte string)
  /model_weights    attrs keras_version, backend, layer_names (numpy "S")
  /model_weights/L  attr weight_names ("L/kernel:0", ...; an empty float
                    array for a layer without weights), datasets
                    /model_weights/L/L/kernel:0 ...

Keras is not in Debian, so the file is written as Keras writes it, not by
Keras. The TF.js predictions on the check input are copied alongside.

    node scripts/node/tfjs_train_save.js /tmp/tfjs
    /usr/bin/python3 scripts/make_keras_model_h5.py /tmp/tfjs interchange/testdata/keras2_cnn
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np


def read_tfjs(src):
    """The TF.js model in src: its Keras topology, weights manifest entries
    and their values by name."""
    doc = json.load(open(os.path.join(src, "model.json")))
    weights = doc["weightsManifest"][0]["weights"]
    data = b"".join(open(os.path.join(src, p), "rb").read() for p in doc["weightsManifest"][0]["paths"])
    values, off = {}, 0
    for w in weights:
        n = int(np.prod(w["shape"])) if w["shape"] else 1
        values[w["name"]] = np.frombuffer(data, "<f4", n, off).reshape(w["shape"])
        off += 4 * n
    return doc["modelTopology"], weights, values


def main():
    src, dst = sys.argv[1], sys.argv[2]
    topo, weights, values = read_tfjs(src)
    config = {"class_name": topo["class_name"], "config": topo["config"]}
    with h5py.File(dst + ".h5", "w") as f:
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["keras_version"] = b"2.15.0"
        g.attrs["backend"] = b"tensorflow"
        layers = [l["config"]["name"] for l in topo["config"]["layers"]]
        g.attrs["layer_names"] = np.array([n.encode("utf8") for n in layers])
        for name in layers:
            lg = g.create_group(name)
            mine = [w for w in weights if w["name"].startswith(name + "/")]
            # Keras lists trainable weights, then the others (moving statistics).
            mine.sort(key=lambda w: w["name"].split("/")[-1].startswith("moving_"))
            names = [w["name"] + ":0" for w in mine]
            lg.attrs["weight_names"] = np.array([n.encode("utf8") for n in names]) if names else np.zeros(0)
            for w, n in zip(mine, names):
                lg.create_dataset(n, data=values[w["name"]].astype("<f4"))
    shutil.copy(os.path.join(src, "check.json"), dst + "_check.json")
    print(dst + ".h5", os.path.getsize(dst + ".h5"), "bytes")


if __name__ == "__main__":
    main()
