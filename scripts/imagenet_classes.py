#!/usr/bin/python3
"""Writes vgg/imagenet_classes.txt: the 1000 ImageNet class names, one per line,
in the order of the classifiers' outputs, taken from Debian's python3-torchvision
(torchvision.models._meta._IMAGENET_CATEGORIES, BSD-3-Clause).

Usage: /usr/bin/python3 scripts/imagenet_classes.py > vgg/imagenet_classes.txt
"""
from torchvision.models._meta import _IMAGENET_CATEGORIES

assert len(_IMAGENET_CATEGORIES) == 1000
for name in _IMAGENET_CATEGORIES:
    assert "\n" not in name
    print(name)
