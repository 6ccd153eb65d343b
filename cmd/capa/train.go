package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/formats/safetensors"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/atomicfile"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/internal/mpi"
	"github.com/capa-ml/capa/train"
)

// trainConfig is what a run needs to resume: saved with every checkpoint.
type trainConfig struct {
	Epochs    int     `json:"epochs"`
	BatchSize int     `json:"batch_size"`
	LR        float64 `json:"lr"`
	Optimizer string  `json:"optimizer"`
	Seed      uint64  `json:"seed"`
	Out       string  `json:"out"`
	Limit     int     `json:"limit"`
	Report    string  `json:"report"`
	Hidden    int     `json:"hidden"`
}

func cmdTrain(args []string) error {
	fs := cli.NewFlagSet("capa train", trainUsage)
	var c trainConfig
	fs.IntVar(&c.Epochs, "epochs", 10, "number of epochs")
	fs.IntVar(&c.BatchSize, "batch-size", 32, "batch size")
	fs.Float64Var(&c.LR, "lr", 1e-3, "learning rate")
	fs.StringVar(&c.Optimizer, "optimizer", "adam", "optimizer: adam, sgd, rmsprop or adagrad")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the weights, shuffling and dropout")
	fs.StringVar(&c.Out, "out", "model.safetensors", "where to save the trained model")
	fs.IntVar(&c.Limit, "limit", 0, "train on the first N training images only (0: all)")
	fs.StringVar(&c.Report, "report", "", "write a JSON report to this file")
	fs.IntVar(&c.Hidden, "hidden", 0, "add a Dense(N, relu) layer after Flatten (0: none)")
	data := fs.String("data", "", "directory with the Fashion-MNIST files (default: $FASHION_MNIST_DIR, the Debian package, the user cache, or download)")
	resume := fs.String("resume", "", "continue the interrupted run saved in this checkpoint")
	maxParams := maxParamsFlag(fs)
	stopDiv := fs.Bool("stop-on-divergence", true, "stop, exit 1 and leave --out untouched when the loss is NaN, Inf or 100x the first batch's")
	distributed := fs.Bool("distributed", false, "one process of a data-parallel run under mpirun (Open MPI): --batch-size per process, gradients summed with MPI all-reduce; process 0 prints, checkpoints and saves")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	var world *mpi.World
	if *distributed {
		if !mpi.InJob() {
			return cli.Usagef("--distributed runs under mpirun: mpirun -np N capa train --distributed ...")
		}
		var err error
		if world, err = mpi.Init(); err != nil {
			return err
		}
		defer world.Finalize()
		if world.Rank() != 0 {
			// Only process 0 speaks; the others' output would repeat it.
			devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer devnull.Close()
			stdout := os.Stdout
			os.Stdout = devnull
			defer func() { os.Stdout = stdout }()
		}
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}

	var m *capa.Model
	if *resume != "" {
		var others []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "resume" && f.Name != "data" && f.Name != "max-params" && f.Name != "stop-on-divergence" && f.Name != "distributed" {
				others = append(others, "--"+f.Name)
			}
		})
		if len(others) > 0 {
			return cli.Usagef("--resume continues the saved run with its own settings; %v cannot be changed (only --data, --max-params and --stop-on-divergence may be given)", others)
		}
		var err error
		if _, statErr := os.Stat(*resume); os.IsNotExist(statErr) {
			if tmp, _ := safetensors.TempFiles(*resume); len(tmp) > 0 {
				return fmt.Errorf("%s does not exist, but %s does: a write of it was interrupted (killed or out of disk) before it completed, so there is nothing to resume; start the run again", *resume, tmp[0])
			}
		}
		if m, err = capa.Load(*resume, graph.WithLimits(graph.Limits{MaxParams: *maxParams})); err != nil {
			return err
		}
		if m.Optimizer() == nil {
			return fmt.Errorf("%s holds no training state: it is a model, not a checkpoint", *resume)
		}
		raw := m.Extra["capa_train"]
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return fmt.Errorf("%s was not written by capa train: %v", *resume, err)
		}
		st := m.State
		fmt.Printf("Resuming %s: %d of %d epochs done", *resume, st.Epoch, c.Epochs)
		if st.Batch > 0 {
			fmt.Printf(", %d batches into epoch %d", st.Batch, st.Epoch+1)
		}
		fmt.Println()
	} else {
		if c.Epochs < 1 || c.BatchSize < 1 || c.Limit < 0 || c.Hidden < 0 {
			return cli.Usagef("--epochs and --batch-size must be positive, --limit and --hidden not negative; got %d, %d, %d, %d", c.Epochs, c.BatchSize, c.Limit, c.Hidden)
		}
		opt, err := train.NewOptimizer(c.Optimizer, c.LR)
		if err != nil {
			return cli.Usagef("%v", err)
		}
		if m, err = capa.PracticalCNN(c.Hidden, c.Seed); err != nil {
			return err
		}
		if err := m.Compile(opt, train.SparseCategoricalCrossentropy{}); err != nil {
			return err
		}
	}
	cfg, _ := json.Marshal(c)
	names, _ := json.Marshal(dataset.ClassNames)
	m.Extra = map[string]string{"capa_train": string(cfg), "class_names": string(names)}

	trainSet, testSet, err := dataset.LoadFashionMNIST(*data)
	if err != nil {
		return err
	}
	if c.Limit > 0 && c.Limit < trainSet.N {
		trainSet = trainSet.Slice(0, c.Limit)
	}
	fmt.Print(m.Summary())
	fmt.Printf("Training on %d images, testing on %d; %s, batch %d\n", trainSet.N, testSet.N, strings.ToLower(m.Optimizer().Class()), c.BatchSize)

	ckpt := checkpointPath(c.Out)
	for _, p := range []string{c.Out, ckpt} {
		removed, err := safetensors.RemoveTempFiles(p)
		if err != nil {
			return err
		}
		for _, f := range removed {
			fmt.Fprintf(os.Stderr, "removed %s, left by an interrupted write of %s\n", f, p)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C kills at once
	var callbacks []graph.Callback
	progressOut := io.Writer(os.Stderr)
	var dist graph.Distributed
	var timed *timedWorld
	if world != nil {
		timed = &timedWorld{World: world}
		dist = timed
		fmt.Printf("Data-parallel over %d processes (MPI): %d images per step\n", world.Size(), world.Size()*c.BatchSize)
	}
	if world == nil || world.Rank() == 0 {
		callbacks = append(callbacks, &train.ModelCheckpoint{Path: ckpt})
	} else {
		progressOut = io.Discard
	}
	if *stopDiv {
		callbacks = append([]graph.Callback{&train.TerminateOnDivergence{}}, callbacks...)
	}
	if timed != nil {
		callbacks = append(callbacks, timed)
	}
	remaining := c.Epochs - m.State.Epoch
	var secs float64
	start := time.Now()
	if remaining > 0 {
		_, err = m.FitContext(ctx, capa.FromSet(trainSet), graph.FitOptions{
			Epochs:      remaining,
			BatchSize:   c.BatchSize,
			Distributed: dist,
			Progress:    progressOut,
			// A diverging run stops, and never overwrites c.Out: only the
			// final Save below writes it.
			Callbacks: callbacks,
		})
		if errors.Is(err, graph.ErrInterrupted) {
			fmt.Fprintf(os.Stderr, "\nInterrupted. Checkpoint saved to %s; continue with:\n  capa train --resume %s\n", ckpt, ckpt)
			return fmt.Errorf("interrupted")
		}
		if err != nil {
			return err
		}
	}
	wall := time.Since(start).Seconds()
	for _, s := range m.State.History["seconds"] {
		secs += s
	}
	rep, err := m.Evaluate(capa.FromSet(testSet), 1000)
	if err != nil {
		return err
	}
	if world != nil && world.Rank() != 0 {
		return nil // process 0 saves
	}
	if err := m.Save(c.Out); err != nil {
		return err
	}
	os.Remove(ckpt)
	tr, non := m.CountParams()
	n := float64(trainSet.N) * float64(len(m.State.History["seconds"]))
	fmt.Printf("Test accuracy: %.4f  test loss: %.4f\n", rep.Accuracy, rep.Loss)
	fmt.Printf("Trained %d epochs in %.1f s (%.0f images/s); model saved to %s\n", m.State.Epoch, secs, n/secs, c.Out)
	var allreduce map[string]any
	if timed != nil && timed.steps > 0 {
		perStep := timed.seconds / float64(timed.steps)
		step := wall / float64(timed.steps)
		fmt.Printf("All-reduce (process 0): %.0f kB per step, %.2f ms per step of %.2f ms (%.1f%%), %d steps\n",
			float64(timed.bytes)/float64(timed.steps)/1e3, perStep*1e3, step*1e3, 100*perStep/step, timed.steps)
		allreduce = map[string]any{"steps": timed.steps, "bytes_per_step": timed.bytes / int64(timed.steps),
			"seconds_per_step": perStep, "step_seconds": step, "processes": world.Size()}
	}
	if c.Report == "" {
		return nil
	}
	return writeReport(c.Report, map[string]any{
		"test_accuracy":           rep.Accuracy,
		"test_loss":               rep.Loss,
		"epochs":                  m.State.Epoch,
		"batch_size":              c.BatchSize,
		"optimizer":               strings.ToLower(m.Optimizer().Class()),
		"learning_rate":           c.LR,
		"seed":                    c.Seed,
		"train_images":            trainSet.N,
		"train_seconds":           secs,
		"train_images_per_second": n / secs,
		"params":                  tr + non,
		"trainable_params":        tr,
		"history":                 m.State.History,
		"confusion_matrix":        rep.Confusion,
		"model":                   c.Out,
		"allreduce":               allreduce,
	})
}

// timedWorld measures the all-reduce of a data-parallel run: the time this
// process spends in it (the transfer, and waiting for the slowest process)
// and the bytes it sums; as a graph.BatchCallback it counts the steps.
type timedWorld struct {
	*mpi.World
	steps   int
	bytes   int64
	seconds float64
}

// OnEpochEnd implements graph.Callback.
func (w *timedWorld) OnEpochEnd(*graph.Model, graph.Logs) error { return nil }

// OnBatchEnd implements graph.BatchCallback: one step.
func (w *timedWorld) OnBatchEnd(*graph.Model, int, float64) error {
	w.steps++
	return nil
}

// AllreduceSum implements graph.Distributed.
func (w *timedWorld) AllreduceSum(buf []float32) error {
	start := time.Now()
	err := w.World.AllreduceSum(buf)
	w.seconds += time.Since(start).Seconds()
	w.bytes += 4 * int64(len(buf))
	return err
}

// checkpointPath is where a run writes its checkpoints: beside the model,
// model.safetensors -> model.ckpt.safetensors.
func checkpointPath(out string) string {
	if base, ok := strings.CutSuffix(out, ".safetensors"); ok {
		return base + ".ckpt.safetensors"
	}
	return out + ".ckpt"
}

func writeReport(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
