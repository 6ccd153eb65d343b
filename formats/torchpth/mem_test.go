package torchpth

import "runtime"

// memAlloc returns the cumulative bytes allocated by the process.
func memAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
