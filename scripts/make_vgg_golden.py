#!/usr/bin/python3
"""Writes vgg/testdata: reduced-width VGG16 weight files in every layout Capa
loads, with random weights, and PyTorch's forward pass on them (golden.json).

The published files (Keras's vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5,
torchvision's vgg16-397923af.pth) cannot be downloaded here; these files
reproduce their layouts with fewer channels, so the Go tests run the same
loader code on them:
  mini_notop_keras1.h5   Keras 1 names (block1_conv1_W_1:0), HDF5 1.8 layout (libver earliest)
  mini_top_keras2.h5     Keras 2 names (block1_conv1/kernel:0 one group deeper), h5py defaults
  mini_top_zip.pth       torch.save (zip archive, PyTorch >= 1.6)
  mini_top_legacy_v2.pth legacy serialization with _rebuild_tensor_v2
  mini_top_legacy-<sha8>.pth  legacy serialization with _rebuild_tensor (4 arguments)
                         over FloatStorage, as PyTorch 0.3 wrote vgg16-397923af.pth
The networks follow torchvision's key layout (features.N, classifier.N) and its
AdaptiveAvgPool2d((7, 7)), so the classifier's flatten order is torchvision's
(C, H, W); Keras's files store it in (H, W, C) order.

With --full DIR it writes full-size files (VGG16's real widths, random weights,
about 600 MB each) and their golden.json into DIR instead, for the full-size
check (CAPA_VGG_FULL=DIR go test ./vgg -run Full).

Needs Debian's python3-torch, python3-torchvision and python3-h5py.
Usage: /usr/bin/python3 scripts/make_vgg_golden.py [--full DIR]
"""
import argparse, hashlib, json, math, os, sys

import h5py
import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_torch_pth import write_legacy_rebuild  # noqa: E402

torch.manual_seed(20261127)
torch.set_num_threads(1)

BLOCKS = [2, 2, 3, 3, 3]


class VGG(nn.Module):
    """torchvision's VGG16 layout with configurable widths."""

    def __init__(self, widths, units, classes):
        super().__init__()
        layers, cin = [], 3
        for b, n in enumerate(BLOCKS):
            for _ in range(n):
                layers += [nn.Conv2d(cin, widths[b], 3, padding=1), nn.ReLU(inplace=True)]
                cin = widths[b]
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(cin * 49, units), nn.ReLU(True), nn.Dropout(),
            nn.Linear(units, units), nn.ReLU(True), nn.Dropout(),
            nn.Linear(units, classes))
        for m in self.modules():  # larger than PyTorch's defaults, so activations stay O(1)
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / m.weight[0].numel()))
                nn.init.uniform_(m.bias, -0.1, 0.1)

    def forward(self, x):
        f = self.features(x)
        return f, torch.softmax(self.classifier(torch.flatten(self.avgpool(f), 1)), 1)


def names():
    out = []
    for b, n in enumerate(BLOCKS):
        out += [f"block{b + 1}_conv{i + 1}" for i in range(n)] + [f"block{b + 1}_pool"]
    return out


def keras_weights(model, top):
    """Capa/Keras layouts by layer name: conv (kh, kw, in, out), dense (in, out)."""
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    out, k = {}, 0
    for n in names():
        if "conv" in n:
            c = convs[k]
            k += 1
            out[n] = [c.weight.detach().permute(2, 3, 1, 0).numpy(), c.bias.detach().numpy()]
    if top:
        fc1, fc2, pred = model.classifier[0], model.classifier[3], model.classifier[6]
        units, cin = fc1.weight.shape[0], fc1.weight.shape[1] // 49
        w1 = fc1.weight.detach().reshape(units, cin, 7, 7).permute(2, 3, 1, 0).reshape(49 * cin, units)
        out["fc1"] = [w1.numpy(), fc1.bias.detach().numpy()]
        out["fc2"] = [fc2.weight.detach().T.numpy(), fc2.bias.detach().numpy()]
        out["predictions"] = [pred.weight.detach().T.numpy(), pred.bias.detach().numpy()]
    return out


def write_h5(path, weights, keras, libver):
    layer_names = ["input_1"] + names() + (["flatten", "fc1", "fc2", "predictions"] if "fc1" in weights else [])
    with h5py.File(path, "w", libver=libver) as f:
        for n in layer_names:
            g = f.create_group(n)
            wn = []
            for suffix, arr in zip(["W", "b"] if keras == 1 else ["kernel", "bias"], weights.get(n, [])):
                name = f"{n}_{suffix}_1:0" if keras == 1 else f"{n}/{suffix}:0"
                g.create_dataset(name, data=np.ascontiguousarray(arr, dtype="<f4"))
                wn.append(name.encode())
            g.attrs["weight_names"] = np.asarray(wn) if wn else np.zeros((0,))
        f.attrs["layer_names"] = np.asarray([n.encode() for n in layer_names])
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = np.bytes_(b"2.1.5" if keras == 2 else b"1.2.2")


def image(n, h, w):
    """The test input, NHWC in [0, 1]; the Go test computes the same values."""
    i = np.arange(n * h * w * 3, dtype=np.float64)
    return (0.5 + 0.5 * np.sin(0.37 * i + 0.11 * (i // 3))).astype(np.float32).reshape(n, h, w, 3)


def caffe(x):
    """Keras's VGG preprocessing of RGB in [0, 1] (NHWC)."""
    bgr = x[..., ::-1] * 255.0
    return (bgr - np.array([103.939, 116.779, 123.68], dtype=np.float32)).astype(np.float32)


def forward(model, x_nhwc):
    with torch.no_grad():
        f, p = model(torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))))
    return f.permute(0, 2, 3, 1).numpy(), p.numpy()


def rounded(a):
    return [float(f"{v:.9g}") for v in np.asarray(a, dtype=np.float64).ravel()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", help="write full-size files into this directory")
    a = ap.parse_args()
    out = a.full or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vgg", "testdata")
    os.makedirs(out, exist_ok=True)
    golden = {}
    if a.full:
        top = VGG([64, 128, 256, 512, 512], 4096, 1000).eval()
        base_size, top_n = 64, 1
    else:
        top = VGG([4, 4, 8, 8, 8], 16, 10).eval()
        base_size, top_n = 32, 1
    golden["widths"] = [top.features[i].out_channels for i in (0, 5, 10, 17, 24)]
    golden["fc_units"] = top.classifier[0].out_features
    golden["classes"] = top.classifier[6].out_features

    # Inputs preprocessed for the weights' source: the files share weights,
    # and each source preprocesses its own way; the network sees the same x.
    x_base = caffe(image(2, base_size, base_size))
    x_top = caffe(image(top_n, 224, 224))
    fb, _ = forward(top, x_base)
    ft, pt = forward(top, x_top)
    golden["base"] = {"size": base_size, "n": 2, "features_shape": list(fb.shape), "features": rounded(fb)}
    golden["top"] = {"n": top_n, "features_shape": list(ft.shape), "probs": rounded(pt),
                     "features_norm": float(np.linalg.norm(ft)), "features_head": rounded(ft.ravel()[:64])}

    kw = keras_weights(top, True)
    base_w = {k: v for k, v in kw.items() if k not in ("fc1", "fc2", "predictions")}
    prefix = "full" if a.full else "mini"
    files = {}
    write_h5(os.path.join(out, f"{prefix}_notop_keras1.h5"), base_w, 1, "earliest")
    files[f"{prefix}_notop_keras1.h5"] = "keras notop"
    write_h5(os.path.join(out, f"{prefix}_top_keras2.h5"), kw, 2, "latest")
    files[f"{prefix}_top_keras2.h5"] = "keras top"
    sd = top.state_dict()
    torch.save(sd, os.path.join(out, f"{prefix}_top_zip.pth"))
    files[f"{prefix}_top_zip.pth"] = "torch top"
    torch.save(sd, os.path.join(out, f"{prefix}_top_legacy_v2.pth"), _use_new_zipfile_serialization=False)
    files[f"{prefix}_top_legacy_v2.pth"] = "torch top"
    tmp = os.path.join(out, "legacy.tmp")
    write_legacy_rebuild(tmp, sd)
    digest = hashlib.sha256(open(tmp, "rb").read()).hexdigest()[:8]
    name = f"{prefix}_top_legacy-{digest}.pth"
    for old in os.listdir(out):
        if old.startswith(f"{prefix}_top_legacy-"):
            os.remove(os.path.join(out, old))
    os.replace(tmp, os.path.join(out, name))
    files[name] = "torch top"
    for f, kind in files.items():
        if kind.startswith("torch"):
            loaded = torch.load(os.path.join(out, f))
            assert all(torch.equal(loaded[k], sd[k]) for k in sd), f
    golden["files"] = files
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
