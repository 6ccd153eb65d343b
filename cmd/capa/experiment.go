package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/experiment"
)

// cmdExperiment runs configuration files on Fashion-MNIST, choosing on a
// validation split held out of the training set and testing once.
func cmdExperiment(args []string) error {
	fs := flag.NewFlagSet("capa experiment", flag.ContinueOnError)
	data := fs.String("data", "", "directory with the Fashion-MNIST files")
	out := fs.String("out", "experiments/results", "directory for the models, curves and tables")
	nVal := fs.Int("validation", 10000, "validation images held out of the end of the training set")
	limit := fs.Int("limit", 0, "train on the first N of the remaining training images (0: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("usage: capa experiment [flags] CONFIG.json...")
	}
	// Every configuration is checked before any training starts.
	var cfgs []experiment.Config
	for _, path := range fs.Args() {
		c, err := experiment.Load(path)
		if err != nil {
			return err
		}
		cfgs = append(cfgs, c)
	}
	trainSet, testSet, err := dataset.LoadFashionMNIST(*data)
	if err != nil {
		return err
	}
	if *nVal < 1 || *nVal >= trainSet.N {
		return fmt.Errorf("--validation must be between 1 and %d, got %d", trainSet.N-1, *nVal)
	}
	tr, val := trainSet.Split(*nVal)
	if *limit > 0 && *limit < tr.N {
		tr = tr.Slice(0, *limit)
	}
	fmt.Printf("%d configurations; %d training, %d validation, %d test images\n", len(cfgs), tr.N, val.N, testSet.N)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	write := func(results []experiment.Result) error {
		if err := experiment.WriteTables(results, filepath.Join(*out, "results.md"), filepath.Join(*out, "results.csv")); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(results, "", "  ")
		return writeReport(filepath.Join(*out, "results.json"), map[string]any{"command": "capa " + strings.Join(append([]string{"experiment"}, args...), " "), "results": json.RawMessage(b)})
	}
	results, err := experiment.Run(ctx, cfgs, capa.FromSet(tr), capa.FromSet(val), capa.FromSet(testSet), experiment.Options{OutDir: *out, OnResult: write})
	if len(results) > 0 {
		if werr := write(results); werr != nil {
			return werr
		}
		fmt.Printf("Results in %s (results.md, results.csv, curves and models)\n", *out)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted")
	}
	return err
}
