package capa

import (
	"fmt"

	"github.com/capa-ml/capa/internal/kernels"
)

// Engine describes the compute engine under the models: the BLAS behind the
// matrix products (OpenBLAS loaded at run time when the machine has it, else
// gonum's pure-Go sgemm; CAPA_BLAS=gonum forces the latter) and the number
// of goroutines the kernels split each batch across.
func Engine() string {
	return fmt.Sprintf("%s; %d kernel workers", kernels.BLASName(), kernels.Workers())
}
