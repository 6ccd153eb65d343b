//go:build !((linux || freebsd || darwin) && (amd64 || arm64)) || capa_noblas

package kernels

import (
	"errors"
	"runtime"
)

// Without run-time loading (other platforms, or a build tagged capa_noblas
// for a fully static binary), Gemm always runs on gonum.

func openBLASCandidates() []string { return nil }

func openCBLAS(file string, requireOpenBLAS bool) (*blasBackend, error) {
	return nil, errors.New("loading a BLAS at run time is not supported on " + runtime.GOOS + "/" + runtime.GOARCH + " or in capa_noblas builds")
}
