package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/experiment"
	"github.com/capa-ml/capa/internal/cli"
)

// cmdExperiment runs configuration files on Fashion-MNIST, choosing on a
// validation split held out of the training set and testing once.
func cmdExperiment(args []string) error {
	fs := cli.NewFlagSet("capa experiment", experimentUsage)
	data := fs.String("data", "", "directory with the Fashion-MNIST files")
	out := fs.String("out", "experiments/results", "directory for the models, curves and tables")
	nVal := fs.Int("validation", 10000, "validation images held out of the end of the training set")
	limit := fs.Int("limit", 0, "train on the first N of the remaining training images (0: all)")
	fresh := fs.Bool("fresh", false, "replace the results table in --out instead of adding to it")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return cli.Usagef("give one or more CONFIG.json files after the flags")
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
	split := experimentSplit{Train: tr.N, Validation: val.N, Test: testSet.N}
	var earlier experimentReport
	if !*fresh {
		if earlier, err = readExperimentReport(filepath.Join(*out, "results.json")); err != nil {
			return err
		}
		if len(earlier.Results) > 0 && earlier.Split != split {
			return fmt.Errorf("%s holds results on another split (%+v, this run %+v): use another --out, or --fresh to replace them",
				filepath.Join(*out, "results.json"), earlier.Split, split)
		}
	}
	cmdline := "capa " + strings.Join(append([]string{"experiment"}, args...), " ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	write := func(results []experiment.Result) error {
		all := experiment.Merge(earlier.Results, results)
		if err := experiment.WriteTables(all, filepath.Join(*out, "results.md"), filepath.Join(*out, "results.csv")); err != nil {
			return err
		}
		return writeReport(filepath.Join(*out, "results.json"), experimentReport{
			Commands: append(append([]string(nil), earlier.Commands...), cmdline), Split: split, Results: all})
	}
	results, err := experiment.Run(ctx, cfgs, capa.FromSet(tr), capa.FromSet(val), capa.FromSet(testSet), experiment.Options{OutDir: *out, OnResult: write})
	if len(results) > 0 {
		if werr := write(results); werr != nil {
			return werr
		}
		fmt.Printf("Results in %s (results.md, results.csv, curves and models)\n", *out)
		if len(earlier.Results) > 0 {
			fmt.Printf("The table also holds %d earlier results from %s (--fresh replaces them)\n", len(earlier.Results), filepath.Join(*out, "results.json"))
		}
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted")
	}
	return err
}

// experimentSplit is the data a results table was computed on.
type experimentSplit struct {
	Train      int `json:"train"`
	Validation int `json:"validation"`
	Test       int `json:"test"`
}

// experimentReport is results.json: the commands that produced the table,
// the split and the results.
type experimentReport struct {
	Commands []string            `json:"commands"`
	Split    experimentSplit     `json:"split"`
	Results  []experiment.Result `json:"results"`
}

// readExperimentReport reads an earlier results.json; a missing file is an
// empty report.
func readExperimentReport(path string) (experimentReport, error) {
	var r experimentReport
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w (use --fresh to replace it)", path, err)
	}
	return r, nil
}
