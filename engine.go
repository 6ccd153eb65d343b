package capa

import (
	"fmt"

	"github.com/capa-ml/capa/internal/kernels"
)

// Engine describes the compute engine under the models: the BLAS behind the
// matrix products (OpenBLAS loaded at run time when the machine has it, else
// gonum's pure-Go sgemm; CAPA_BLAS=gonum forces the latter), the number
// of goroutines the kernels split each batch across, and whether 3x3
// convolutions at inference use Winograd's algorithm (CAPA_WINOGRAD=0 turns
// it off).
func Engine() string {
	wino := "Winograd F(4x4,3x3) and F(2x2,3x3) for 3x3 convolutions at inference"
	if !kernels.WinogradEnabled() {
		wino = "Winograd off"
	}
	return fmt.Sprintf("%s; %d kernel workers; %s", kernels.BLASName(), kernels.Workers(), wino)
}
