#!/usr/bin/python3
"""Writes a Keras 3 model file (model.save("m.keras")) from a model trained
and saved by TensorFlow.js (scripts/node/tfjs_train_save.js), for
interchange/keras_h5_test.go, in the layout of Keras 3's saving_lib
(keras/src/saving/saving_lib.py), with h5py and zipfile:

  m.keras (zip)      config.json (serialize_keras_object(model): each
                     object {"module", "class_name", "config",
                     "registered_name"}, dtype as a DTypePolicy, the input
                     as InputLayer's batch_shape, "build_config"),
                     metadata.json, model.weights.h5
  model.weights.h5   /layers/<snake_case class name>[_k]/vars/<i>: the
                     layer's variables in order (trainable first), the
                     names counted per class as _save_container_state does

Keras is not in Debian, so the file is written as Keras 3 writes it, not
by Keras. The TF.js predictions on the check input are copied alongside.

    node scripts/node/tfjs_train_save.js /tmp/tfjs
    /usr/bin/python3 scripts/make_keras3_model.py /tmp/tfjs interchange/testdata/keras3_cnn
"""
import io
import json
import os
import re
import shutil
import sys
import zipfile

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_model_h5 import read_tfjs  # noqa: E402


def snake(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def wrap(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def main():
    src, dst = sys.argv[1], sys.argv[2]
    topo, weights, values = read_tfjs(src)
    src_layers = topo["config"]["layers"]
    shape = src_layers[0]["config"]["batch_input_shape"]
    policy = wrap("keras", "DTypePolicy", {"name": "float32"})
    layers = [wrap("keras.layers", "InputLayer", {"batch_shape": shape, "dtype": "float32", "sparse": False, "name": "input_layer"})]
    for l in src_layers:
        c = dict(l["config"])
        c.pop("batch_input_shape", None)
        c["dtype"] = policy
        for k, v in list(c.items()):
            if k.endswith("_initializer") and isinstance(v, dict):
                c[k] = wrap("keras.initializers", v["class_name"], v["config"])
        layers.append(wrap("keras.layers", l["class_name"], c))
    config = wrap("keras", "Sequential", {"name": topo["config"]["name"], "trainable": True, "dtype": policy, "layers": layers})
    config["build_config"] = {"input_shape": shape}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        used = {}
        for l in src_layers:
            name = snake(l["class_name"])
            if name in used:
                used[name] += 1
                name = "%s_%d" % (name, used[name])
            else:
                used[name] = 0
            g = f.create_group("layers/" + name)
            v = g.create_group("vars")
            mine = [w for w in weights if w["name"].startswith(l["config"]["name"] + "/")]
            mine.sort(key=lambda w: w["name"].split("/")[-1].startswith("moving_"))
            for i, w in enumerate(mine):
                v.create_dataset(str(i), data=values[w["name"]].astype("<f4"))
        f.create_group("vars")
    with zipfile.ZipFile(dst + ".keras", "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3", "date_saved": "2026-12-07@12:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", buf.getvalue())
    shutil.copy(os.path.join(src, "check.json"), dst + "_check.json")
    print(dst + ".keras", os.path.getsize(dst + ".keras"), "bytes")


if __name__ == "__main__":
    main()
