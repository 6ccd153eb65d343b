package capa

import "github.com/capa-ml/capa/graph"

// Engine describes the compute engine under the models: the BLAS behind the
// matrix products (OpenBLAS loaded at run time when the machine has it, else
// gonum's pure-Go sgemm; CAPA_BLAS=gonum forces the latter), the number
// of goroutines the kernels split each batch across, and whether 3x3
// convolutions at inference use Winograd's algorithm (CAPA_WINOGRAD=0 turns
// it off). It is graph.Engine().String().
func Engine() string { return graph.Engine().String() }
