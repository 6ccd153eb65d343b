package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/experiment"
	"github.com/capa-ml/capa/internal/atomicfile"
	"github.com/capa-ml/capa/internal/cli"
)

// cmdExperiment runs configuration files on Fashion-MNIST, choosing on a
// validation split held out of the training set and testing once.
func cmdExperiment(args []string) error {
	if len(args) > 0 && args[0] == "merge" {
		return cmdExperimentMerge(args[1:])
	}
	fs := cli.NewFlagSet("capa experiment", experimentUsage)
	data := fs.String("data", "", "directory with the Fashion-MNIST files")
	out := fs.String("out", "experiments/results", "directory for the models, curves and tables")
	nVal := fs.Int("validation", 10000, "validation images held out of the end of the training set")
	limit := fs.Int("limit", 0, "train on the first N of the remaining training images (0: all)")
	fresh := fs.Bool("fresh", false, "replace the results table in --out instead of adding to it")
	shardFlag := fs.String("shard", "", "I/N: run only configurations I, I+N, ... and write one row file each (auto/N: I from JOB_COMPLETION_INDEX)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return cli.Usagef("give one or more CONFIG.json files after the flags")
	}
	shard, shards, err := parseShard(*shardFlag)
	if err != nil {
		return err
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
	total := len(cfgs)
	var indices []int // each configuration's place in the whole list
	for i := range cfgs {
		indices = append(indices, i)
	}
	if shards > 0 {
		var mine []experiment.Config
		indices = nil
		for i, c := range cfgs {
			if i%shards == shard {
				mine, indices = append(mine, c), append(indices, i)
			}
		}
		cfgs = mine
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
	if shards > 0 {
		return runShard(cfgs, indices, total, shard, shards, split, *out, tr, val, testSet, args)
	}
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

// parseShard reads --shard: "" (no sharding), "I/N" or "auto/N".
func parseShard(v string) (int, int, error) {
	if v == "" {
		return 0, 0, nil
	}
	is, ns, ok := strings.Cut(v, "/")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n < 1 {
		return 0, 0, cli.Usagef("--shard %q: want I/N or auto/N, N positive", v)
	}
	if is == "auto" {
		is = os.Getenv("JOB_COMPLETION_INDEX")
		if is == "" {
			return 0, 0, cli.Usagef("--shard auto/%d: JOB_COMPLETION_INDEX is not set (Kubernetes sets it in the pods of an Indexed Job)", n)
		}
	}
	i, err := strconv.Atoi(is)
	if err != nil || i < 0 || i >= n {
		return 0, 0, cli.Usagef("--shard %q: the index %q must be between 0 and %d", v, is, n-1)
	}
	return i, n, nil
}

// shardRow is one configuration's result in a sharded run's directory,
// rows/NAME.json: with its place in the whole list, so that merge orders
// the table as one run would.
type shardRow struct {
	Index   int               `json:"index"`
	Total   int               `json:"total"`
	Split   experimentSplit   `json:"split"`
	Command string            `json:"command"`
	Result  experiment.Result `json:"result"`
}

// runShard runs a shard's configurations, writing each result to its own
// file as soon as it is done (atomically: another shard never sees half a
// row).
func runShard(cfgs []experiment.Config, indices []int, total, shard, shards int, split experimentSplit, out string, tr, val, test *dataset.Set, args []string) error {
	rows := filepath.Join(out, "rows")
	if err := os.MkdirAll(rows, 0o755); err != nil {
		return err
	}
	cmdline := "capa " + strings.Join(append([]string{"experiment"}, args...), " ")
	fmt.Printf("shard %d of %d: %d configurations\n", shard, shards, len(cfgs))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	written := 0
	write := func(results []experiment.Result) error {
		for ; written < len(results); written++ {
			r := results[written]
			r.Best = false // merge chooses over all the rows
			b, err := json.MarshalIndent(shardRow{Index: indices[written], Total: total, Split: split, Command: cmdline, Result: r}, "", "  ")
			if err != nil {
				return err
			}
			if err := atomicfile.WriteBytes(filepath.Join(rows, r.Name+".json"), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := experiment.Run(ctx, cfgs, capa.FromSet(tr), capa.FromSet(val), capa.FromSet(test), experiment.Options{OutDir: out, OnResult: write})
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted")
	}
	if err == nil {
		fmt.Printf("Rows in %s; when every shard is done: capa experiment merge %s\n", rows, out)
	}
	return err
}

const experimentMergeUsage = `Usage: capa experiment merge DIR

Writes DIR/results.md, results.csv and results.json from the rows that
capa experiment --shard wrote into DIR/rows: the table one run of all the
configurations writes, the best chosen on validation over all of them.
Every configuration of the sweep must have its row.
`

func cmdExperimentMerge(args []string) error {
	fs := cli.NewFlagSet("capa experiment merge", experimentMergeUsage)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("give the directory the shards wrote into")
	}
	dir := fs.Arg(0)
	paths, err := filepath.Glob(filepath.Join(dir, "rows", "*.json"))
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no rows in %s: run capa experiment --shard I/N --out %s first", filepath.Join(dir, "rows"), dir)
	}
	var rows []shardRow
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r shardRow
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Index < rows[j].Index })
	total, split := rows[0].Total, rows[0].Split
	have := map[int]string{}
	var commands []string
	var results []experiment.Result
	for _, r := range rows {
		if r.Total != total || r.Split != split {
			return fmt.Errorf("%s/rows holds rows of different sweeps (%d configurations on %+v, and %d on %+v)", dir, total, split, r.Total, r.Split)
		}
		if other, dup := have[r.Index]; dup {
			return fmt.Errorf("configuration %d of the sweep has two rows, %s and %s", r.Index, other, r.Result.Name)
		}
		have[r.Index] = r.Result.Name
		results = append(results, r.Result)
		if !slices.Contains(commands, r.Command) {
			commands = append(commands, r.Command)
		}
	}
	var missing []string
	for i := range total {
		if _, ok := have[i]; !ok {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s/rows has %d of the sweep's %d rows; configurations %s are missing (a shard still running or failed)", dir, len(rows), total, strings.Join(missing, ", "))
	}
	experiment.MarkBest(results)
	if err := experiment.WriteTables(results, filepath.Join(dir, "results.md"), filepath.Join(dir, "results.csv")); err != nil {
		return err
	}
	if err := writeReport(filepath.Join(dir, "results.json"), experimentReport{Commands: commands, Split: split, Results: results}); err != nil {
		return err
	}
	fmt.Printf("merged %d rows into %s (results.md, results.csv, results.json)\n", len(results), dir)
	return nil
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
