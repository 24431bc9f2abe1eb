package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Metric is one of a task's per-sample measures. A step's Output.Sums
// holds its sum over the batch's samples; the core reports the mean over a
// split's samples as train_<Name> and test_<Name>.
type Metric struct {
	Name string
	// Higher says larger values are better (an accuracy); otherwise
	// smaller ones are (an error).
	Higher bool
}

// Named is one named value of an epoch.
type Named struct {
	Name  string
	Value float64
}

// EpochMetrics is one line of metrics.jsonl.
type EpochMetrics struct {
	Epoch int // 1-based
	// LR is the learning rate of the epoch's first step.
	LR float64
	// Values are, in order: train_loss, train_<metric> for each of the
	// task's metrics, then (with a test split) test_loss and
	// test_<metric>, then (for a Prober's epochs that were probed)
	// probe_<metric> for each probe metric, and last best_<metric>, the
	// best epoch's value of the metric that chooses best.safetensors
	// (Config.Best), named without its split: best_acc for test_acc,
	// best_svm_acc for probe_svm_acc (0 while no epoch has the metric).
	Values    []Named
	BestEpoch int
	// Seconds is the epoch's wall time (training, evaluation and probe; for an
	// epoch resumed part-way, only the part run after resuming).
	Seconds float64
	// TrainSeconds is the training part of Seconds.
	TrainSeconds float64
	// SamplesPerSec is the training throughput.
	SamplesPerSec float64
	// DataWait is the fraction of training time the model waited for the
	// loader.
	DataWait float64
	// PeakMB is the process's peak resident memory so far.
	PeakMB int
}

// Get returns the value named name (train_loss, test_acc, best_acc...).
func (m EpochMetrics) Get(name string) (float64, bool) {
	for _, v := range m.Values {
		if v.Name == name {
			return v.Value, true
		}
	}
	return 0, false
}

// Names lists the names of m's Values in order.
func (m EpochMetrics) Names() []string {
	out := make([]string, len(m.Values))
	for i, v := range m.Values {
		out[i] = v.Name
	}
	return out
}

// WithoutTimes returns m with its timing and memory fields zeroed: what is
// left repeats exactly between runs of the same seed.
func (m EpochMetrics) WithoutTimes() EpochMetrics {
	m.Seconds, m.TrainSeconds, m.SamplesPerSec, m.DataWait, m.PeakMB = 0, 0, 0, 0, 0
	return m
}

// timeKeys are the keys after best_epoch, in order.
var timeKeys = []string{"seconds", "train_seconds", "samples_per_sec", "data_wait", "peak_mb"}

// MarshalJSON writes the keys epoch, lr, the Values in order, best_epoch,
// then the timings, each number as encoding/json writes it.
func (m EpochMetrics) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"epoch":` + strconv.Itoa(m.Epoch))
	add := func(name string, v float64) error {
		k, err := json.Marshal(name)
		if err != nil {
			return err
		}
		x, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("metric %s: %w", name, err)
		}
		b.WriteByte(',')
		b.Write(k)
		b.WriteByte(':')
		b.Write(x)
		return nil
	}
	if err := add("lr", m.LR); err != nil {
		return nil, err
	}
	for _, v := range m.Values {
		if err := add(v.Name, v.Value); err != nil {
			return nil, err
		}
	}
	b.WriteString(`,"best_epoch":` + strconv.Itoa(m.BestEpoch))
	for i, v := range []float64{m.Seconds, m.TrainSeconds, m.SamplesPerSec, m.DataWait} {
		if err := add(timeKeys[i], v); err != nil {
			return nil, err
		}
	}
	b.WriteString(`,"peak_mb":` + strconv.Itoa(m.PeakMB) + "}")
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes: every key that is not
// epoch, lr, best_epoch or a timing is a value, kept in the file's order.
func (m *EpochMetrics) UnmarshalJSON(data []byte) error {
	*m = EpochMetrics{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil {
		return err
	} else if t != json.Delim('{') {
		return fmt.Errorf("metrics: want an object, got %v", t)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		var dst any
		switch key {
		case "epoch":
			dst = &m.Epoch
		case "best_epoch":
			dst = &m.BestEpoch
		case "peak_mb":
			dst = &m.PeakMB
		case "lr":
			dst = &m.LR
		case "seconds":
			dst = &m.Seconds
		case "train_seconds":
			dst = &m.TrainSeconds
		case "samples_per_sec":
			dst = &m.SamplesPerSec
		case "data_wait":
			dst = &m.DataWait
		}
		if dst != nil {
			if err := dec.Decode(dst); err != nil {
				return fmt.Errorf("metrics: %s: %w", key, err)
			}
			continue
		}
		var v float64
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("metrics: %s: %w", quoteShort(key), err)
		}
		m.set(key, v)
	}
	_, err := dec.Token() // the closing brace
	return err
}

// set sets the value named name, adding it at the end if m has none.
func (m *EpochMetrics) set(name string, v float64) {
	for i := range m.Values {
		if m.Values[i].Name == name {
			m.Values[i].Value = v
			return
		}
	}
	m.Values = append(m.Values, Named{name, v})
}

// quoteShort quotes s for a message, cut to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// writeCSV writes metrics as CSV under a header naming cols, the Values
// a line may have; one it lacks (a probe column of an epoch not probed)
// is an empty cell.
func writeCSV(w io.Writer, cols []string, ms []EpochMetrics) {
	fmt.Fprintf(w, "epoch,lr,%s,best_epoch,%s\n", strings.Join(cols, ","), strings.Join(timeKeys, ","))
	for _, m := range ms {
		fmt.Fprintf(w, "%d,%g", m.Epoch, m.LR)
		for _, c := range cols {
			if v, ok := m.Get(c); ok {
				fmt.Fprintf(w, ",%g", v)
			} else {
				w.Write([]byte{','})
			}
		}
		fmt.Fprintf(w, ",%d,%g,%g,%g,%g,%d\n", m.BestEpoch, m.Seconds, m.TrainSeconds, m.SamplesPerSec, m.DataWait, m.PeakMB)
	}
}
