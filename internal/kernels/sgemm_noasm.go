//go:build !amd64 || capa_noasm

package kernels

// sgemmKernels: no assembly kernels on this platform or build.
func sgemmKernels() []*sgemmKernel { return nil }
