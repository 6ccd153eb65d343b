//go:build !linux

package main

// peakRSS is the process's peak resident set size in bytes, read from
// /proc on Linux (peakrss_linux.go); 0 elsewhere.
func peakRSS() int64 { return 0 }
