package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/formats/npy"
)

// TestAppCommandErrors: capa app's mistakes are usage errors naming the
// command, an unknown network lists the known ones, and a weight file of
// another network (here a reduced-width one) is refused naming a tensor.
func TestAppCommandErrors(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x.npy")
	npy.WriteFile(x, []int{1, 64, 64, 3}, make([]float32, 64*64*3))
	y := filepath.Join(dir, "y.npy")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"app"}, "capa app"},
		{[]string{"app", "features", "--arch", "resnet50"}, "required"},
		{[]string{"app", "features", "--arch", "alexnet", "--weights", "../../applications/testdata/resnet18_mini.pth", "--input", x, "--output", y}, "resnet18 (torchvision)"},
		{[]string{"app", "features", "--arch", "resnet18", "--weights", "../../applications/testdata/keras_resnet50_mini.h5", "--input", x, "--output", y}, "no network"},
		{[]string{"app", "features", "--arch", "resnet18", "--weights", x, "--input", x, "--output", y}, "neither a Keras"},
		{[]string{"app", "features", "--arch", "resnet18", "--weights", "../../applications/testdata/resnet18_mini.pth", "--input", x, "--output", y}, "conv1.weight"},
		{[]string{"app", "predict", "--arch", "resnet50", "--source", "keras", "--weights", "../../applications/testdata/resnet50_mini.pth", "--input", x, "--output", y}, "give --source torchvision"},
		{[]string{"app", "predict", "--arch", "resnet50", "--weights", "../../applications/testdata/keras_resnet50_mini.h5", "--input", x, "--output", y}, "conv1_conv"},
	} {
		out, err := exec.Command(capaBin, c.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("capa %v: err %v, want a message with %q:\n%s", c.args, err, c.want, out)
		}
	}
}
