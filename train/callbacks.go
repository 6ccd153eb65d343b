package train

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/capa-ml/capa/graph"
)

// EarlyStopping ends training when a monitored metric has stopped improving
// for Patience epochs, Keras's EarlyStopping.
type EarlyStopping struct {
	// Monitor is the metric, "val_loss" by default. Metrics whose name
	// contains "acc" are maximized, others minimized.
	Monitor string `json:"monitor"`
	// MinDelta is the smallest change that counts as an improvement (0, as
	// Keras's default).
	MinDelta float64 `json:"min_delta"`
	// Patience is the number of epochs without improvement to tolerate (0,
	// as Keras's default).
	Patience int `json:"patience"`
	// RestoreBestWeights puts back the weights of the best epoch when
	// training stops early.
	RestoreBestWeights bool `json:"restore_best_weights"`

	best    float64
	started bool
	wait    int
	weights map[string][]float32
	// StoppedEpoch is the epoch (1-based) at which training stopped, 0 if not.
	StoppedEpoch int `json:"-"`
	// BestEpoch is the epoch (1-based) with the best monitored value.
	BestEpoch int `json:"-"`
}

// Validate checks the patience and the minimum delta.
func (e *EarlyStopping) Validate() error {
	if e.Patience < 0 {
		return fmt.Errorf("patience must be at least 0, got %d", e.Patience)
	}
	return nonNegative("min_delta", e.MinDelta)
}

// Validate checks that the checkpoint has a path.
func (c *ModelCheckpoint) Validate() error {
	if c.Path == "" {
		return fmt.Errorf("filepath is required")
	}
	return nil
}

// Validate checks that the logger has a file.
func (c *CSVLogger) Validate() error {
	if c.Path == "" {
		return fmt.Errorf("filename is required")
	}
	return nil
}

// Validate checks that the logger has a file.
func (j *JSONLogger) Validate() error {
	if j.Path == "" {
		return fmt.Errorf("filename is required")
	}
	return nil
}

// Validate checks the factor.
func (d *TerminateOnDivergence) Validate() error {
	if d.Factor != 0 && !(d.Factor > 1) {
		return fmt.Errorf("factor must be above 1, got %v", d.Factor)
	}
	return nil
}

func init() {
	graph.RegisterCallback("EarlyStopping", func() graph.Callback { return &EarlyStopping{Monitor: "val_loss"} })
	graph.RegisterCallback("ModelCheckpoint", func() graph.Callback { return &ModelCheckpoint{Monitor: "val_loss"} })
	graph.RegisterCallback("CSVLogger", func() graph.Callback { return &CSVLogger{} })
	graph.RegisterCallback("JSONLogger", func() graph.Callback { return &JSONLogger{} })
	graph.RegisterCallback("TerminateOnDivergence", func() graph.Callback { return &TerminateOnDivergence{Factor: 100} })
}

func monitorOf(name string) string {
	if name == "" {
		return "val_loss"
	}
	return name
}

func better(metric string, a, b, delta float64) bool {
	if strings.Contains(metric, "acc") {
		return a > b+delta
	}
	return a < b-delta
}

// OnEpochEnd tracks the monitored metric and sets m.State.Stop.
func (e *EarlyStopping) OnEpochEnd(m *graph.Model, logs graph.Logs) error {
	mon := monitorOf(e.Monitor)
	v, ok := logs[mon]
	if !ok {
		return fmt.Errorf("train: EarlyStopping monitors %q, which this run does not log (give validation data for val_ metrics)", mon)
	}
	if !e.started || better(mon, v, e.best, e.MinDelta) {
		e.started, e.best, e.wait, e.BestEpoch = true, v, 0, m.State.Epoch
		if e.RestoreBestWeights {
			e.weights = snapshot(m)
		}
		return nil
	}
	e.wait++
	if e.wait > e.Patience {
		m.State.Stop = true
		e.StoppedEpoch = m.State.Epoch
		if e.RestoreBestWeights && e.weights != nil {
			restore(m, e.weights)
		}
	}
	return nil
}

func snapshot(m *graph.Model) map[string][]float32 {
	w := map[string][]float32{}
	for _, p := range m.Params() {
		w[p.Name] = append([]float32(nil), p.Data()...)
	}
	return w
}

func restore(m *graph.Model, w map[string][]float32) {
	for _, p := range m.Params() {
		if v, ok := w[p.Name]; ok {
			copy(p.Data(), v)
		}
	}
}

// ModelCheckpoint saves the whole model (weights, optimizer, training
// state) to Path at the end of each epoch, atomically, and when training is
// interrupted. With SaveBestOnly it saves at epoch ends only when the
// monitored metric improves.
//
// A failed write at an epoch end (disk full, file too large) does not end
// the run: the error, with its path and cause, goes to Log, the last good
// checkpoint stays as it was (writes are atomic), and the next epoch
// retries. A failed write when training is interrupted is returned, since
// the run could not be resumed from it.
type ModelCheckpoint struct {
	Path         string `json:"filepath"`
	Monitor      string `json:"monitor"`
	SaveBestOnly bool   `json:"save_best_only"`
	// Log receives a line for each failed write (default os.Stderr).
	Log io.Writer `json:"-"`

	best    float64
	started bool
	// Failures counts the epoch-end writes that failed.
	Failures int `json:"-"`
}

// OnEpochEnd saves the trainer.
func (c *ModelCheckpoint) OnEpochEnd(m *graph.Model, logs graph.Logs) error {
	if c.SaveBestOnly {
		mon := monitorOf(c.Monitor)
		v, ok := logs[mon]
		if !ok {
			return fmt.Errorf("train: ModelCheckpoint monitors %q, which this run does not log", mon)
		}
		if c.started && !better(mon, v, c.best, 0) {
			return nil
		}
		if err := c.save(m); err != nil {
			return nil // best stays: a later improvement retries
		}
		c.started, c.best = true, v
		return nil
	}
	c.save(m)
	return nil
}

// save writes the checkpoint, reporting a failure to Log.
func (c *ModelCheckpoint) save(m *graph.Model) error {
	err := m.Save(c.Path)
	if err != nil {
		c.Failures++
		w := c.Log
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintf(w, "ModelCheckpoint: epoch %d: could not write %s: %v; training goes on, the last good checkpoint is kept and the next epoch retries\n",
			m.State.Epoch, c.Path, err)
	}
	return err
}

// OnInterrupt saves the trainer so that the run can resume.
func (c *ModelCheckpoint) OnInterrupt(m *graph.Model) error {
	if c.SaveBestOnly {
		return nil
	}
	return m.Save(c.Path)
}
