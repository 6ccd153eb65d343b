#!/usr/bin/python3
"""ONNX files exported by PyTorch (torch.onnx.export, which works without
the onnx package), and PyTorch's outputs on a fixed input, for
interchange/onnx_import_test.go:

- practical.onnx: the practical's CNN written in PyTorch, with its
  Dense(64) head and dropout (1x28x28 inputs);
- resnet18_mini.onnx: torchvision's resnet18, every width divided by 8
  (the published width is 8x; the operators are the same), 3x32x32;
- mobilenet_v2_mini.onnx: torchvision's mobilenet_v2 at width_mult 0.25,
  3x32x32;
- decoder.onnx: transposed convolutions with PyTorch's padding and
  output_padding (3x10x12), made after the others with its own seed.

Random weights and BatchNorm statistics (eval mode: PyTorch folds the
BatchNorms into the convolutions), opset 13, a dynamic batch. The outputs
go to onnx_golden.json.

    /usr/bin/python3 scripts/onnx_golden.py
    /usr/bin/python3 scripts/onnx_golden.py --full DEST

--full writes into DEST torchvision's own resnet18 and mobilenet_v2, full
size, random weights, 224x224: the on-request check CAPA_ONNX_FULL=DEST.
"""
import json
import os
import sys
import warnings

import torch
import torch.nn as nn
from torchvision.models import mobilenet_v2, resnet18
from torchvision.models.mobilenetv2 import MobileNetV2
from torchvision.models.resnet import BasicBlock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from applications_golden import Reduced, randomize_bn  # noqa: E402

warnings.filterwarnings("ignore")
HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "interchange", "testdata")


def main():
    torch.manual_seed(12)
    dest = HERE
    if len(sys.argv) == 3 and sys.argv[1] == "--full":
        dest = sys.argv[2]
        os.makedirs(dest, exist_ok=True)
        cases = {"resnet18": (resnet18(), (3, 224, 224)), "mobilenet_v2": (mobilenet_v2(), (3, 224, 224))}
    else:
        cases = {
        "practical": (nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1024, 64), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(64, 10), nn.Softmax(1)), (1, 28, 28)),
        "resnet18_mini": (Reduced(BasicBlock, [2, 2, 2, 2], 8, 10), (3, 32, 32)),
        "mobilenet_v2_mini": (MobileNetV2(num_classes=10, width_mult=0.25), (3, 32, 32)),
        }
    golden = {"about": "scripts/onnx_golden.py", "torch": torch.__version__, "models": {}}
    later = {}
    if dest == HERE:
        later = {"decoder": lambda: (nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(6, 4, (2, 3), stride=(3, 2), padding=(0, 1)),
            nn.ConvTranspose2d(4, 2, 4, stride=2, bias=False)), (3, 10, 12))}
    for name, (m, shape) in cases.items():
        export(dest, golden, name, m, shape)
    for name, build in later.items():
        torch.manual_seed(13)
        export(dest, golden, name, *build())
    with open(os.path.join(dest, "onnx_golden.json"), "w") as f:
        json.dump(golden, f)


def export(dest, golden, name, m, shape):
    """Exports m and records its output on a random batch of 2."""
    randomize_bn(m)
    m.eval()
    x = torch.rand(2, *shape)
    with torch.no_grad():
        y = m(x)
    path = os.path.join(dest, name + ".onnx")
    torch.onnx.export(m, x, path, opset_version=13, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    golden["models"][name] = {"file": name + ".onnx", "input_shape": list(x.shape),
                              "input": x.flatten().tolist(), "output_shape": list(y.shape),
                              "output": y.flatten().tolist()}
    print(name, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
