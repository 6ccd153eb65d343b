#!/usr/bin/python3
"""Generate Capa's golden file: PyTorch configured to Keras semantics.

Regenerate (from the repository root; needs Debian's python3-torch, so use
/usr/bin/python3, not a pyenv python3):

    /usr/bin/python3 scripts/golden.py            # writes testdata/golden/keras_torch.json
    /usr/bin/python3 scripts/golden.py -o FILE    # writes FILE instead
    /usr/bin/python3 scripts/golden.py --append   # adds only the cases the file lacks

(--append keeps the committed values of the other cases: another CPU's
BLAS rounds their last digits differently, within the tests' tolerances.)
    go test ./train -run Golden -v

The output is deterministic: tensors come from a splitmix64 generator that
train/golden_test.go reimplements, and the labels and sampled indices from
torch with a fixed seed (SEED). Python is never needed to run the Go tests:
the JSON file is committed.

Each case is a small Keras-style model (layers as Capa layer specs,
{"class_name", "config"}, which graph.FromSpec reads) evaluated in float32
with torch, NHWC throughout, weights in Capa's layout and under Capa's names:

  * Conv2D kernel (KH, KW, Cin, Cout): torch's weight is kernel.permute(3, 2, 0, 1)
    (so kernel = weight.permute(2, 3, 1, 0)); "same" padding is Keras's
    (TensorFlow's): total = max((ceil(in/s)-1)*s + k - in, 0), the extra
    row/column at the bottom/right, done with F.pad then a valid conv.
  * Dense kernel (in, out): torch's Linear weight is kernel.T.
  * Flatten flattens (H, W, C) in that order (the tensors stay NHWC; a torch
    model in NCHW would permute to NHWC before flattening).
  * MaxPooling2D "same" pads with -inf; AveragePooling2D "same" divides the
    zero-padded window sum by the number of real cells.
  * BatchNormalization (momentum 0.99, epsilon 1e-3) normalizes with the
    biased batch variance in training and updates
    moving = moving*0.99 + batch*0.01 with that same biased variance
    (torch's own BatchNorm would use the unbiased one); inference uses the
    moving statistics.
  * A kernel_regularizer {"l2": λ} adds λ·Σw² to the loss (Keras).
  * Losses are Keras's, from the logits of the softmax/sigmoid head, averaged
    over the batch: sparse/categorical cross-entropy and binary
    cross-entropy.
  * Optimizers use Keras's formulas, written out here (not torch.optim):
      Adam:    m += (g-m)(1-β1); v += (g²-v)(1-β2);
               w -= lr·sqrt(1-β2ᵗ)/(1-β1ᵗ)·m/(sqrt(v)+ε)
      SGD:     v = μv - lr·g; w += v, or with Nesterov w += μv - lr·g
      RMSprop: v = ρv + (1-ρ)g²; w -= lr·g/sqrt(v+ε)
      Adagrad: a (starts at 0.1) += g²; w -= lr·g/sqrt(a+ε)
    computed in float64 from float32 gradients, each step's weights rounded
    to float32. Runs of 2 steps check the step counter and the slots.

JSON layout (one object per case, under "cases"):

  name, input_shape (H, W, C), batch, loss (Keras name),
  layers: [{"class_name", "config"}],
  x: tensor (batch, H, W, C); y: labels (flat list),
  weights: {param name: tensor}, every weight of the Capa model, moving
           statistics included,
  forward: training mode at the initial weights: output tensor, loss
           (penalties included), grads {trainable param name: tensor},
  inference: inference mode: output tensor, loss (Keras's evaluate loss,
             penalties included),
  runs: [{optimizer (Capa/Keras class), config (Keras arguments; {} means
          Keras's defaults), steps, losses (the loss of each step, before its
          update), weights {every param after the last step}}].

A tensor is {"shape": [...]} with one of
  "data": [...]                 all values, row-major;
  "gen": {"seed", "lo", "hi"}   values from the generator below (inputs and
                                weights too large to store), with "sum", the
                                float64 sum of the float32 values, to check
                                the Go generator against;
  "sample": {"idx", "data"}     expected values too large to store: a fixed
                                random subset, with "norm" (L2) and "l1" of
                                the whole tensor.
Floats are rounded to 9 significant digits (enough to round-trip float32).
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

SEED = 20240607
MAX_STORED = 1024  # larger tensors are generated (inputs) or sampled (outputs)
SAMPLE = 256
MASK64 = (1 << 64) - 1


def gen_values(seed, n, lo, hi):
    """n float32 values, lo + (hi-lo)*u with u = (splitmix64 >> 41) / 2^23.

    The Go test reimplements this bit for bit (goldenGen)."""
    out = []
    state = seed & MASK64
    span = hi - lo
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        u = (z >> 41) / float(1 << 23)
        out.append(lo + span * u)
    return torch.tensor(out, dtype=torch.float64).to(torch.float32)


def r9(v):
    return float("%.9g" % v)


class Tensors:
    """Creates the input tensors of the cases and their JSON forms."""

    def __init__(self):
        self.next_seed = 1

    def make(self, shape, lo, hi):
        n = math.prod(shape)
        seed = self.next_seed
        self.next_seed += 1
        t = gen_values(seed, n, lo, hi).reshape(shape)
        if n <= MAX_STORED:
            return t, {"shape": list(shape), "data": [r9(v) for v in t.flatten().tolist()]}
        j = {"shape": list(shape), "gen": {"seed": seed, "lo": lo, "hi": hi},
             "sum": r9(t.double().sum().item())}
        return t, j


def expected(t, g):
    """JSON form of an expected tensor: all values, or a sample."""
    t = t.detach().to(torch.float32)
    flat = t.flatten()
    n = flat.numel()
    if n <= MAX_STORED:
        return {"shape": list(t.shape), "data": [r9(v) for v in flat.tolist()]}
    idx = torch.randperm(n, generator=g)[:SAMPLE].sort().values
    return {"shape": list(t.shape),
            "sample": {"idx": idx.tolist(), "data": [r9(v) for v in flat[idx].tolist()]},
            "norm": r9(flat.double().norm().item()),
            "l1": r9(flat.double().abs().sum().item())}


# ---------------------------------------------------------------- layers

def deconv_length(n, cfg, axis):
    """Keras's output length of a Conv2DTranspose along an axis and the
    padding before it (TensorFlow's conv2d_transpose)."""
    k, s = cfg["kernel_size"][axis], cfg.get("strides", [1, 1])[axis]
    same = cfg.get("padding") == "same"
    op = cfg.get("output_padding")
    if op is None:
        out = n * s if same else n * s + max(k - s, 0)
    else:
        out = (n - 1) * s + k - (2 * (k // 2) if same else 0) + op[axis]
    top = max((n - 1) * s + k - out, 0) // 2 if same else 0
    return out, top


def same_pad(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pads(h, w, k, s, padding):
    if padding == "same":
        t, b = same_pad(h, k[0], s[0])
        l, r = same_pad(w, k[1], s[1])
        return (l, r, t, b)  # F.pad order: last dim first
    return (0, 0, 0, 0)


INPUT = "input_layer"  # the input's name in a Functional case


def inbound(spec, prev):
    """The names of the layers a layer is applied to: its Keras-style
    "inbound_nodes" (one application) in a Functional case, else the
    previous layer."""
    nodes = spec.get("inbound_nodes")
    if not nodes:
        return [prev]
    assert len(nodes) == 1
    return [ref[0] for ref in nodes[0]]


def _fold(f):
    def merge(xs, cfg):
        y = xs[0]
        for x in xs[1:]:
            y = f(y, x)
        return y
    return merge


# Keras's merge layers; torch broadcasts dimensions of size 1 as Keras does.
MERGES = {
    "Add": _fold(torch.add),
    "Subtract": lambda xs, cfg: xs[0] - xs[1],
    "Multiply": _fold(torch.mul),
    "Average": lambda xs, cfg: _fold(torch.add)(xs, cfg) / len(xs),
    "Maximum": _fold(torch.maximum),
    "Minimum": _fold(torch.minimum),
    # The axis counts the batch, as Keras's; the tensors are NHWC.
    "Concatenate": lambda xs, cfg: torch.cat(xs, dim=cfg.get("axis", -1)),
}


# Keras 3's activations by name, in torch.
ACTIVATIONS = {
    "linear": lambda v: v, "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "softmax": lambda v: torch.softmax(v, dim=-1),
    "relu6": F.relu6, "leaky_relu": lambda v: F.leaky_relu(v, 0.2), "elu": F.elu, "selu": F.selu,
    "softplus": F.softplus, "softsign": F.softsign, "silu": F.silu, "swish": F.silu,
    "hard_sigmoid": F.hardsigmoid, "hard_silu": F.hardswish, "hard_swish": F.hardswish,
    "gelu": F.gelu, "gelu_approximate": lambda v: F.gelu(v, approximate="tanh"),
    "mish": F.mish, "exponential": torch.exp,
}


class Model:
    """A Keras-semantics torch model interpreting Capa layer specs, NHWC;
    a Functional case's layers name their inputs ("inbound_nodes")."""

    def __init__(self, input_shape, layers):
        self.input_shape = input_shape
        self.layers = layers
        self.shapes = []  # (name, shape, kind, init range) of every weight, Capa order
        shape = list(input_shape)
        out = {INPUT: shape}  # each layer's output shape, by name
        prev = INPUT
        for spec in layers:
            c, cfg = spec["class_name"], spec["config"]
            name = cfg["name"]
            ins = [out[n] for n in inbound(spec, prev)]
            shape = ins[0]
            if c in MERGES:
                if c == "Concatenate":
                    ax = cfg.get("axis", -1) % (len(shape) + 1) - 1
                    shape = list(shape)
                    shape[ax] = sum(s[ax] for s in ins)
                else:
                    shape = [max(d) for d in zip(*ins)]
            elif c == "GlobalMaxPooling2D":
                shape = [shape[2]]
            elif c in ("ReLU", "LeakyReLU", "ELU", "Rescaling"):
                pass
            elif c == "DepthwiseConv2D":
                kh, kw = cfg["kernel_size"]
                cin, dm = shape[2], cfg.get("depth_multiplier", 1)
                # Keras's fans for (KH, KW, C, dm): C·KH·KW in, dm·KH·KW out.
                lim = math.sqrt(6 / (kh * kw * (cin + dm)))
                self.shapes.append((name + "/depthwise_kernel", [kh, kw, cin, dm], -lim, lim))
                if not cfg.get("no_bias"):
                    self.shapes.append((name + "/bias", [cin * dm], -0.1, 0.1))
                s = cfg.get("strides", [1, 1])
                if cfg.get("padding") == "same":
                    shape = [-(-shape[0] // s[0]), -(-shape[1] // s[1]), cin * dm]
                else:
                    shape = [(shape[0] - kh) // s[0] + 1, (shape[1] - kw) // s[1] + 1, cin * dm]
            elif c == "ZeroPadding2D":
                (t, b), (l, r) = cfg["padding"]
                shape = [shape[0] + t + b, shape[1] + l + r, shape[2]]
            elif c == "Cropping2D":
                (t, b), (l, r) = cfg["cropping"]
                shape = [shape[0] - t - b, shape[1] - l - r, shape[2]]
            elif c == "UpSampling2D":
                sh, sw = cfg.get("size", [2, 2])
                shape = [shape[0] * sh, shape[1] * sw, shape[2]]
            elif c == "Reshape":
                tgt = list(cfg["target_shape"])
                if -1 in tgt:
                    tgt[tgt.index(-1)] = math.prod(shape) // -math.prod(tgt)
                shape = tgt
            elif c == "Conv2D":
                kh, kw = cfg["kernel_size"]
                cin = shape[2] // cfg.get("groups", 1)
                lim = math.sqrt(6 / (kh * kw * (cin + cfg["filters"])))
                self.shapes.append((name + "/kernel", [kh, kw, cin, cfg["filters"]], -lim, lim))
                if not cfg.get("no_bias"):
                    self.shapes.append((name + "/bias", [cfg["filters"]], -0.1, 0.1))
                s = cfg.get("strides", [1, 1])
                d = cfg.get("dilation_rate", [1, 1])
                kh, kw = (kh - 1) * d[0] + 1, (kw - 1) * d[1] + 1
                if cfg.get("padding") == "same":
                    shape = [-(-shape[0] // s[0]), -(-shape[1] // s[1]), cfg["filters"]]
                else:
                    shape = [(shape[0] - kh) // s[0] + 1, (shape[1] - kw) // s[1] + 1, cfg["filters"]]
            elif c == "SeparableConv2D":
                kh, kw = cfg["kernel_size"]
                cin, dm, f = shape[2], cfg.get("depth_multiplier", 1), cfg["filters"]
                lim = math.sqrt(6 / (kh * kw * (cin + dm)))
                self.shapes.append((name + "/depthwise_kernel", [kh, kw, cin, dm], -lim, lim))
                lim = math.sqrt(6 / (cin * dm + f))
                self.shapes.append((name + "/pointwise_kernel", [1, 1, cin * dm, f], -lim, lim))
                if not cfg.get("no_bias"):
                    self.shapes.append((name + "/bias", [f], -0.1, 0.1))
                s = cfg.get("strides", [1, 1])
                if cfg.get("padding") == "same":
                    shape = [-(-shape[0] // s[0]), -(-shape[1] // s[1]), f]
                else:
                    shape = [(shape[0] - kh) // s[0] + 1, (shape[1] - kw) // s[1] + 1, f]
            elif c == "Conv2DTranspose":
                kh, kw = cfg["kernel_size"]
                cin, f = shape[2], cfg["filters"]
                lim = math.sqrt(6 / (kh * kw * (cin + f)))
                self.shapes.append((name + "/kernel", [kh, kw, f, cin], -lim, lim))
                if not cfg.get("no_bias"):
                    self.shapes.append((name + "/bias", [f], -0.1, 0.1))
                shape = [deconv_length(shape[i], cfg, i)[0] for i in range(2)] + [f]
            elif c == "LayerNormalization":
                ch = shape[-1]
                self.shapes += [(name + "/gamma", [ch], 0.5, 1.5), (name + "/beta", [ch], -0.5, 0.5)]
            elif c == "PReLU":
                a = list(shape)
                for ax in cfg.get("shared_axes") or []:
                    a[ax - 1] = 1
                self.shapes.append((name + "/alpha", a, 0.0, 0.5))
            elif c == "Permute":
                shape = [shape[d - 1] for d in cfg["dims"]]
            elif c == "Dense":
                lim = math.sqrt(6 / (shape[0] + cfg["units"]))
                self.shapes.append((name + "/kernel", [shape[0], cfg["units"]], -lim, lim))
                if not cfg.get("no_bias"):
                    self.shapes.append((name + "/bias", [cfg["units"]], -0.1, 0.1))
                shape = [cfg["units"]]
            elif c in ("MaxPooling2D", "AveragePooling2D"):
                k = cfg.get("pool_size", [2, 2])
                s = cfg.get("strides", k)
                if cfg.get("padding") == "same":
                    shape = [-(-shape[0] // s[0]), -(-shape[1] // s[1]), shape[2]]
                else:
                    shape = [(shape[0] - k[0]) // s[0] + 1, (shape[1] - k[1]) // s[1] + 1, shape[2]]
            elif c == "Flatten":
                shape = [math.prod(shape)]
            elif c == "GlobalAveragePooling2D":
                shape = [shape[2]]
            elif c == "BatchNormalization":
                ch = shape[-1]
                self.shapes += [(name + "/gamma", [ch], 0.5, 1.5), (name + "/beta", [ch], -0.5, 0.5),
                                (name + "/moving_mean", [ch], -0.5, 0.5),
                                (name + "/moving_variance", [ch], 0.5, 1.5)]
            elif c == "Activation":
                pass
            else:
                raise ValueError("unknown layer class " + c)
            out[name] = shape
            prev = name
        self.out_shape = shape

    def forward(self, x, p, training):
        """Returns (output, logits of the head, head activation, new moving stats)."""
        logits, act = None, None
        new_stats = {}
        out = {INPUT: x}  # each layer's output, by name
        prev = INPUT
        for spec in self.layers:
            c, cfg = spec["class_name"], spec["config"]
            name = cfg["name"]
            a = cfg.get("activation", "linear")
            xs = [out[n] for n in inbound(spec, prev)]
            x = xs[0]
            if c in MERGES:
                x = MERGES[c](xs, cfg)
            elif c == "GlobalMaxPooling2D":
                x = x.amax(dim=(1, 2))
            elif c == "DepthwiseConv2D":
                k = p[name + "/depthwise_kernel"]  # (KH, KW, C, dm)
                kh, kw, cin, dm = k.shape
                s = cfg.get("strides", [1, 1])
                xn = x.permute(0, 3, 1, 2)
                xn = F.pad(xn, pads(xn.shape[2], xn.shape[3], (kh, kw), s, cfg.get("padding")))
                # torch's grouped weight (C*dm, 1, KH, KW): channel c*dm + m
                w = k.permute(2, 3, 0, 1).reshape(cin * dm, 1, kh, kw)
                x = F.conv2d(xn, w, stride=s, groups=cin).permute(0, 2, 3, 1)
                if name + "/bias" in p:
                    x = x + p[name + "/bias"]
            elif c == "ZeroPadding2D":
                (t, b), (l, r) = cfg["padding"]
                x = F.pad(x.permute(0, 3, 1, 2), (l, r, t, b)).permute(0, 2, 3, 1)
            elif c == "Cropping2D":
                (t, b), (l, r) = cfg["cropping"]
                x = x[:, t:x.shape[1] - b, l:x.shape[2] - r, :]
            elif c == "UpSampling2D" and cfg.get("interpolation") == "bilinear":
                sh, sw = cfg.get("size", [2, 2])
                x = F.interpolate(x.permute(0, 3, 1, 2), scale_factor=(sh, sw), mode="bilinear",
                                  align_corners=False).permute(0, 2, 3, 1)
            elif c == "UpSampling2D":
                sh, sw = cfg.get("size", [2, 2])
                x = x.repeat_interleave(sh, dim=1).repeat_interleave(sw, dim=2)
            elif c == "Reshape":
                x = x.reshape([x.shape[0]] + list(cfg["target_shape"]))
            elif c == "SeparableConv2D":
                k = p[name + "/depthwise_kernel"]
                kh, kw, cin, dm = k.shape
                s = cfg.get("strides", [1, 1])
                xn = x.permute(0, 3, 1, 2)
                xn = F.pad(xn, pads(xn.shape[2], xn.shape[3], (kh, kw), s, cfg.get("padding")))
                xn = F.conv2d(xn, k.permute(2, 3, 0, 1).reshape(cin * dm, 1, kh, kw), stride=s, groups=cin)
                x = F.conv2d(xn, p[name + "/pointwise_kernel"].permute(3, 2, 0, 1)).permute(0, 2, 3, 1)
                if name + "/bias" in p:
                    x = x + p[name + "/bias"]
            elif c == "Conv2DTranspose":
                k = p[name + "/kernel"]  # (KH, KW, F, Cin); torch's (Cin, F, KH, KW)
                s = cfg.get("strides", [1, 1])
                full = F.conv_transpose2d(x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1), stride=s)
                (oh, top), (ow, left) = deconv_length(x.shape[1], cfg, 0), deconv_length(x.shape[2], cfg, 1)
                # The output is the full transposed convolution cropped by
                # the padding, zero where no window reaches.
                full = F.pad(full, (0, max(0, left + ow - full.shape[3]), 0, max(0, top + oh - full.shape[2])))
                x = full[:, :, top:top + oh, left:left + ow].permute(0, 2, 3, 1)
                if name + "/bias" in p:
                    x = x + p[name + "/bias"]
            elif c == "LayerNormalization":
                x = F.layer_norm(x, (x.shape[-1],), p[name + "/gamma"], p[name + "/beta"], cfg.get("epsilon", 1e-3))
            elif c == "PReLU":
                x = torch.where(x > 0, x, p[name + "/alpha"] * x)
            elif c == "Permute":
                x = x.permute([0] + list(cfg["dims"]))
            elif c == "Rescaling":
                x = x * cfg["scale"] + cfg.get("offset", 0.0)
            elif c == "ReLU":
                m = cfg.get("max_value") or math.inf
                s, th = cfg.get("negative_slope", 0.0), cfg.get("threshold", 0.0)
                x = torch.where(x >= m, torch.full_like(x, m), torch.where(x >= th, x, s * (x - th)))
            elif c == "LeakyReLU":
                x = F.leaky_relu(x, cfg.get("negative_slope", 0.3))
            elif c == "ELU":
                x = F.elu(x, cfg.get("alpha", 1.0))
            elif c == "Conv2D":
                k = p[name + "/kernel"]
                s = cfg.get("strides", [1, 1])
                # torch weight (Cout, Cin, KH, KW) from Capa's (KH, KW, Cin, Cout)
                d = cfg.get("dilation_rate", [1, 1])
                eff = ((k.shape[0] - 1) * d[0] + 1, (k.shape[1] - 1) * d[1] + 1)
                xn = x.permute(0, 3, 1, 2)
                xn = F.pad(xn, pads(xn.shape[2], xn.shape[3], eff, s, cfg.get("padding")))
                y = F.conv2d(xn, k.permute(3, 2, 0, 1), stride=s, dilation=d, groups=cfg.get("groups", 1))
                x = y.permute(0, 2, 3, 1)
                if name + "/bias" in p:
                    x = x + p[name + "/bias"]
            elif c == "Dense":
                # torch Linear weight is (out, in) = Capa kernel.T
                x = F.linear(x, p[name + "/kernel"].t(), p.get(name + "/bias"))
            elif c == "MaxPooling2D":
                k = cfg.get("pool_size", [2, 2])
                s = cfg.get("strides", k)
                xn = x.permute(0, 3, 1, 2)
                xn = F.pad(xn, pads(xn.shape[2], xn.shape[3], k, s, cfg.get("padding")), value=-math.inf)
                x = F.max_pool2d(xn, k, s).permute(0, 2, 3, 1)
            elif c == "AveragePooling2D":
                k = cfg.get("pool_size", [2, 2])
                s = cfg.get("strides", k)
                xn = x.permute(0, 3, 1, 2)
                pd = pads(xn.shape[2], xn.shape[3], k, s, cfg.get("padding"))
                total = F.avg_pool2d(F.pad(xn, pd), k, s, divisor_override=1)
                ones = torch.ones(1, 1, xn.shape[2], xn.shape[3])
                count = F.avg_pool2d(F.pad(ones, pd), k, s, divisor_override=1)
                x = (total / count).permute(0, 2, 3, 1)
            elif c == "Flatten":
                x = x.reshape(x.shape[0], -1)  # NHWC: (H, W, C) order, as Keras
            elif c == "GlobalAveragePooling2D":
                x = x.mean(dim=(1, 2))
            elif c == "BatchNormalization":
                eps = cfg.get("epsilon", 1e-3)
                mom = cfg.get("momentum", 0.99)
                axes = tuple(range(x.dim() - 1))
                mm, mv = p[name + "/moving_mean"], p[name + "/moving_variance"]
                if training:
                    mean = x.mean(dim=axes)
                    var = x.var(dim=axes, unbiased=False)
                    new_stats[name + "/moving_mean"] = (mm * mom + mean.detach() * (1 - mom))
                    new_stats[name + "/moving_variance"] = (mv * mom + var.detach() * (1 - mom))
                else:
                    mean, var = mm, mv
                x = p[name + "/gamma"] * (x - mean) / torch.sqrt(var + eps) + p[name + "/beta"]
            elif c == "Activation":
                pass
            if a in ("softmax", "sigmoid"):
                logits, act = x, a
            x = ACTIVATIONS[a](x)
            out[name] = x
            prev = name
        return x, logits, act, new_stats

    def loss(self, loss_name, out, logits, act, y, p):
        if loss_name == "sparse_categorical_crossentropy":
            assert act == "softmax"
            loss = F.cross_entropy(logits, y.long())
        elif loss_name == "categorical_crossentropy":
            assert act == "softmax"
            loss = -(y * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
        elif loss_name == "binary_crossentropy":
            assert act == "sigmoid"
            loss = F.binary_cross_entropy_with_logits(logits, y)
        else:
            raise ValueError(loss_name)
        for spec in self.layers:
            reg = spec["config"].get("kernel_regularizer")
            if reg:
                w = p[spec["config"]["name"] + "/kernel"]
                loss = loss + reg.get("l2", 0) * (w * w).sum() + reg.get("l1", 0) * w.abs().sum()
        return loss


# ------------------------------------------------------------- optimizers

def keras_update(opt, cfg, w, g, slots, t):
    """One Keras step in float64; returns the new float32 weights."""
    w = w.double()
    g = g.double()
    if opt == "Adam":
        lr, b1, b2, eps = cfg.get("learning_rate", 1e-3), cfg.get("beta_1", 0.9), cfg.get("beta_2", 0.999), cfg.get("epsilon", 1e-7)
        m = slots.setdefault("m", torch.zeros_like(w))
        v = slots.setdefault("v", torch.zeros_like(w))
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w = w - alpha * m / (torch.sqrt(v) + eps)
    elif opt == "SGD":
        lr, mu = cfg.get("learning_rate", 0.01), cfg.get("momentum", 0.0)
        if mu == 0:
            w = w - lr * g
        else:
            v = slots.setdefault("momentum", torch.zeros_like(w))
            v.mul_(mu).sub_(lr * g)
            w = w + (mu * v - lr * g if cfg.get("nesterov") else v)
    elif opt == "RMSprop":
        lr, rho, eps = cfg.get("learning_rate", 1e-3), cfg.get("rho", 0.9), cfg.get("epsilon", 1e-7)
        v = slots.setdefault("velocity", torch.zeros_like(w))
        v.mul_(rho).add_((1 - rho) * g * g)
        w = w - lr * g / torch.sqrt(v + eps)
    elif opt == "Adagrad":
        lr, eps = cfg.get("learning_rate", 1e-3), cfg.get("epsilon", 1e-7)
        a = slots.setdefault("accumulator", torch.full_like(w, cfg.get("initial_accumulator_value", 0.1)))
        a += g * g
        w = w - lr * g / torch.sqrt(a + eps)
    else:
        raise ValueError(opt)
    return w.to(torch.float32)


# ------------------------------------------------------------------ cases

def conv(name, filters, k, act="linear", strides=None, padding=None, **kw):
    cfg = {"name": name, "filters": filters, "kernel_size": list(k), "activation": act}
    if strides:
        cfg["strides"] = list(strides)
    if padding:
        cfg["padding"] = padding
    cfg.update(kw)
    return {"class_name": "Conv2D", "config": cfg}


def dense(name, units, act="linear", **kw):
    cfg = {"name": name, "units": units, "activation": act}
    cfg.update(kw)
    return {"class_name": "Dense", "config": cfg}


def pool(cls, name, k, strides=None, padding=None):
    cfg = {"name": name, "pool_size": list(k)}
    if strides:
        cfg["strides"] = list(strides)
    if padding:
        cfg["padding"] = padding
    return {"class_name": cls, "config": cfg}


def plain(cls, name, **kw):
    cfg = {"name": name}
    cfg.update(kw)
    return {"class_name": cls, "config": cfg}


def on(spec, *names):
    """spec applied to the outputs of the named layers (a Functional case)."""
    spec = dict(spec)
    spec["name"] = spec["config"]["name"]
    spec["inbound_nodes"] = [[[n, 0, 0, {}] for n in names]]
    return spec


CASES = [
    {
        # The practical's MNIST CNN.
        "name": "mnist_cnn", "input_shape": [28, 28, 1], "batch": 3, "x_range": (0.0, 1.0),
        "loss": "sparse_categorical_crossentropy",
        "layers": [
            conv("conv2d", 32, (5, 5), "relu"),
            pool("MaxPooling2D", "max_pooling2d", (2, 2)),
            conv("conv2d_1", 64, (5, 5), "relu"),
            pool("MaxPooling2D", "max_pooling2d_1", (2, 2)),
            plain("Flatten", "flatten"),
            dense("dense", 10, "softmax"),
        ],
        "runs": [("Adam", {}, 2), ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}, 2)],
    },
    {
        # "same" padding with odd totals (extra row/column bottom/right):
        # conv 13x11 k(4,2) s2 -> 7x6, pads H (1,2) W (0,1); max pool (2,3) s2
        # on 7x6 -> 4x3, pads H (0,1) W (0,1) on a linear conv (negative
        # values, so -inf padding matters); avg pool (3,2) s2 on 4x3 -> 2x2,
        # pads H (0,1) W (0,1) after a relu (so the divisor matters).
        "name": "same_padding_binary", "input_shape": [13, 11, 3], "batch": 4, "x_range": (-1.0, 1.0),
        "loss": "binary_crossentropy",
        "layers": [
            conv("conv2d", 8, (4, 2), strides=(2, 2), padding="same"),
            pool("MaxPooling2D", "max_pooling2d", (2, 3), strides=(2, 2), padding="same"),
            conv("conv2d_1", 6, (3, 3), "relu", padding="same"),
            pool("AveragePooling2D", "average_pooling2d", (3, 2), strides=(2, 2), padding="same"),
            plain("GlobalAveragePooling2D", "global_average_pooling2d"),
            dense("dense", 5, "relu"),
            dense("dense_1", 4, "tanh"),
            dense("dense_2", 3, "sigmoid"),
            dense("dense_3", 1, "sigmoid"),
        ],
        "runs": [("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, 2),
                 ("RMSprop", {}, 2), ("Adagrad", {"learning_rate": 0.05}, 2), ("Adam", {"learning_rate": 0.01}, 2)],
    },
    {
        # Categorical cross-entropy on one-hot labels; Flatten of (H, W, C).
        "name": "dense_categorical", "input_shape": [4, 4, 2], "batch": 5, "x_range": (-1.0, 1.0),
        "loss": "categorical_crossentropy",
        "layers": [
            plain("Flatten", "flatten"),
            dense("dense", 8, "sigmoid"),
            dense("dense_1", 6, "tanh"),
            dense("dense_2", 4, "softmax"),
        ],
        "runs": [("Adagrad", {}, 2), ("SGD", {"learning_rate": 0.5}, 1), ("RMSprop", {"learning_rate": 0.01, "rho": 0.8}, 2)],
    },
    {
        # L2 kernel regularizer on a Dense layer.
        "name": "dense_l2", "input_shape": [3, 3, 2], "batch": 4, "x_range": (-1.0, 1.0),
        "loss": "sparse_categorical_crossentropy",
        "layers": [
            plain("Flatten", "flatten"),
            dense("dense", 7, "relu", kernel_regularizer={"l2": 0.05}),
            dense("dense_1", 3, "softmax"),
        ],
        "runs": [("SGD", {"learning_rate": 0.1}, 1), ("Adam", {"learning_rate": 0.01}, 2)],
    },
    {
        # BatchNormalization after a Conv2D (no bias) and after a Dense, in
        # training mode (batch statistics, moving statistics updated) and
        # inference mode (moving statistics).
        "name": "batchnorm", "input_shape": [6, 5, 3], "batch": 4, "x_range": (-1.0, 1.0),
        "loss": "sparse_categorical_crossentropy",
        "layers": [
            conv("conv2d", 4, (3, 3), padding="same", no_bias=True),
            plain("BatchNormalization", "batch_normalization"),
            plain("Activation", "activation", activation="relu"),
            plain("GlobalAveragePooling2D", "global_average_pooling2d"),
            # No bias before a BatchNormalization: its gradient is 0 in
            # exact arithmetic, float noise in both (Adam would amplify it).
            dense("dense", 5, no_bias=True),
            plain("BatchNormalization", "batch_normalization_1", momentum=0.9, epsilon=0.01),
            plain("Activation", "activation_1", activation="tanh"),
            dense("dense_1", 3, "softmax"),
        ],
        "runs": [("SGD", {"learning_rate": 0.1}, 1), ("Adam", {"learning_rate": 0.01}, 2)],
    },
    {
        # A Functional model: two branches on the input, every merge layer
        # on them (each branch consumed seven times: its gradients add up),
        # a Multiply broadcast over H and W (a squeeze-and-excitation gate),
        # Concatenate on channels, GlobalMaxPooling2D.
        "name": "functional_merges", "input_shape": [6, 6, 2], "batch": 3, "x_range": (-1.0, 1.0),
        "loss": "sparse_categorical_crossentropy",
        "layers": [
            on(conv("a", 3, (3, 3), "relu", padding="same"), "input_layer"),
            on(conv("b", 3, (1, 1)), "input_layer"),
            on(plain("Add", "add"), "a", "b"),
            on(plain("Subtract", "subtract"), "a", "b"),
            on(plain("Multiply", "multiply"), "a", "b"),
            on(plain("Average", "average"), "a", "b", "add"),
            on(plain("Maximum", "maximum"), "a", "b"),
            on(plain("Minimum", "minimum"), "a", "b"),
            on(pool("AveragePooling2D", "gate_pool", (6, 6)), "b"),
            on(plain("Activation", "gate", activation="sigmoid"), "gate_pool"),
            on(plain("Multiply", "gated"), "a", "gate"),
            on(plain("Concatenate", "concatenate"), "add", "subtract", "multiply", "average", "maximum",
               "minimum", "gated"),
            on(plain("GlobalMaxPooling2D", "global_max_pooling2d"), "concatenate"),
            on(dense("dense", 4, "softmax"), "global_max_pooling2d"),
        ],
        "runs": [("Adam", {"learning_rate": 0.01}, 2)],
    },
    {
        # Every registered activation and the activation layers, as
        # branches on one Dense, concatenated.
        "name": "activations", "input_shape": [5], "batch": 4, "x_range": (-2.0, 2.0),
        "loss": "sparse_categorical_crossentropy",
        "layers": [
            on(dense("dense", 6), "input_layer"),
            on(plain("Activation", "act_relu6", activation="relu6"), "dense"),
            on(plain("Activation", "act_leaky_relu", activation="leaky_relu"), "dense"),
            on(plain("Activation", "act_elu", activation="elu"), "dense"),
            on(plain("Activation", "act_selu", activation="selu"), "dense"),
            on(plain("Activation", "act_softplus", activation="softplus"), "dense"),
            on(plain("Activation", "act_softsign", activation="softsign"), "dense"),
            on(plain("Activation", "act_silu", activation="silu"), "dense"),
            on(plain("Activation", "act_swish", activation="swish"), "dense"),
            on(plain("Activation", "act_hard_sigmoid", activation="hard_sigmoid"), "dense"),
            on(plain("Activation", "act_hard_silu", activation="hard_silu"), "dense"),
            on(plain("Activation", "act_hard_swish", activation="hard_swish"), "dense"),
            on(plain("Activation", "act_gelu", activation="gelu"), "dense"),
            on(plain("Activation", "act_gelu_approximate", activation="gelu_approximate"), "dense"),
            on(plain("Activation", "act_mish", activation="mish"), "dense"),
            on(plain("Activation", "act_exponential", activation="exponential"), "dense"),
            on(plain("ReLU", "re_lu", max_value=1.5, negative_slope=0.1, threshold=-0.2), "dense"),
            on(plain("LeakyReLU", "leaky_re_lu", negative_slope=0.25), "dense"),
            on(plain("ELU", "elu_layer", alpha=0.7), "dense"),
            on(plain("Concatenate", "concatenate"), "act_relu6", "act_leaky_relu", "act_elu", "act_selu", "act_softplus", "act_softsign", "act_silu", "act_swish", "act_hard_sigmoid", "act_hard_silu", "act_hard_swish", "act_gelu", "act_gelu_approximate", "act_mish", "act_exponential", "re_lu", "leaky_re_lu", "elu_layer"),
            on(dense("dense_1", 3, "softmax"), "concatenate"),
        ],
        "runs": [("Adam", {"learning_rate": 0.01}, 2)],
    },
    {
        # The reshaping layers: asymmetric padding and cropping, upsampling
        # by (2, 1), a rescaling and a Reshape with an inferred dimension.
        "name": "reshaping", "input_shape": [5, 4, 2], "batch": 3, "x_range": (-1.0, 1.0),
        "loss": "sparse_categorical_crossentropy",
        "layers": [
            plain("ZeroPadding2D", "zero_padding2d", padding=[[1, 0], [2, 1]]),
            conv("conv2d", 3, (3, 3), "tanh"),
            plain("UpSampling2D", "up_sampling2d", size=[2, 1]),
            plain("Cropping2D", "cropping2d", cropping=[[1, 2], [0, 1]]),
            plain("Rescaling", "rescaling", scale=0.5, offset=0.1),
            plain("Reshape", "reshape", target_shape=[-1, 3]),
            plain("Flatten", "flatten"),
            dense("dense", 4, "softmax"),
        ],
        "runs": [("Adam", {"learning_rate": 0.01}, 2)],
    },
    {
        # DepthwiseConv2D: valid, then "same" with stride 2 and a depth
        # multiplier of 2 (output channel c*2 + m), with and without bias.
        "name": "depthwise", "input_shape": [7, 6, 3], "batch": 2, "x_range": (-1.0, 1.0),
        "loss": "sparse_categorical_crossentropy",
        "layers": [
            {"class_name": "DepthwiseConv2D", "config": {"name": "depthwise_conv2d", "kernel_size": [3, 3],
                                                         "activation": "relu"}},
            {"class_name": "DepthwiseConv2D", "config": {"name": "depthwise_conv2d_1", "kernel_size": [3, 2],
                                                         "strides": [2, 2], "padding": "same",
                                                         "depth_multiplier": 2, "no_bias": True}},
            plain("Flatten", "flatten"),
            dense("dense", 3, "softmax"),
        ],
        "runs": [("Adam", {"learning_rate": 0.01}, 2)],
    },
]


CASES.append({
    # Issue 10's convolution variants and the layers beside them: dilated
    # and grouped Conv2D, Conv2DTranspose ("same" with stride 2; "valid"
    # with output_padding), SeparableConv2D, LayerNormalization, PReLU
    # (shared and not), bilinear UpSampling2D, Permute.
    "name": "variants", "input_shape": [6, 5, 2], "batch": 2, "x_range": (-1.0, 1.0),
    "loss": "sparse_categorical_crossentropy",
    "layers": [
        conv("conv2d", 4, (3, 2), "tanh", padding="same", dilation_rate=[2, 1]),
        conv("conv2d_1", 4, (3, 3), strides=(2, 1), padding="same", groups=2),
        plain("PReLU", "p_re_lu", shared_axes=[1, 2]),
        {"class_name": "Conv2DTranspose", "config": {"name": "conv2d_transpose", "filters": 3, "kernel_size": [3, 3],
                                                     "strides": [2, 2], "padding": "same"}},
        plain("LayerNormalization", "layer_normalization"),
        {"class_name": "SeparableConv2D", "config": {"name": "separable_conv2d", "filters": 4, "kernel_size": [3, 3],
                                                     "strides": [2, 2], "depth_multiplier": 2, "activation": "relu"}},
        {"class_name": "Conv2DTranspose", "config": {"name": "conv2d_transpose_1", "filters": 2, "kernel_size": [2, 3],
                                                     "strides": [2, 1], "output_padding": [1, 0]}},
        plain("UpSampling2D", "up_sampling2d", size=[2, 1], interpolation="bilinear"),
        plain("Permute", "permute", dims=[2, 1, 3]),
        plain("Flatten", "flatten"),
        plain("PReLU", "p_re_lu_1"),
        dense("dense", 3, "softmax"),
    ],
    "runs": [("Adam", {"learning_rate": 0.01}, 2)],
})


CASES.append({
    # Conv2D with one group per channel (run as a depthwise convolution)
    # and a depth multiplier of 2, dilated.
    "name": "grouped_depthwise", "input_shape": [6, 5, 3], "batch": 2, "x_range": (-1.0, 1.0),
    "loss": "sparse_categorical_crossentropy",
    "layers": [
        conv("conv2d", 6, (3, 2), "relu", padding="same", groups=3, dilation_rate=[1, 2]),
        plain("Flatten", "flatten"),
        dense("dense", 3, "softmax"),
    ],
    "runs": [("Adam", {"learning_rate": 0.01}, 2)],
})


def labels(case, g, k):
    b = case["batch"]
    if case["loss"] == "sparse_categorical_crossentropy":
        y = torch.randint(0, k, (b,), generator=g).to(torch.float32)
        return y, y.tolist()
    if case["loss"] == "categorical_crossentropy":
        y = F.one_hot(torch.randint(0, k, (b,), generator=g), k).to(torch.float32)
        return y, y.flatten().tolist()
    y = torch.randint(0, 2, (b, k), generator=g).to(torch.float32)
    return y, y.flatten().tolist()


def step_grads(model, case, x, y, p, training):
    q = {n: (v.detach().clone().requires_grad_(not ("/moving_" in n))) for n, v in p.items()}
    out, logits, act, stats = model.forward(x, q, training)
    loss = model.loss(case["loss"], out, logits, act, y, q)
    trainable = [n for n in q if "/moving_" not in n]
    grads = dict(zip(trainable, torch.autograd.grad(loss, [q[n] for n in trainable])))
    return out, loss, grads, stats


def run_case(case, tensors, g):
    model = Model(case["input_shape"], case["layers"])
    b = case["batch"]
    x, xj = tensors.make([b] + case["input_shape"], *case["x_range"])
    p, pj = {}, {}
    for name, shape, lo, hi in model.shapes:
        p[name], pj[name] = tensors.make(shape, lo, hi)
    y, yj = labels(case, g, model.out_shape[0])

    out, loss, grads, _ = step_grads(model, case, x, y, p, True)
    with torch.no_grad():
        iout, ilogits, iact, _ = model.forward(x, p, False)
        iloss = model.loss(case["loss"], iout, ilogits, iact, y, p)
    res = {
        "name": case["name"], "input_shape": case["input_shape"], "batch": b, "loss": case["loss"],
        "layers": case["layers"], "x": xj, "y": yj, "weights": pj,
        "forward": {"output": expected(out, g), "loss": r9(loss.item()),
                    "grads": {n: expected(v, g) for n, v in grads.items()}},
        "inference": {"output": expected(iout, g), "loss": r9(iloss.item())},
        "runs": [],
    }
    for opt, cfg, steps in case["runs"]:
        w = {n: v.clone() for n, v in p.items()}
        slots = {n: {} for n in w}
        losses = []
        for t in range(1, steps + 1):
            _, loss, grads, stats = step_grads(model, case, x, y, w, True)
            losses.append(r9(loss.item()))
            for n, gr in grads.items():
                w[n] = keras_update(opt, cfg, w[n], gr, slots[n], t)
            w.update({n: v.to(torch.float32) for n, v in stats.items()})
        res["runs"].append({"optimizer": opt, "config": cfg, "steps": steps, "losses": losses,
                            "weights": {n: expected(v, g) for n, v in w.items()}})
    return res


def dump(v, indent=0):
    """JSON with one line per tensor or short list."""
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return "{}"
        if "shape" in v or all(not isinstance(e, (dict, list)) for e in v.values()):
            return json.dumps(v, separators=(",", ":"))
        items = [pad + " " + json.dumps(k) + ": " + dump(e, indent + 1) for k, e in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, list) and any(isinstance(e, dict) for e in v):
        items = [pad + " " + dump(e, indent + 1) for e in v]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(v, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("-o", default=os.path.join(root, "testdata", "golden", "keras_torch.json"))
    ap.add_argument("--append", action="store_true", help="keep the file's cases, add the missing ones")
    args = ap.parse_args()
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    tensors = Tensors()
    doc = {
        "about": "Golden values for train/golden_test.go: PyTorch %s configured to Keras semantics. "
                 "Generated by scripts/golden.py (see its docstring for the format); regenerate with "
                 "/usr/bin/python3 scripts/golden.py" % torch.__version__.split("+")[0],
        "cases": [run_case(c, tensors, g) for c in CASES],
    }
    if args.append and os.path.exists(args.o):
        with open(args.o) as f:
            old = json.load(f)
        have = {c["name"] for c in old["cases"]}
        old["cases"] += [c for c in doc["cases"] if c["name"] not in have]
        doc = old
    os.makedirs(os.path.dirname(args.o), exist_ok=True)
    with open(args.o, "w") as f:
        f.write(dump(doc) + "\n")
    print("wrote %s (%d bytes)" % (args.o, os.path.getsize(args.o)), file=sys.stderr)


if __name__ == "__main__":
    main()
