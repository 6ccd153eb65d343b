package main

// The usage of each command, printed by "capa CMD -h" above the flags.

// modelLimits is the note of every command that loads a model file.
const modelLimits = `
A model file is checked before anything is allocated: every layer's
configuration (the field is named), every shape, the weights against the
tensors the file holds, and the architecture's size against --max-params
(default 268435456 weights, 1 GiB). Raise it for larger models, e.g.
--max-params 600000000.
`

const trainUsage = `Usage: capa train [flags]
       capa train --resume CHECKPOINT [--data DIR]

Trains the practical's CNN on Fashion-MNIST, evaluates it on the test set
and saves it to --out. A checkpoint is written beside --out after every
epoch and on Ctrl-C; --resume continues from it. A run whose loss diverges
(NaN, Inf, or far above where it started) stops with an error and leaves
--out untouched (--stop-on-divergence=false turns that check off).
`

const evaluateUsage = `Usage: capa evaluate --model FILE [flags]

Prints the test accuracy, loss and confusion matrix of a saved model on
Fashion-MNIST's test set.
` + modelLimits

const predictUsage = `Usage: capa predict --model FILE [flags] IMAGE...
       capa predict --model FILE --input X.npy --output Y.npy [--batch N]

With --input, runs the model on a float32 NumPy array of shape (N, ...the
model's input shape, channels last), as it is (no conversion), and writes
its outputs, (N, ...the output shape), to --output: for any saved model of
one input, so that other tools' outputs can be compared with Capa's.


Classifies PNG or JPEG images with a saved model: each image is converted
the way Fashion-MNIST's were (grayscale, light object on a dark background,
cropped, fitted into the model's input size). An image larger than
--max-pixels (default 4096x4096) is refused from its header, before it is
decoded: decoding holds the whole image, 4 bytes a pixel for 8-bit RGBA
(8 for 16-bit), and the conversion adds only a few rows. Raise the limit
for larger images, e.g. --max-pixels 8192x8192 (about 256 MB).
` + modelLimits

const summaryUsage = `Usage: capa summary --model FILE [flags]

Prints a saved model's layers, shapes and parameter counts.
` + modelLimits

const experimentUsage = `Usage: capa experiment [flags] CONFIG.json...
       capa experiment --shard I/N [flags] CONFIG.json...
       capa experiment merge DIR

Trains each configuration, chooses on a validation split held out of the
training set and tests once; the results table goes into --out.

With --shard I/N (0 <= I < N) the run trains only configurations I, I+N,
I+2N, ... of the list, and writes each result to its own file,
--out/rows/NAME.json, so that N runs (processes, machines, the pods of a
Kubernetes Indexed Job: --shard auto/N reads I from JOB_COMPLETION_INDEX)
can share one directory. "capa experiment merge DIR" then writes the table
of all the rows, the same a single run writes.
`

const vgg16Usage = `Usage: capa vgg16 features|predict --weights FILE --input X.npy --output Y.npy [flags]

Runs VGG16 with published weights on a float32 .npy array (N, H, W, 3),
already preprocessed for the weights: "features" writes the convolutional
base's output, "predict" the 1000 class probabilities of the full model at
224x224.
`

const appUsage = `Usage: capa app features|predict --arch NAME [--source keras|torchvision] --weights FILE --input X.npy --output Y.npy [flags]

Runs a pretrained network with its published weights on a float32 .npy
array (N, H, W, 3), already preprocessed for the weights (Keras's ResNet50:
"caffe", BGR minus the ImageNet mean on 0-255; Keras's MobileNetV2: scaled
to [-1, 1]; torchvision's: ImageNet mean and std on 0-1): "features" writes
the base's last feature map (N, h, w, C), "predict" the class probabilities
of the whole network. Networks: vgg16, vgg19 (as capa vgg16), resnet50 and
mobilenet_v2 (Keras's or torchvision's), resnet18 and resnet34
(torchvision's).
`

const augmentUsage = `Usage: capa augment --preview FILE.png [flags]

Writes a grid of Fashion-MNIST training images, each followed by augmented
copies (the default augmentation pipeline).
`

const visualizeUsage = `Usage: capa visualize --model FILE [flags]

Writes pictures of a saved model into --out: test images with their
predictions, the confusion matrix, the first convolution's filters, the
feature maps of one image and the learning curves. An --image larger than
--max-pixels (default 4096x4096) is refused before it is decoded.
` + modelLimits
