#!/usr/bin/env python3
"""On-paper efficiency of Capa's data-parallel training on N machines.

Prints the table of docs/scaling.md from the figures measured on this
machine (given below, with where each comes from). The model: every step,
each machine computes its batch in t_c seconds, then the gradients (S bytes)
are summed by a ring all-reduce, which sends and receives 2(N-1)/N * S bytes
per machine in 2(N-1) messages:

    t_ar = 2(N-1)/N * S / B + 2(N-1) * alpha

Capa's all-reduce follows the backward pass (no overlap), so a step takes
t_c + t_ar and the efficiency (speed-up over N) is t_c / (t_c + t_ar).
Usage: python3 scripts/scaling_estimate.py
"""

# Measured on the 2-core Zen 5 machine (docs/scaling.md says how).
MODELS = [
    # name, gradient bytes (parameters x 4, + loss and batch size), compute per step at batch 32 (s)
    ("practical CNN", (62346 + 2) * 4, 7.49e-3),   # BenchmarkTrainStepBatch32, median of 3
    ("ResNet50", (25557032 + 2) * 4, 3 * 32 / 13.19),  # 3 x forward: capa bench --arch resnet50, 13.19 img/s
]
# Networks: name, usable bandwidth (bytes/s), latency per message (s).
NETWORKS = [
    ("10 Gbit/s", 0.8 * 10e9 / 8, 20e-6),   # TCP over Ethernet
    ("100 Gbit/s", 0.8 * 100e9 / 8, 5e-6),  # RDMA (InfiniBand, RoCE)
]
MACHINES = [8, 64]


def allreduce(n, size, bw, alpha):
    return 2 * (n - 1) / n * size / bw + 2 * (n - 1) * alpha


def main():
    print("| model | gradients | compute per step | network | N | all-reduce | efficiency | images/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, size, tc in MODELS:
        for net, bw, alpha in NETWORKS:
            for n in MACHINES:
                tar = allreduce(n, size, bw, alpha)
                eff = tc / (tc + tar)
                print(f"| {name} | {size / 1e6:.2f} MB | {tc * 1e3:.1f} ms | {net} | {n} | "
                      f"{tar * 1e3:.2f} ms | {100 * eff:.0f}% | {n * 32 / (tc + tar):,.0f} |")


if __name__ == "__main__":
    main()
