#!/usr/bin/python3
"""Reduced-width torchvision ResNets with random weights, and their outputs,
for applications/weights_test.go.

The networks are torchvision's own ResNet (its forward, BasicBlock and
Bottleneck) with every width divided (the published files are full width
and cannot be downloaded here); the files are saved with torch.save, the
zip serialization of the published files, with the key names of
torchvision's state_dict. Outputs: softmax of the classifier for the whole
network, and the last feature map (NHWC) for the base, on a fixed input.

    /usr/bin/python3 scripts/applications_golden.py
    /usr/bin/python3 scripts/applications_golden.py --full --specs SPECDIR DEST

--full writes into DEST the full-size networks instead (torchvision's own
resnet18, resnet50 and mobilenet_v2, and Keras's ResNet50 and MobileNetV2
from the architectures applications/weights_test.go writes into SPECDIR),
random weights, 224x224 inputs: the on-request check CAPA_APPS_FULL=DEST.
"""
import json
import math
import os
import sys

import h5py
import numpy as np

import torch
import torch.nn as nn
from torchvision.models.mobilenetv2 import MobileNetV2
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden  # noqa: E402  (its interpreter of Capa specs with Keras's semantics)

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "applications", "testdata")


class Reduced(ResNet):
    """torchvision's ResNet with widths 64/div ... 512/div."""

    def __init__(self, block, layers, div, classes):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.dilation, self.groups, self.base_width = 1, 1, 64
        self.inplanes = 64 // div
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64 // div, layers[0])
        self.layer2 = self._make_layer(block, 128 // div, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256 // div, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512 // div, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 // div * block.expansion, classes)


def randomize_bn(m):
    """Random BatchNorm parameters and statistics, so that loading them is
    checked (their defaults are 1, 0, 0, 1)."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(100)


def features(m, x):
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    return m.layer4(m.layer3(m.layer2(m.layer1(x))))


def resnet_case(name, block, layers, div, x):
    """Saves a reduced ResNet with random weights as NAME_mini.pth and
    returns its golden entry: probabilities and the base's NHWC features."""
    m = Reduced(block, layers, div, 10)
    randomize_bn(m)
    m.eval()
    with torch.no_grad():
        probs = torch.softmax(m(x), dim=1)
        feats = features(m, x).permute(0, 2, 3, 1)
    path = os.path.join(HERE, name + "_mini.pth")
    torch.save(m.state_dict(), path)
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    return {"file": name + "_mini.pth", "width_div": div, "classes": 10,
            "probs": [round(v, 7) for v in probs.flatten().tolist()],
            "features_shape": list(feats.shape[1:]),
            "features": [round(v, 6) for v in feats.flatten().tolist()]}


def main():
    global HERE
    full = "--full" in sys.argv
    if full:
        args = sys.argv[1:]
        spec_dir = args[args.index("--specs") + 1]
        HERE = args[-1]
        return write_full(spec_dir)
    torch.manual_seed(7)
    os.makedirs(HERE, exist_ok=True)
    h = w = 64
    # The input of weights_test.go: x[n, y, x, c] = sin(0.37 i) with i the
    # NHWC index.
    n = 2
    idx = torch.arange(n * h * w * 3, dtype=torch.float64)
    x = torch.sin(0.37 * idx).to(torch.float32).reshape(n, h, w, 3).permute(0, 3, 1, 2)
    golden = {"about": "scripts/applications_golden.py, PyTorch " + torch.__version__.split("+")[0],
              "height": h, "width": w, "batch": n, "models": {}}
    for name, block, layers, div in [("resnet18", BasicBlock, [2, 2, 2, 2], 16),
                                     ("resnet50", Bottleneck, [3, 4, 6, 3], 32)]:
        golden["models"][name] = resnet_case(name, block, layers, div, x)
    # torchvision's own MobileNetV2 at width_mult 0.25 (Capa's Alpha).
    m = MobileNetV2(num_classes=10, width_mult=0.25)
    randomize_bn(m)
    m.eval()
    with torch.no_grad():
        probs = torch.softmax(m(x), dim=1)
        feats = m.features(x).permute(0, 2, 3, 1)
    path = os.path.join(HERE, "mobilenet_v2_mini.pth")
    torch.save(m.state_dict(), path)
    golden["models"]["mobilenet_v2"] = {"file": "mobilenet_v2_mini.pth", "alpha": 0.25, "classes": 10,
                                        "probs": [round(v, 7) for v in probs.flatten().tolist()],
                                        "features_shape": list(feats.shape[1:]),
                                        "features": [round(v, 6) for v in feats.flatten().tolist()]}
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    for name in ("keras_resnet50", "keras_mobilenet_v2"):
        golden["models"][name] = keras_case(name, x.permute(0, 2, 3, 1))
    # resnet34 last, from its own seed, so that adding it left the other
    # files as they were.
    torch.manual_seed(34)
    golden["models"]["resnet34"] = resnet_case("resnet34", BasicBlock, [3, 4, 6, 3], 16, x)
    with open(os.path.join(HERE, "torchvision_golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))


def keras_layers(spec):
    """The layers of a Capa spec (written by applications/weights_test.go)
    in the form golden.Model reads: Capa's no_bias for Keras's use_bias, the
    input named golden.INPUT."""
    inp = spec["input_layers"][0][0]
    layers = []
    for l in spec["layers"]:
        if l["class_name"] == "InputLayer":
            continue
        l = json.loads(json.dumps(l))
        cfg = l["config"]
        if "use_bias" in cfg:
            cfg["no_bias"] = not cfg["use_bias"]
        for node in l["inbound_nodes"]:
            for ref in node:
                if ref[0] == inp:
                    ref[0] = golden.INPUT
        layers.append(l)
    return layers


def write_full(spec_dir):
    """The full-size networks with random weights and their outputs."""
    import torchvision
    torch.manual_seed(7)
    os.makedirs(HERE, exist_ok=True)
    n, h, w = 2, 224, 224
    idx = torch.arange(n * h * w * 3, dtype=torch.float64)
    x = torch.sin(0.37 * idx).to(torch.float32).reshape(n, h, w, 3).permute(0, 3, 1, 2)
    golden = {"about": "scripts/applications_golden.py --full", "height": h, "width": w, "batch": n, "models": {}}
    for name in ("resnet18", "resnet50", "mobilenet_v2"):
        m = getattr(torchvision.models, name)(num_classes=1000)
        randomize_bn(m)
        m.eval()
        with torch.no_grad():
            probs = torch.softmax(m(x), dim=1)
            feats = (m.features(x) if name == "mobilenet_v2" else features(m, x)).permute(0, 2, 3, 1)
        torch.save(m.state_dict(), os.path.join(HERE, name + ".pth"))
        golden["models"][name] = {"file": name + ".pth", "classes": 1000, "probs": probs.flatten().tolist(),
                                  "features_shape": list(feats.shape[1:]), "features": feats.flatten().tolist()}
        print("wrote", name)
    global SPECS
    SPECS = spec_dir
    for name in ("keras_resnet50", "keras_mobilenet_v2"):
        golden["models"][name] = keras_case(name, x.permute(0, 2, 3, 1), suffix="")
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(golden, f)


SPECS = None  # where keras_case reads the architectures (default: HERE)


def keras_case(name, x, suffix="_mini"):
    """A Keras-layout .h5 of random weights for the reduced model and the
    reference's probabilities (top) and features (base)."""
    specs = {}
    for top in (True, False):
        with open(os.path.join(SPECS or HERE, "%s%s_top%s.spec.json" % (name, suffix, str(top).lower()))) as f:
            specs[top] = json.load(f)
    model = golden.Model(specs[True]["input_shape"], keras_layers(specs[True]))
    g = torch.Generator().manual_seed(11)
    p = {}
    for wname, shape, lo, hi in model.shapes:
        p[wname] = (torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(torch.float32)
    with torch.no_grad():
        probs = model.forward(x, p, False)[0]
        base = golden.Model(specs[False]["input_shape"], keras_layers(specs[False]))
        feats = base.forward(x, p, False)[0]
    path = os.path.join(HERE, name + suffix + ".h5")
    # libver "latest": compact object headers, about half the default layout's size (package vgg's tests read the default layout).
    with h5py.File(path, "w", libver="latest") as f:
        names = []
        for l in specs[True]["layers"]:
            lname = l["config"]["name"]
            names.append(lname)
            grp = f.create_group(lname)
            wnames = []
            for wname, _, _, _ in model.shapes:
                if wname.split("/")[0] == lname:
                    wn = wname + ":0"
                    grp.create_dataset(wn, data=p[wname].numpy(), track_times=False)
                    wnames.append(wn)
            # Keras: an empty list of names is an empty float64 array.
            grp.attrs["weight_names"] = np.asarray([n.encode("utf8") for n in wnames])
        f.attrs["layer_names"] = np.asarray([n.encode("utf8") for n in names])
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = np.bytes_(b"2.2.4")
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    return {"file": name + suffix + ".h5", "classes": model.out_shape[0], "probs": [round(v, 7) for v in probs.flatten().tolist()],
            "features_shape": list(feats.shape[1:]), "features": [round(v, 6) for v in feats.flatten().tolist()]}


if __name__ == "__main__":
    main()
