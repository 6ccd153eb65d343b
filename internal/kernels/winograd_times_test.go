//go:build unix

package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWinogradLayerTimes times the im2col and the two Winograd
// convolutions (filters transformed once, as in inference) alternately on
// VGG16's layers (ResNet's 3x3 layers with CAPA_WINO_NET=resnet) and logs the fastest of b.N runs of each (for example
// -bench WinogradLayerTimes -benchtime 5x),
// in wall time and in the process's CPU time: on a shared machine the
// minimum is the measure least disturbed by other processes, and CPU time
// is not inflated by waiting for a core.
func BenchmarkWinogradLayerTimes(t *testing.B) {
	reps := t.N
	if b, _ := strconv.Atoi(os.Getenv("CAPA_WINO_BLOCK")); b > 0 {
		defer withWinoBlockSet(b)()
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var tot [3][2]time.Duration
	layers := vggLayers()
	if os.Getenv("CAPA_WINO_NET") == "resnet" {
		layers = resnetLayers()
	}
	for _, l := range layers {
		p := Window{N: l.n, H: l.hw, W: l.hw, C: l.c, KH: 3, KW: 3, SH: 1, SW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
		x, w := randSlice(rng, p.InLen()), randSlice(rng, 9*l.c*l.f)
		y := make([]float32, p.ConvOutLen(l.f))
		s1 := make([]float32, p.StreamScratchLen())
		wino := func(r int) func() {
			var s []float32
			withWinoTile(r, func() { s = make([]float32, p.WinogradScratchLen(l.f)) })
			return func() {
				withWinoTile(r, func() { Conv2DWinogradReuseTo(y, x, w, p, l.f, s, s[0] == float32(r), Epilogue{}) })
			}
		}
		runs := [3]func(){func() { Conv2DStreamTo(y, x, w, p, l.f, s1, Epilogue{}) }, wino(2), wino(4)}
		var best [3][2]time.Duration
		for i := range best {
			best[i] = [2]time.Duration{time.Hour, time.Hour}
		}
		for r := 0; r < reps; r++ {
			for i, f := range runs {
				wall, cpu := timeCall(f)
				best[i][0], best[i][1] = min(best[i][0], wall), min(best[i][1], cpu)
			}
		}
		for i := range tot {
			tot[i][0] += best[i][0]
			tot[i][1] += best[i][1]
		}
		fmt.Fprintf(os.Stderr, "%-28s wall: im2col %7.2f F2 %7.2f F4 %7.2f ms   cpu: im2col %7.2f F2 %7.2f F4 %7.2f ms", l.name,
			ms(best[0][0]), ms(best[1][0]), ms(best[2][0]), ms(best[0][1]), ms(best[1][1]), ms(best[2][1]))
		fmt.Fprintln(os.Stderr)
	}
	t.Logf("sum of the layers: wall: im2col %.1f F2 %.1f F4 %.1f ms; cpu: im2col %.1f F2 %.1f F4 %.1f ms",
		ms(tot[0][0]), ms(tot[1][0]), ms(tot[2][0]), ms(tot[0][1]), ms(tot[1][1]), ms(tot[2][1]))
}

// timeCall returns the wall time and the process's CPU time (user and
// system) of f.
func timeCall(f func()) (wall, cpu time.Duration) {
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	start := time.Now()
	f()
	wall = time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	tv := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return wall, tv(r1) - tv(r0)
}

// resnetLayers are the 3x3 convolutions of stride 1 in torchvision's
// ResNets at 32x32 batch 64 and 224x224 batch 1 (one of each shape).
func resnetLayers() []vggLayer {
	var ls []vggLayer
	for _, s := range []struct{ n, hw int }{{64, 32}, {1, 224}} {
		for i, c := range []int{64, 128, 256, 512} {
			hw := s.hw / (4 << i)
			ls = append(ls, vggLayer{fmt.Sprintf("%dx%d_b%d/%dx%dx%d-%d", s.hw, s.hw, s.n, hw, hw, c, c), s.n, hw, c, c})
		}
	}
	return ls
}
