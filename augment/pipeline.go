package augment

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
)

// Pipeline applies a list of random transforms to batches of images, each
// image getting its own random draws, from the pipeline's own seeded
// generator: the same seed and the same calls give the same images.
//
// The geometric transforms are composed, in their order, into one affine
// map per image, and the image is resampled once through it (with
// Interpolation and Fill); then the pixel transforms run in their order.
// All random parameters of a batch are drawn first, image by image and
// transform by transform, then the images are transformed in parallel: the
// result does not depend on Workers.
//
// A Pipeline satisfies graph.BatchTransform (hand it to FitOptions.Augment).
// It is not safe for concurrent use.
type Pipeline struct {
	// Fill and FillValue say what geometric transforms show outside the
	// input image; the zero value is FillReflect, Keras's default.
	Fill      FillMode
	FillValue float32
	// Interpolation samples between pixels; the zero value is Bilinear.
	Interpolation Interpolation
	// Workers bounds the goroutines transforming a batch (0: GOMAXPROCS).
	Workers int

	steps []step
	geo   int // geometric steps
	pix   int // pixel steps
	src   *rand.PCG
	rng   *rand.Rand

	// Per-batch plans, reused: maps[i] and warp[i] for image i, params
	// [i*pix, (i+1)*pix) and the pixel steps' on flags beside them.
	maps    []affine
	params  []pixelParams
	on      []bool
	scratch [][]float32
}

type step struct {
	p   float64
	geo geometric
	px  pixelwise
}

// New returns a pipeline of transforms seeded with seed. It checks every
// transform's configuration.
func New(seed uint64, ts ...Transform) (*Pipeline, error) {
	p := &Pipeline{src: rand.NewPCG(seed, 0x6175676d656e74)}
	p.rng = rand.New(p.src)
	for i, t := range ts {
		if t == nil {
			return nil, fmt.Errorf("augment: transform %d is nil", i)
		}
		if err := t.validate(); err != nil {
			return nil, err
		}
		s := step{p: 1}
		for {
			w, ok := t.(prob)
			if !ok {
				break
			}
			s.p *= w.p
			t = w.t
		}
		switch t := t.(type) {
		case geometric:
			s.geo = t
			p.geo++
		case pixelwise:
			s.px = t
			p.pix++
		default:
			return nil, fmt.Errorf("augment: transform %d (%T) is not one of this package's", i, t)
		}
		p.steps = append(p.steps, s)
	}
	return p, nil
}

// FashionMNIST returns the default pipeline for Fashion-MNIST (28x28x1
// garments on a black background): horizontal flips (garments are about
// left-right symmetric; no vertical flips: nothing hangs upside down),
// rotations of at most ±0.02 turn (±7°), shifts of at most 8% (about two
// pixels), zooms of ±8%, a slight shear, small brightness and contrast
// changes, and random erasing of one rectangle in one image out of four.
// Outside the image the fill is black, like the background.
func FashionMNIST(seed uint64) *Pipeline {
	p, err := New(seed,
		Flip{Mode: Horizontal},
		Rotation{Factor: Sym(0.02)},
		Translation{HeightFactor: Sym(0.08), WidthFactor: Sym(0.08)},
		Zoom{HeightFactor: Sym(0.08)},
		Shear{X: Sym(0.05)},
		Brightness{Factor: Sym(0.05)},
		Contrast{Factor: Sym(0.1)},
		Prob(0.25, Erasing{Scale: Range{0.02, 0.12}}),
	)
	if err != nil {
		panic(err) // the configuration above is valid
	}
	p.Fill = FillConstant
	return p
}

// String lists the transforms.
func (p *Pipeline) String() string {
	parts := make([]string, len(p.steps))
	for i, s := range p.steps {
		var t Transform = s.px
		if s.geo != nil {
			t = s.geo
		}
		parts[i] = t.String()
		if s.p != 1 {
			parts[i] = fmt.Sprintf("Prob(%v, %v)", s.p, t)
		}
	}
	return fmt.Sprintf("Pipeline[%s; fill %v %v, %v]", strings.Join(parts, ", "), p.Fill, p.FillValue, p.Interpolation)
}

// MarshalState returns the state of the pipeline's random generator.
func (p *Pipeline) MarshalState() ([]byte, error) { return p.src.MarshalBinary() }

// UnmarshalState restores a state returned by MarshalState.
func (p *Pipeline) UnmarshalState(b []byte) error { return p.src.UnmarshalBinary(b) }

// checkShape validates a batch: n images of shape (H, W, C), or (H, W) for
// one channel, in x.
func checkShape(x []float32, n int, shape []int) (h, w, c int, err error) {
	switch len(shape) {
	case 2:
		h, w, c = shape[0], shape[1], 1
	case 3:
		h, w, c = shape[0], shape[1], shape[2]
	default:
		return 0, 0, 0, fmt.Errorf("augment: images must be (H, W, C), got shape %v", shape)
	}
	if h < 1 || w < 1 || c < 1 || n < 0 {
		return 0, 0, 0, fmt.Errorf("augment: bad batch of %d images of shape %v", n, shape)
	}
	if len(x) != n*h*w*c {
		return 0, 0, 0, fmt.Errorf("augment: %d values for %d images of shape %v (%d values)", len(x), n, shape, n*h*w*c)
	}
	return h, w, c, nil
}

// Apply transforms in place x, n images of shape (H, W, C) in NHWC order.
// Labels are not involved: every transform keeps an image's class. It
// returns an error, changing nothing, if len(x) != n*H*W*C.
func (p *Pipeline) Apply(x []float32, n int, shape []int) error {
	h, w, c, err := checkShape(x, n, shape)
	if err != nil {
		return err
	}
	if n == 0 || len(p.steps) == 0 {
		return nil
	}
	p.draw(n, h, w)
	size := h * w * c
	wp := warpParams{h: h, w: w, c: c, fill: p.Fill, interp: p.Interpolation, value: p.FillValue}
	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// A worker gets at least ~8k values (some 100 µs of work), so that
	// starting it pays.
	workers = max(1, min(workers, n, n*size/(1<<13)))
	for len(p.scratch) < workers {
		p.scratch = append(p.scratch, nil)
	}
	if workers == 1 {
		p.apply(x, 0, n, size, wp, 0)
		return nil
	}
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		lo, hi := k*n/workers, (k+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.apply(x, lo, hi, size, wp, k)
		}()
	}
	wg.Wait()
	return nil
}

// draw samples every random parameter of a batch of n images, in order.
func (p *Pipeline) draw(n, h, w int) {
	if cap(p.maps) < n {
		p.maps = make([]affine, n)
		p.params = make([]pixelParams, n*p.pix)
		p.on = make([]bool, n*p.pix)
	}
	p.maps, p.params, p.on = p.maps[:n], p.params[:n*p.pix], p.on[:n*p.pix]
	for i := 0; i < n; i++ {
		m := identity
		k := i * p.pix
		for _, s := range p.steps {
			apply := s.p >= 1 || p.rng.Float64() < s.p
			if s.geo != nil {
				if apply {
					m = m.then(s.geo.sample(p.rng, h, w))
				}
				continue
			}
			p.on[k] = apply
			if apply {
				s.px.sample(p.rng, h, w, &p.params[k])
			}
			k++
		}
		p.maps[i] = m
	}
}

// apply transforms images [lo, hi) of x with their drawn parameters, using
// scratch buffer k.
func (p *Pipeline) apply(x []float32, lo, hi, size int, wp warpParams, k int) {
	if len(p.scratch[k]) < size && p.geo > 0 {
		p.scratch[k] = make([]float32, size)
	}
	for i := lo; i < hi; i++ {
		img := x[i*size : (i+1)*size]
		if m := p.maps[i]; !m.isIdentity() {
			buf := p.scratch[k][:size]
			warpTo(buf, img, m, wp)
			copy(img, buf)
		}
		j := i * p.pix
		for _, s := range p.steps {
			if s.px == nil {
				continue
			}
			if p.on[j] {
				s.px.apply(img, wp.h, wp.w, wp.c, &p.params[j])
			}
			j++
		}
	}
}
