package experiment

import (
	"encoding/csv"
	"fmt"
	"strings"

	"github.com/capa-ml/capa/internal/atomicfile"
	"github.com/capa-ml/capa/viz"
)

// curves draws a result's learning curves: accuracy and loss, training and
// validation, side by side in one PNG.
func curves(r Result) error {
	acc := viz.Chart{Title: r.Name + ": accuracy", XLabel: "epoch", Width: 560, Height: 360, Series: []viz.Series{
		{Name: "train", Y: r.History["accuracy"]}, {Name: "validation", Y: r.History["val_accuracy"]},
	}}
	loss := viz.Chart{Title: r.Name + ": loss", XLabel: "epoch", Width: 560, Height: 360, Series: []viz.Series{
		{Name: "train", Y: r.History["loss"]}, {Name: "validation", Y: r.History["val_loss"]},
	}}
	return viz.WritePNG(r.Curves, viz.SideBySide(acc.Draw(), loss.Draw()))
}

// WriteTables writes the results as a Markdown table and a CSV file, the
// best by validation accuracy marked.
func WriteTables(results []Result, mdPath, csvPath string) error {
	var b strings.Builder
	b.WriteString("| configuration | train accuracy | validation accuracy | gap | test accuracy | test loss | parameters | epochs | training time |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range results {
		name := r.Name
		if r.Best {
			name = "**" + name + "** (best by validation)"
		}
		trainAcc, gap := "–", "–"
		if r.TrainAccuracy > 0 {
			trainAcc, gap = fmt.Sprintf("%.4f", r.TrainAccuracy), fmt.Sprintf("%+.4f", r.TrainAccuracy-r.ValAccuracy)
		}
		fmt.Fprintf(&b, "| %s | %s | %.4f | %s | %.4f | %.4f | %d | %d | %.0f s |\n", name, trainAcc, r.ValAccuracy, gap, r.TestAccuracy, r.TestLoss, r.Params, r.Epochs, r.TrainSeconds)
	}
	b.WriteString("\nThe best configuration is chosen by validation accuracy; the test set is evaluated once per configuration and not used to choose. ")
	b.WriteString("Train accuracy is the final model's on the training images (no augmentation, no dropout); the gap is train minus validation accuracy (– : not recorded by the run that made that row).\n")
	if err := writeAtomic(mdPath, []byte(b.String())); err != nil {
		return err
	}
	var c strings.Builder
	w := csv.NewWriter(&c)
	w.Write([]string{"name", "train_accuracy", "val_accuracy", "test_accuracy", "test_loss", "params", "epochs", "train_seconds", "best", "description"})
	for _, r := range results {
		trainAcc := ""
		if r.TrainAccuracy > 0 {
			trainAcc = fmt.Sprintf("%.4f", r.TrainAccuracy)
		}
		w.Write([]string{r.Name, trainAcc, fmt.Sprintf("%.4f", r.ValAccuracy), fmt.Sprintf("%.4f", r.TestAccuracy), fmt.Sprintf("%.4f", r.TestLoss),
			fmt.Sprint(r.Params), fmt.Sprint(r.Epochs), fmt.Sprintf("%.1f", r.TrainSeconds), fmt.Sprint(r.Best), r.Description})
	}
	w.Flush()
	return writeAtomic(csvPath, []byte(c.String()))
}

func writeAtomic(path string, b []byte) error {
	if err := atomicfile.WriteBytes(path, b, 0o644); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	return nil
}
