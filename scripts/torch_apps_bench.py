#!/usr/bin/python3
"""Peer for applications' BenchmarkForward: torchvision's resnet18,
resnet50 and mobilenet_v2 (random weights, eval mode, no_grad) forward
speed on the CPU, at 224x224 batch 1 and 32x32 batch 64.

Prints one JSON line per (network, size) with images per second.
    /usr/bin/python3 scripts/torch_apps_bench.py --threads 2 --seconds 5
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
p.add_argument("--nets", default="resnet18,resnet50,mobilenet_v2")
a = p.parse_args()
torch.set_num_threads(a.threads)
for name in a.nets.split(","):
    m = getattr(torchvision.models, name)().eval()
    for hw, bs in ((224, 1), (32, 64)):
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
