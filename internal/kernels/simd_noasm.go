//go:build !amd64 || capa_noasm

package kernels

// Without the assembly (other architectures, or the capa_noasm build tag),
// the kernels' inner loops are the pure-Go ones.

// haveSIMD reports whether the assembly kernels can run here: never.
const haveSIMD = false

// useSIMD selects the assembly kernels; always false here (a variable so
// that the tests can flip it on every architecture).
var useSIMD = false

func relu(d, x []float32)                       { reluGeneric(d, x) }
func reluBackward(d, y, g []float32)            { reluBackwardGeneric(d, y, g) }
func biasAdd(dst, x, bias []float32)            { biasAddGeneric(dst, x, bias) }
func biasRelu(dst, x, bias []float32)           { biasReluGeneric(dst, x, bias) }
func biasGrad(buf, dy []float32)                { biasGradGeneric(buf, dy) }
func biasReluBackward(dx, buf, y, dy []float32) { biasReluBackwardGeneric(dx, buf, y, dy) }

func maxPool2x2(dst, x []float32, p Window, argmax []int32, lo, hi int) {
	maxPool2x2Generic(dst, x, p, argmax, lo, hi, 0)
}

func clamp(d, x []float32, lo, hi float32)           { clampGeneric(d, x, lo, hi) }
func mulAdd(d, a, b []float32)                       { mulAddGeneric(d, a, b) }
func norm(d, x, m, s, t []float32)                   { normGeneric(d, x, m, s, t) }
func epilogueRow(d, m, s, t, r []float32, relu bool) { epilogueRowGeneric(d, m, s, t, r, relu) }
func maxInto(d, s []float32)                         { maxIntoGeneric(d, s) }
func addInto(d, s []float32)                         { addIntoGeneric(d, s) }

func depthwiseTapsAVX2(out, x, k *float32, offs *int, taps, c int) { panic("no assembly") }

func epilogueRows(d []float32, f int, m, s, t, r []float32, relu bool) {
	for o := 0; o < len(d); o += f {
		var ro []float32
		if r != nil {
			ro = r[o : o+f]
		}
		epilogueRow(d[o:o+f], m, s, t, ro, relu)
	}
}
