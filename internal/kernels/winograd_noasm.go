//go:build !amd64 || capa_noasm

package kernels

// Without the assembly, the Winograd transforms are the pure-Go loops.

func winoFilter(u, g []float32, lo, hi, ck int) { winoFilterGeneric(u, g, lo, hi, ck) }
func winoInput(dst, src []float32, tiles, c, rs int) {
	winoInputGeneric(dst, src, tiles, c, rs, 0)
}
func winoOutput(dst, src []float32, tiles, f, rs int) {
	winoOutputGeneric(dst, src, tiles, f, rs, 0)
}
func winoInput4(dst, src []float32, tiles, c, rs int) {
	winoInput4Generic(dst, src, tiles, c, rs, 0)
}
func winoOutput4(dst, src []float32, tiles, f, rs int) {
	winoOutput4Generic(dst, src, tiles, f, rs, 0)
}
func winoFilter4(u, g []float32, lo, hi, ck int) { winoFilter4Generic(u, g, lo, hi, ck) }
