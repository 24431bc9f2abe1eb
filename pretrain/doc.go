// Package pretrain is Point-MAE's masked-autoencoder pretraining of point
// clouds as a train.Task: each batch of clouds (labels ignored) is sampled
// and augmented by points.Pipeline as fine-tuning's training batches are,
// grouped, a share of each cloud's groups masked (the masks drawn from the
// batch's random stream), and the model (backbone.PointMAEPretrain) rebuilds
// the masked groups; the loss is the Chamfer-L2 distance. A run writes
// train's checkpoints of the whole model (Point-MAE's pretrain.pth key
// names) and, at its end, backbone.safetensors: the encoder under the
// fine-tuning model's names, which pcx train --ckpt loads.
//
// Checkpoints in the original toolkits' format go both ways. WriteOfficial
// (and WriteRun, for a run's directory: RUN/pretrain.pth) writes the whole
// pretraining model as a PyTorch .pth in the layout of Point-MAE's
// pretrain.pth ({"base_model": state dict, "epoch": n}) or, for the image
// masked autoencoder, of MAE's checkpoints ({"model": state dict, "epoch":
// n}), which Point-MAE's and MAE's own code and torch.load(weights_only=True)
// read. InitFrom loads such a file (an official release, a file pcx wrote,
// or a pcx .safetensors of the whole model) into a model to continue
// pretraining from it.
//
// Reconstruct and ReconstructSamples run a model on a batch or on a data
// set's first held-out clouds and return, per cloud, its points, its
// visible groups and the predicted points of its masked groups in the
// cloud's coordinates, for the reconstruction figure (LoadModel rebuilds a
// run's model from its config.yaml and a checkpoint).
//
// Images are pretrained the same way as MAE (He et al.; facebookresearch/
// mae's main_pretrain.py) on backbone.ViTMAE: ImageTask transforms each
// batch as MAE does in training (random resized crops of 20% to 100% of
// the area, bicubic, a horizontal flip, ImageNet normalisation), draws
// each image's mask from the batch's random stream (ViTMAE.DrawMask) and
// the loss is MAE's mean squared error on the masked patches' normalised
// pixels. ImageConfig (task: pretrain-images in config.yaml; ReadConfig and
// ReadImageConfig each refuse the other's file) names the data (an image
// folder read recursively, Fashion-MNIST or MNIST idx files, CIFAR; labels
// never read, a share or the test split held out for test_loss), and
// TrainImages writes backbone.safetensors with the encoder under timm's ViT
// names, which pcx train fashion-mnist|cifar|images|vtab --ckpt loads.
// ReconstructImages rebuilds held-out images for the reconstruction figure.
//
// Both kinds of run can measure their encoder's features after each epoch
// (Probing, a train.ShowingProber; FeatureProbe: a linear SVM fitted on a
// labelled set's frozen features and scored on its test split, recorded as
// probe_svm_acc): PointFeatures as Point-MAE's SVM validation reads them
// (the max and mean of the encoder's tokens), ImageFeatures as MAE's
// linear probing does (the final norm's cls token of the whole image,
// standardised). Config.Probe and ImageConfig.Probe name the labelled set;
// Fashion-MNIST, MNIST and CIFAR runs probe their own images by default
// (LoadImageProbeData: 1,000 training images, those pcx train
// --train-subset 1000 fine-tunes on, and 2,000 test images). A probe
// leaves the weights of a run as they would be without it.
package pretrain
