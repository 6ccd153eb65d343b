package mpi

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// MPIRun returns the mpirun command line for n processes of args (as
// root too, more processes than cores allowed), or skips the test without
// mpirun, except under CI.
func mpirun(t *testing.T, n int, args ...string) *exec.Cmd {
	t.Helper()
	path, err := exec.LookPath("mpirun")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mpirun is missing (CI is set: apt-get install openmpi-bin libopenmpi-dev)")
		}
		t.Skip("no mpirun: apt-get install openmpi-bin")
	}
	return exec.Command(path, append([]string{"--allow-run-as-root", "--oversubscribe", "-np", fmt.Sprint(n)}, args...)...)
}

// TestWorld runs this test binary as 3 MPI processes (TestWorldChild):
// ranks and size, an all-reduce sum, a maximum and a broadcast agree.
func TestWorld(t *testing.T) {
	cmd := mpirun(t, 3, os.Args[0], "-test.run", "^TestWorldChild$", "-test.v")
	cmd.Env = append(os.Environ(), "CAPA_MPI_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for r := range 3 {
		if !strings.Contains(string(out), fmt.Sprintf("rank %d of 3: sum [6 60] max [2] broadcast [7 8]", r)) {
			t.Errorf("rank %d's line missing:\n%s", r, out)
		}
	}
}

func TestWorldChild(t *testing.T) {
	if os.Getenv("CAPA_MPI_CHILD") == "" {
		t.Skip("run by TestWorld under mpirun")
	}
	w, err := Init()
	if err != nil {
		t.Fatal(err)
	}
	r := float32(w.Rank())
	sum := []float32{r + 1, 10 * (r + 1)}
	if err := w.AllreduceSum(sum); err != nil {
		t.Fatal(err)
	}
	mx := []float64{float64(w.Rank())}
	if err := w.AllreduceMax64(mx); err != nil {
		t.Fatal(err)
	}
	b := []float32{r, r}
	if w.Rank() == 0 {
		b = []float32{7, 8}
	}
	if err := w.Broadcast(b); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("rank %d of %d: sum %v max %v broadcast %v\n", w.Rank(), w.Size(), sum, mx, b)
	w.Finalize()
}

// BenchmarkAllreduce times the all-reduce of the practical CNN's gradients
// (62,346 weights, 249 kB). Run it under mpirun with a fixed count, so
// that every rank makes the same calls:
//
//	go test -c -o /tmp/mpi.test ./internal/mpi
//	CAPA_MPI_CHILD=1 mpirun -np 2 /tmp/mpi.test -test.run '^$' -test.bench Allreduce -test.benchtime 2000x
func BenchmarkAllreduce(b *testing.B) {
	if os.Getenv("CAPA_MPI_CHILD") == "" {
		b.Skip("run under mpirun (see the comment)")
	}
	w, err := Init()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{62346 + 2, 1 << 20} {
		buf := make([]float32, n)
		b.Run(fmt.Sprintf("floats=%d", n), func(b *testing.B) {
			b.SetBytes(int64(4 * n))
			for range b.N {
				if err := w.AllreduceSum(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
