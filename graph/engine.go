package graph

import (
	"fmt"

	"github.com/capa-ml/capa/internal/kernels"
)

// EngineInfo describes the compute engine under the models (see Engine).
type EngineInfo struct {
	// BLAS names the library behind the matrix products: OpenBLAS loaded
	// at run time when the machine has it, else gonum's pure-Go sgemm
	// (CAPA_BLAS=gonum forces the latter).
	BLAS string
	// Workers is the number of goroutines the kernels split each batch
	// across.
	Workers int
	// Winograd reports whether 3x3 convolutions with stride 1 run
	// Winograd's algorithm where no kernel gradient is needed (inference):
	// on unless CAPA_WINOGRAD=0 or SetWinograd(false).
	Winograd bool
}

// Engine returns the compute engine's current settings.
func Engine() EngineInfo {
	return EngineInfo{BLAS: kernels.BLASName(), Workers: kernels.Workers(), Winograd: kernels.WinogradEnabled()}
}

// String describes the engine in one line, for logs and benchmark
// reports.
func (e EngineInfo) String() string {
	wino := "Winograd F(4x4,3x3) and F(2x2,3x3) for 3x3 convolutions at inference"
	if !e.Winograd {
		wino = "Winograd off"
	}
	return fmt.Sprintf("%s; %d kernel workers; %s", e.BLAS, e.Workers, wino)
}

// SetWinograd turns Winograd's convolution on or off (off: every
// convolution goes through im2col; the values agree to float32 rounding)
// and returns the previous setting. Graphs follow the setting from their
// next run. It must not be called while a model runs.
func SetWinograd(on bool) (prev bool) { return kernels.SetWinograd(on) }
