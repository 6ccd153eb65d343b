// Package gradcheck compares the symbolic gradients of a Gorgonia expression
// with central finite differences. It is a test helper for the graph package
// and for any package that adds ops or layers.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Build constructs the expression under test in g from the input nodes and
// returns its output (of any shape).
type Build func(g *G.ExprGraph, inputs []*G.Node) (*G.Node, error)

// Options tune a check. Zero values select the defaults.
type Options struct {
	Eps  float64 // finite-difference step (default 1e-2)
	RTol float64 // tolerance relative to the larger gradient norm (default 2e-2)
	Seed uint64  // seed of the random projection of the output
	// Wrt lists the indices of the inputs to differentiate; nil means all.
	Wrt []int
	// Tie makes input pair[1] share input pair[0]'s values, so perturbing
	// one perturbs both (used to test that the check catches a wrong
	// gradient).
	Tie [][2]int
}

// Result reports a check: the largest absolute difference and the norms.
type Result struct {
	MaxAbsDiff float64
	Norm       float64 // the larger of the two gradient norms
	RelErr     float64 // ||symbolic - numeric|| / max(norms)
}

// Check computes the gradient of L = sum(out * R), for a fixed random R, with
// respect to the chosen inputs, symbolically (gorgonia.Grad) and by central
// differences on float32 values, and returns an error when the relative
// error exceeds the tolerance. Inputs are float32 tensors; they are copied.
func Check(build Build, inputs []*tensor.Dense, opt Options) (Result, error) {
	if opt.Eps == 0 {
		opt.Eps = 1e-2
	}
	if opt.RTol == 0 {
		opt.RTol = 2e-2
	}
	wrt := opt.Wrt
	if wrt == nil {
		for i := range inputs {
			wrt = append(wrt, i)
		}
	}
	vals := make([]*tensor.Dense, len(inputs))
	for i, in := range inputs {
		vals[i] = in.Clone().(*tensor.Dense)
	}
	for _, t := range opt.Tie {
		vals[t[1]] = vals[t[0]]
	}
	// Symbolic.
	g := G.NewGraph()
	nodes := make([]*G.Node, len(vals))
	for i, v := range vals {
		nodes[i] = G.NodeFromAny(g, v, G.WithName(fmt.Sprintf("in%d", i)))
	}
	out, err := build(g, nodes)
	if err != nil {
		return Result{}, fmt.Errorf("gradcheck: build: %w", err)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 7))
	var loss *G.Node
	if out.IsScalar() {
		// A scalar output (such as a loss) is scaled by one random number.
		if loss, err = G.Mul(out, G.NewConstant(float32(rng.Float64()*2-1), G.WithName("projection"))); err != nil {
			return Result{}, err
		}
	} else {
		r := tensor.New(tensor.WithShape(out.Shape().Clone()...), tensor.Of(tensor.Float32))
		rd := r.Data().([]float32)
		for i := range rd {
			rd[i] = float32(rng.Float64()*2 - 1)
		}
		rn := G.NodeFromAny(g, r, G.WithName("projection"))
		prod, err := G.HadamardProd(out, rn)
		if err != nil {
			return Result{}, err
		}
		if loss, err = G.Sum(prod); err != nil {
			return Result{}, err
		}
	}
	var wn G.Nodes
	for _, i := range wrt {
		wn = append(wn, nodes[i])
	}
	if _, err := G.Grad(loss, wn...); err != nil {
		return Result{}, fmt.Errorf("gradcheck: grad: %w", err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(wn...))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		return Result{}, fmt.Errorf("gradcheck: run: %w", err)
	}
	sym := make([][]float32, len(wn))
	for k, n := range wn {
		gv, err := n.Grad()
		if err != nil {
			return Result{}, err
		}
		sym[k] = append([]float32(nil), gv.Data().([]float32)...)
	}
	// Numeric, on the same graph: perturb the bound values in place.
	eval := func() (float64, error) {
		m.Reset()
		if err := m.RunAll(); err != nil {
			return 0, err
		}
		return float64(loss.Value().Data().(float32)), nil
	}
	var diff2, sn2, nn2, maxAbs float64
	for k, i := range wrt {
		d := vals[i].Data().([]float32)
		for j := range d {
			orig := d[j]
			d[j] = orig + float32(opt.Eps)
			lp, err := eval()
			if err != nil {
				return Result{}, err
			}
			d[j] = orig - float32(opt.Eps)
			lm, err := eval()
			if err != nil {
				return Result{}, err
			}
			d[j] = orig
			num := (lp - lm) / (2 * opt.Eps)
			s := float64(sym[k][j])
			diff2 += (s - num) * (s - num)
			sn2 += s * s
			nn2 += num * num
			maxAbs = math.Max(maxAbs, math.Abs(s-num))
		}
	}
	res := Result{MaxAbsDiff: maxAbs, Norm: math.Sqrt(math.Max(sn2, nn2))}
	if res.Norm == 0 {
		return res, fmt.Errorf("gradcheck: both gradients are zero: the check cannot fail, choose other inputs")
	}
	res.RelErr = math.Sqrt(diff2) / res.Norm
	if res.RelErr > opt.RTol {
		return res, fmt.Errorf("gradcheck: relative error %.3g > %.3g (max abs diff %.3g, norm %.3g)", res.RelErr, opt.RTol, res.MaxAbsDiff, res.Norm)
	}
	return res, nil
}

// Random returns a float32 tensor of the given shape with values uniform in
// [lo, hi), drawn from a PCG seeded with seed.
func Random(seed uint64, lo, hi float64, shape ...int) *tensor.Dense {
	rng := rand.New(rand.NewPCG(seed, 11))
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	d := t.Data().([]float32)
	for i := range d {
		d[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return t
}
