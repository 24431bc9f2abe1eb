// Package vision is image classification on pcx's training core: it builds
// a ViT (backbone.ViT) with one of the image methods (full, linear,
// adapter, adaptformer, adapter-x, adaptformer-x: adapters.ViTNet), loads
// pretrained weights (timm .pth/.safetensors, the original ViT .npz, MAE
// checkpoints), and implements train.Task over labelled image sets
// (datasets/imagesets: VTAB-1K tasks, image folders, MNIST-style idx files,
// CIFAR) with NOAH's VTAB transform (bicubic resize, ImageNet
// normalisation) and optional augmentation. Evaluation reuses
// classify's report (accuracy, per-class accuracy, confusion matrix).
package vision
