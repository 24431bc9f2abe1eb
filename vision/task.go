package vision

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets/imagesets"
	"github.com/pcx-dev/pcx/images"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/train"
)

// Task is image classification as a train.Task.
type Task struct {
	Model *Model
	Data  *imagesets.Dataset
	// Transform turns a decoded image into the model's input (resize,
	// normalisation, augmentation in training).
	Transform images.Transform
	// TrainIdx and TestIdx list the splits' samples in use (nil: all).
	TrainIdx, TestIdx []int
}

// Batch is a batch of images and their classes.
type Batch struct {
	Images *backbone.Images
	labels []int
	names  []string
}

// Labels are the batch's classes.
func (b *Batch) Labels() []int { return b.labels }

// Len is the number of images.
func (b *Batch) Len() int { return len(b.labels) }

// Params lists the model's parameters.
func (t *Task) Params() nn.Params { return t.Model.Params() }

func (t *Task) split(s train.Split) *imagesets.Split {
	if s == train.TrainSplit {
		return t.Data.Train
	}
	return t.Data.Test
}

// Len is the number of samples of a split.
func (t *Task) Len(s train.Split) int {
	if idx := t.used(s); idx != nil {
		return len(idx)
	}
	return t.split(s).Len()
}

// used is the split's list of samples in use (nil: all).
func (t *Task) used(s train.Split) []int {
	if s == train.TrainSplit {
		return t.TrainIdx
	}
	return t.TestIdx
}

// Batch decodes and transforms the samples idx.
func (t *Task) Batch(s train.Split, idx []int, r *rand.Rand) (train.Batch, error) {
	sp := t.split(s)
	size := t.Model.Cfg.ImageSize
	per := 3 * size * size
	b := &Batch{Images: &backbone.Images{B: len(idx), H: size, W: size, Pix: make([]float32, len(idx)*per)},
		labels: make([]int, len(idx)), names: make([]string, len(idx))}
	tf := t.Transform
	tf.Size = size
	used := t.used(s)
	for k, i := range idx {
		if used != nil {
			i = used[i]
		}
		img, err := sp.Image(i)
		if err != nil {
			return nil, err
		}
		if err := tf.Apply(img, s == train.TrainSplit, r, b.Images.Pix[k*per:(k+1)*per]); err != nil {
			return nil, fmt.Errorf("%s: %w", sp.Name(i), err)
		}
		b.labels[k], b.names[k] = sp.Labels[i], sp.Name(i)
	}
	return b, nil
}

// Metrics are classification's: the accuracy.
func (t *Task) Metrics() []train.Metric { return classify.Metrics() }

// Step returns the cross-entropy, the -X methods' balance loss weighted by
// α, and the number of correct predictions.
func (t *Task) Step(tp *nn.Tape, b train.Batch, r *rand.Rand) train.Output {
	ib := b.(*Batch)
	logits, balance := t.Model.Net.ForwardAux(tp, ib.Images, r)
	return classify.StepOutput(tp, logits, ib.labels, balance, t.Model.Cfg.Alpha)
}
