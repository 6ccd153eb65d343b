package engine

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestExecutorReusesOwnBuffers: the output of an op of this package (a
// PreallocOverwriter) is written into the same buffer at every run, with
// the new values; Gorgonia's ops (run with Do) still see the new values.
func TestExecutorReusesOwnBuffers(t *testing.T) {
	g := G.NewGraph()
	xv := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{-1, 2, -3, 4, -5, 6}))
	x := G.NodeFromAny(g, xv, G.WithName("x"))
	y := G.Must(Relu(x))
	z := G.Must(G.Add(y, y)) // a Gorgonia op
	var _ PreallocOverwriter = y.Op().(PreallocOverwriter)
	if _, ok := z.Op().(PreallocOverwriter); ok {
		t.Fatalf("Gorgonia's %v claims to overwrite its buffer", z.Op())
	}
	ex, err := NewExecutor(g, z)
	if err != nil {
		t.Fatal(err)
	}
	run := func() (yv, zv G.Value) {
		t.Helper()
		if err := ex.Run(); err != nil {
			t.Fatal(err)
		}
		if yv, err = ex.Value(y); err != nil {
			t.Fatal(err)
		}
		if zv, err = ex.Value(z); err != nil {
			t.Fatal(err)
		}
		return yv, zv
	}
	y1, _ := run()
	xv.Data().([]float32)[0] = 7 // in place, as a Runner's Feed does
	y2, z2 := run()
	if y1 != y2 {
		t.Error("Relu's output was not written into the buffer of the first run")
	}
	want := []float32{14, 4, 0, 8, 0, 12}
	got := z2.Data().([]float32)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("second run: relu(x)+relu(x) = %v, want %v", got, want)
		}
	}
}
