#!/usr/bin/python3
"""Peer of `capa bench --arch NAME` and of applications' BenchmarkForward:
the convolutional base of torchvision's resnet18, resnet34, resnet50 or
mobilenet_v2 (random weights, eval mode, no_grad; without the classifier
and its pooling, as Capa's NoTop base) forward speed on the CPU, at each
of --sizes in the batches of ../shared/peer/torch_vgg16_features.py
(64 images of 32x32 or as many pixels, at least 1: 1 at 224x224).

Prints one JSON line per (network, size) with images per second:
    /usr/bin/python3 scripts/torch_apps_bench.py --threads 2 --net resnet50 --sizes 32,224 --seconds 5
"""
import argparse
import json
import os
import time

import torch
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--seconds", type=float, default=5.0)
p.add_argument("--sizes", default="224,32")
p.add_argument("--net", default="resnet18,resnet50,mobilenet_v2", help="one network or a comma-separated list")
a = p.parse_args()
torch.set_num_threads(a.threads)


def base(name):
    m = getattr(torchvision.models, name)()
    if name.startswith("mobilenet"):
        return m.features.eval()
    return torch.nn.Sequential(*list(m.children())[:-2]).eval()  # drop avgpool and fc


for name in a.net.split(","):
    m = base(name)
    for hw in [int(s) for s in a.sizes.split(",")]:
        bs = max(1, min(64, (64 * 32 * 32) // (hw * hw)))
        x = torch.rand(bs, 3, hw, hw)
        with torch.no_grad():
            m(x)
            t0, done = time.perf_counter(), 0
            while time.perf_counter() - t0 < a.seconds:
                m(x)
                done += bs
        dt = time.perf_counter() - t0
        print(json.dumps({"net": name, "size": hw, "batch_size": bs, "images_per_second": round(done / dt, 2),
                          "framework": "pytorch " + torch.__version__}), flush=True)
