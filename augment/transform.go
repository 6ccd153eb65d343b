package augment

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
)

// Range is a closed interval [lo, hi] from which a random factor is drawn
// uniformly. The zero Range draws 0: the transform does nothing. In JSON a
// Range is written [lo, hi]; a single number f reads as [-f, f], as Keras's
// factors do.
type Range [2]float64

// Sym returns the Range [-f, f].
func Sym(f float64) Range { return Range{-f, f} }

func (r Range) zero() bool { return r[0] == 0 && r[1] == 0 }

func (r Range) draw(rng *rand.Rand) float64 {
	if r[0] == r[1] {
		return r[0]
	}
	return r[0] + (r[1]-r[0])*rng.Float64()
}

func (r Range) check(name string) error {
	if math.IsNaN(r[0]) || math.IsNaN(r[1]) || math.IsInf(r[0], 0) || math.IsInf(r[1], 0) || r[0] > r[1] {
		return fmt.Errorf("%s must be a finite range [lo, hi] with lo <= hi, got %v", name, [2]float64(r))
	}
	return nil
}

// UnmarshalJSON reads [lo, hi] or a number f, meaning [-f, f].
func (r *Range) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*r = Sym(f)
		return nil
	}
	var a [2]float64
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("augment: a factor is a number or [lo, hi], got %s", b)
	}
	*r = a
	return nil
}

// Transform is one kind of random transformation of an image. Geometric
// transforms (Flip, Rotation, Translation, Zoom, Shear) move pixels; pixel
// transforms (Brightness, Contrast, Erasing) change values. The set is
// closed: the transforms are the types of this package.
type Transform interface {
	fmt.Stringer
	validate() error
}

// geometric transforms draw an inverse map for one image.
type geometric interface {
	Transform
	sample(r *rand.Rand, h, w int) affine
}

// pixelParams are the random parameters a pixel transform draws for one
// image.
type pixelParams struct {
	v    [4]float64
	seed uint64
}

type pixelwise interface {
	Transform
	sample(r *rand.Rand, h, w int, p *pixelParams)
	// apply changes the HWC image img; it must not draw random numbers
	// other than from p.seed.
	apply(img []float32, h, w, c int, p *pixelParams)
}

// FlipMode selects the axes of Flip.
type FlipMode int

const (
	// Horizontal flips left and right.
	Horizontal FlipMode = 1 << iota
	// Vertical flips top and bottom.
	Vertical
	// HorizontalAndVertical flips each axis independently.
	HorizontalAndVertical = Horizontal | Vertical
)

// String returns Keras's name of the mode.
func (m FlipMode) String() string {
	switch m {
	case Horizontal:
		return "horizontal"
	case Vertical:
		return "vertical"
	case HorizontalAndVertical:
		return "horizontal_and_vertical"
	}
	return fmt.Sprintf("FlipMode(%d)", int(m))
}

// ParseFlipMode reads Keras's names; "" is HorizontalAndVertical, Keras's
// default.
func ParseFlipMode(s string) (FlipMode, error) {
	switch s {
	case "", "horizontal_and_vertical":
		return HorizontalAndVertical, nil
	case "horizontal":
		return Horizontal, nil
	case "vertical":
		return Vertical, nil
	}
	return 0, fmt.Errorf("augment: flip mode must be horizontal, vertical or horizontal_and_vertical, got %q", s)
}

// Flip mirrors the image along each axis of Mode with probability 1/2
// (Keras's RandomFlip). The zero Mode is HorizontalAndVertical, Keras's
// default.
type Flip struct{ Mode FlipMode }

func (t Flip) String() string {
	if t.Mode == 0 {
		return "Flip(horizontal_and_vertical)"
	}
	return fmt.Sprintf("Flip(%v)", t.Mode)
}

func (t Flip) validate() error {
	if t.Mode < 0 || t.Mode > HorizontalAndVertical {
		return fmt.Errorf("augment: Flip: bad mode %d", int(t.Mode))
	}
	return nil
}

func (t Flip) sample(r *rand.Rand, h, w int) affine {
	if t.Mode == 0 {
		t.Mode = HorizontalAndVertical
	}
	m := identity
	if t.Mode&Horizontal != 0 && r.Uint64()&1 == 1 {
		m.a = -1
	}
	if t.Mode&Vertical != 0 && r.Uint64()&1 == 1 {
		m.e = -1
	}
	return m
}

// Rotation rotates the image about its centre by an angle drawn from
// Factor, in fractions of a full turn (Keras's RandomRotation: Sym(0.1) is
// up to ±36°); positive angles turn counter-clockwise.
type Rotation struct{ Factor Range }

func (t Rotation) String() string { return fmt.Sprintf("Rotation(%v)", [2]float64(t.Factor)) }

func (t Rotation) validate() error { return wrap("Rotation", t.Factor.check("factor")) }

func (t Rotation) sample(r *rand.Rand, h, w int) affine {
	if t.Factor.zero() {
		return identity
	}
	th := t.Factor.draw(r) * 2 * math.Pi
	if th == 0 {
		return identity
	}
	// Output pixel (x, y) reads the input at the point rotated by -θ
	// on screen (y down), as Keras's transform does.
	s, c := math.Sincos(th)
	return affine{a: c, b: -s, d: s, e: c}
}

// Translation shifts the image by fractions of its height and width drawn
// from HeightFactor and WidthFactor (Keras's RandomTranslation): positive
// shifts move the content down and to the right.
type Translation struct{ HeightFactor, WidthFactor Range }

func (t Translation) String() string {
	return fmt.Sprintf("Translation(h %v, w %v)", [2]float64(t.HeightFactor), [2]float64(t.WidthFactor))
}

func (t Translation) validate() error {
	if err := t.HeightFactor.check("height factor"); err != nil {
		return wrap("Translation", err)
	}
	return wrap("Translation", t.WidthFactor.check("width factor"))
}

func (t Translation) sample(r *rand.Rand, h, w int) affine {
	m := identity
	m.f = -t.HeightFactor.draw(r) * float64(h)
	m.c = -t.WidthFactor.draw(r) * float64(w)
	return m
}

// Zoom scales the image about its centre (Keras's RandomZoom): a factor z
// drawn from HeightFactor makes the content 1/(1+z) times as tall, so
// positive factors zoom out and negative ones zoom in. WidthFactor nil
// keeps the aspect ratio (the height's draw is used for both).
type Zoom struct {
	HeightFactor Range
	WidthFactor  *Range
}

func (t Zoom) String() string {
	if t.WidthFactor == nil {
		return fmt.Sprintf("Zoom(%v)", [2]float64(t.HeightFactor))
	}
	return fmt.Sprintf("Zoom(h %v, w %v)", [2]float64(t.HeightFactor), [2]float64(*t.WidthFactor))
}

func (t Zoom) validate() error {
	if err := t.HeightFactor.check("height factor"); err != nil {
		return wrap("Zoom", err)
	}
	if t.HeightFactor[0] <= -1 {
		return fmt.Errorf("augment: Zoom: factors must be > -1, got height factor %v", [2]float64(t.HeightFactor))
	}
	if w := t.WidthFactor; w != nil {
		if err := w.check("width factor"); err != nil {
			return wrap("Zoom", err)
		}
		if w[0] <= -1 {
			return fmt.Errorf("augment: Zoom: factors must be > -1, got width factor %v", [2]float64(*w))
		}
	}
	return nil
}

func (t Zoom) sample(r *rand.Rand, h, w int) affine {
	zy := 1 + t.HeightFactor.draw(r)
	zx := zy
	if t.WidthFactor != nil {
		zx = 1 + t.WidthFactor.draw(r)
	}
	return affine{a: zx, e: zy}
}

// Shear slants the image (Keras's RandomShear): a factor s drawn from X
// moves each row sideways by s times its distance from the centre; Y does
// the same to columns.
type Shear struct{ X, Y Range }

func (t Shear) String() string {
	return fmt.Sprintf("Shear(x %v, y %v)", [2]float64(t.X), [2]float64(t.Y))
}

func (t Shear) validate() error {
	if err := t.X.check("x factor"); err != nil {
		return wrap("Shear", err)
	}
	return wrap("Shear", t.Y.check("y factor"))
}

func (t Shear) sample(r *rand.Rand, h, w int) affine {
	return affine{a: 1, b: t.X.draw(r), d: t.Y.draw(r), e: 1}
}

// defaultValueRange is the range of Capa's images.
var defaultValueRange = [2]float64{0, 1}

func valueRange(v [2]float64) [2]float64 {
	if v == [2]float64{} {
		return defaultValueRange
	}
	return v
}

func checkValueRange(v [2]float64) error {
	if !(v[0] < v[1]) || math.IsInf(v[0], 0) || math.IsInf(v[1], 0) {
		return fmt.Errorf("value range must be [lo, hi] with lo < hi, got %v", v)
	}
	return nil
}

// Brightness adds to every value a delta drawn from Factor times the width
// of ValueRange, then clips to ValueRange (Keras's RandomBrightness).
// The zero ValueRange is [0, 1], the range of Capa's images.
type Brightness struct {
	Factor     Range
	ValueRange [2]float64
}

func (t Brightness) String() string { return fmt.Sprintf("Brightness(%v)", [2]float64(t.Factor)) }

func (t Brightness) validate() error {
	if err := t.Factor.check("factor"); err != nil {
		return wrap("Brightness", err)
	}
	if t.Factor[0] < -1 || t.Factor[1] > 1 {
		return fmt.Errorf("augment: Brightness: factor must be within [-1, 1], got %v", [2]float64(t.Factor))
	}
	return wrap("Brightness", checkValueRange(valueRange(t.ValueRange)))
}

func (t Brightness) sample(r *rand.Rand, h, w int, p *pixelParams) {
	vr := valueRange(t.ValueRange)
	p.v[0] = t.Factor.draw(r) * (vr[1] - vr[0])
}

func (t Brightness) apply(img []float32, h, w, c int, p *pixelParams) {
	vr := valueRange(t.ValueRange)
	d, lo, hi := float32(p.v[0]), float32(vr[0]), float32(vr[1])
	if d == 0 {
		return
	}
	for i, v := range img {
		img[i] = min(max(v+d, lo), hi)
	}
}

// Contrast scales each channel's deviations from its mean by 1+f, f drawn
// from Factor, then clips to ValueRange (Keras's RandomContrast with
// factor (lower, upper) is Factor [-lower, upper]). The zero ValueRange is
// [0, 1].
type Contrast struct {
	Factor     Range
	ValueRange [2]float64
}

func (t Contrast) String() string { return fmt.Sprintf("Contrast(%v)", [2]float64(t.Factor)) }

func (t Contrast) validate() error {
	if err := t.Factor.check("factor"); err != nil {
		return wrap("Contrast", err)
	}
	if t.Factor[0] < -1 {
		return fmt.Errorf("augment: Contrast: factor must be >= -1 (a contrast of 0), got %v", [2]float64(t.Factor))
	}
	return wrap("Contrast", checkValueRange(valueRange(t.ValueRange)))
}

func (t Contrast) sample(r *rand.Rand, h, w int, p *pixelParams) {
	p.v[0] = 1 + t.Factor.draw(r)
}

func (t Contrast) apply(img []float32, h, w, c int, p *pixelParams) {
	f := float32(p.v[0])
	if f == 1 {
		return
	}
	vr := valueRange(t.ValueRange)
	lo, hi := float32(vr[0]), float32(vr[1])
	n := h * w
	for k := 0; k < c; k++ {
		var s float64
		for i := k; i < len(img); i += c {
			s += float64(img[i])
		}
		mean := float32(s / float64(n))
		for i := k; i < len(img); i += c {
			img[i] = min(max((img[i]-mean)*f+mean, lo), hi)
		}
	}
}

// Erasing blanks one random rectangle (random erasing, Zhong et al. 2017):
// its area is a fraction of the image drawn from Scale (zero: [0.02,
// 0.33]), its height/width ratio is drawn log-uniformly from Ratio (zero:
// [0.3, 3.3]), and it is filled with Value, or with uniform noise in
// ValueRange (zero: [0, 1]) when Noise is set. Wrap it in Prob for Zhong's
// probability of erasing (0.5).
type Erasing struct {
	Scale, Ratio Range
	Value        float32
	Noise        bool
	ValueRange   [2]float64
}

func (t Erasing) String() string { return fmt.Sprintf("Erasing(scale %v)", t.scale()) }

func (t Erasing) scale() Range {
	if t.Scale.zero() {
		return Range{0.02, 0.33}
	}
	return t.Scale
}

func (t Erasing) ratio() Range {
	if t.Ratio.zero() {
		return Range{0.3, 3.3}
	}
	return t.Ratio
}

func (t Erasing) validate() error {
	s, r := t.scale(), t.ratio()
	if err := s.check("scale"); err != nil || s[0] < 0 || s[1] > 1 {
		return fmt.Errorf("augment: Erasing: scale must be a range within [0, 1], got %v", [2]float64(s))
	}
	if err := r.check("ratio"); err != nil || r[0] <= 0 {
		return fmt.Errorf("augment: Erasing: ratio must be a positive range, got %v", [2]float64(r))
	}
	return wrap("Erasing", checkValueRange(valueRange(t.ValueRange)))
}

// sample draws the rectangle (y0, x0, height, width); an empty one when ten
// tries do not fit, as in the paper.
func (t Erasing) sample(r *rand.Rand, h, w int, p *pixelParams) {
	p.v = [4]float64{}
	s, q := t.scale(), t.ratio()
	lq := Range{math.Log(q[0]), math.Log(q[1])}
	for try := 0; try < 10; try++ {
		area := s.draw(r) * float64(h*w)
		ratio := math.Exp(lq.draw(r))
		eh := int(math.Round(math.Sqrt(area * ratio)))
		ew := int(math.Round(math.Sqrt(area / ratio)))
		if eh < 1 || ew < 1 || eh > h || ew > w {
			continue
		}
		p.v = [4]float64{float64(r.IntN(h - eh + 1)), float64(r.IntN(w - ew + 1)), float64(eh), float64(ew)}
		break
	}
	if t.Noise {
		p.seed = r.Uint64()
	}
}

func (t Erasing) apply(img []float32, h, w, c int, p *pixelParams) {
	y0, x0, eh, ew := int(p.v[0]), int(p.v[1]), int(p.v[2]), int(p.v[3])
	if eh == 0 {
		return
	}
	var noise *rand.Rand
	vr := valueRange(t.ValueRange)
	if t.Noise {
		noise = rand.New(rand.NewPCG(p.seed, 0x65726173))
	}
	for y := y0; y < y0+eh; y++ {
		row := img[(y*w+x0)*c : (y*w+x0+ew)*c]
		for i := range row {
			if noise != nil {
				row[i] = float32(vr[0] + (vr[1]-vr[0])*noise.Float64())
			} else {
				row[i] = t.Value
			}
		}
	}
}

// Prob applies t to each image with probability p (1 is always).
func Prob(p float64, t Transform) Transform { return prob{p, t} }

type prob struct {
	p float64
	t Transform
}

func (t prob) String() string { return fmt.Sprintf("Prob(%v, %v)", t.p, t.t) }

func (t prob) validate() error {
	if !(t.p >= 0 && t.p <= 1) {
		return fmt.Errorf("augment: Prob: probability must be in [0, 1], got %v", t.p)
	}
	if t.t == nil {
		return fmt.Errorf("augment: Prob: nil transform")
	}
	return t.t.validate()
}

func wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("augment: %s: %w", name, err)
}
