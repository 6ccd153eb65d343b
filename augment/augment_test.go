package augment

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// randImages returns n random images of shape (h, w, c) in [0, 1).
func randImages(seed uint64, n, h, w, c int) []float32 {
	r := rand.New(rand.NewPCG(seed, 9))
	x := make([]float32, n*h*w*c)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

func warped(src []float32, m affine, p warpParams) []float32 {
	dst := make([]float32, len(src))
	warpTo(dst, src, m, p)
	return dst
}

func TestTwoFlipsAreIdentity(t *testing.T) {
	for _, shape := range [][3]int{{5, 7, 3}, {28, 28, 1}, {1, 4, 2}, {6, 1, 1}} {
		h, w, c := shape[0], shape[1], shape[2]
		x := randImages(1, 1, h, w, c)
		for _, fill := range []FillMode{FillReflect, FillConstant, FillNearest, FillWrap} {
			for _, interp := range []Interpolation{Bilinear, NearestNeighbor} {
				p := warpParams{h: h, w: w, c: c, fill: fill, interp: interp, value: -1}
				for _, m := range []affine{{a: -1, e: 1}, {a: 1, e: -1}} {
					once := warped(x, m, p)
					if slices.Equal(once, x) && w > 1 && m.a < 0 {
						t.Fatalf("%v: a flip changed nothing", shape)
					}
					if twice := warped(once, m, p); !slices.Equal(twice, x) {
						t.Errorf("%v %v %v: two flips %v are not the identity", shape, fill, interp, m)
					}
				}
			}
		}
	}
	// A horizontal flip reverses every row.
	x := []float32{1, 2, 3, 4, 5, 6}
	got := warped(x, affine{a: -1, e: 1}, warpParams{h: 2, w: 3, c: 1})
	if want := []float32{3, 2, 1, 6, 5, 4}; !slices.Equal(got, want) {
		t.Errorf("horizontal flip of %v = %v, want %v", x, got, want)
	}
}

func TestZeroRotationIsIdentity(t *testing.T) {
	for _, f := range []Range{{}, Sym(0), {0, 0}} {
		p, err := New(3, Rotation{Factor: f}, Zoom{}, Translation{}, Shear{})
		if err != nil {
			t.Fatal(err)
		}
		x := randImages(2, 4, 9, 11, 2)
		y := slices.Clone(x)
		if err := p.Apply(y, 4, []int{9, 11, 2}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(x, y) {
			t.Errorf("rotation by %v changed the images", f)
		}
	}
	// The warp itself is exact for the identity map, in every mode.
	x := randImages(3, 1, 6, 5, 3)
	for _, fill := range []FillMode{FillReflect, FillConstant, FillNearest, FillWrap} {
		for _, interp := range []Interpolation{Bilinear, NearestNeighbor} {
			if y := warped(x, identity, warpParams{h: 6, w: 5, c: 3, fill: fill, interp: interp}); !slices.Equal(x, y) {
				t.Errorf("%v %v: the identity warp changed the image", fill, interp)
			}
		}
	}
}

// A quarter turn (factor 0.25) is counter-clockwise, as in Keras: the top
// row becomes the left column, read bottom-up.
func TestQuarterTurnIsCounterClockwise(t *testing.T) {
	const n = 5
	x := make([]float32, n*n)
	for i := range x {
		x[i] = float32(i)
	}
	p, err := New(1, Rotation{Factor: Range{0.25, 0.25}})
	if err != nil {
		t.Fatal(err)
	}
	p.Interpolation = NearestNeighbor
	y := slices.Clone(x)
	if err := p.Apply(y, 1, []int{n, n, 1}); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			// Counter-clockwise: out[r][c] = in[c][n-1-r].
			if got, want := y[r*n+c], x[c*n+n-1-r]; got != want {
				t.Fatalf("out[%d][%d] = %v, want %v\nout %v", r, c, got, want, y)
			}
		}
	}
}

// Every fill mode on a hand-made row a b c d shifted right by two pixels,
// and the same column shifted down, with both interpolations (integer
// shifts sample pixel centres exactly).
func TestFillModes(t *testing.T) {
	const a, b, c, d, k = 1, 2, 3, 4, 9
	want := map[FillMode][]float32{
		FillConstant: {k, k, a, b},
		FillNearest:  {a, a, a, b},
		FillReflect:  {b, a, a, b},
		FillWrap:     {c, d, a, b},
	}
	wantLeft := map[FillMode][]float32{ // shifted left by one
		FillConstant: {b, c, d, k},
		FillNearest:  {b, c, d, d},
		FillReflect:  {b, c, d, d},
		FillWrap:     {b, c, d, a},
	}
	for fill, w := range want {
		for _, interp := range []Interpolation{Bilinear, NearestNeighbor} {
			for _, vertical := range []bool{false, true} {
				tr, shape := Translation{WidthFactor: Range{0.5, 0.5}}, []int{1, 4, 1}
				trLeft := Translation{WidthFactor: Range{-0.25, -0.25}}
				if vertical {
					tr, shape = Translation{HeightFactor: Range{0.5, 0.5}}, []int{4, 1, 1}
					trLeft = Translation{HeightFactor: Range{-0.25, -0.25}}
				}
				for i, tc := range []struct {
					t    Transform
					want []float32
				}{{tr, w}, {trLeft, wantLeft[fill]}} {
					p, err := New(1, tc.t)
					if err != nil {
						t.Fatal(err)
					}
					p.Fill, p.FillValue, p.Interpolation = fill, k, interp
					x := []float32{a, b, c, d}
					if err := p.Apply(x, 1, shape); err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(x, tc.want) {
						t.Errorf("%v %v vertical=%v case %d: got %v, want %v", fill, interp, vertical, i, x, tc.want)
					}
				}
			}
		}
	}
	// Half a pixel outside a constant-filled image, bilinear blends
	// with the fill value, as TensorFlow does.
	p, _ := New(1, Translation{WidthFactor: Range{0.125, 0.125}}) // 0.5 px right
	p.Fill, p.FillValue = FillConstant, 8
	x := []float32{0, 2, 4, 6}
	if err := p.Apply(x, 1, []int{1, 4, 1}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{4, 1, 3, 5}; !slices.Equal(x, want) {
		t.Errorf("half-pixel shift, constant 8: got %v, want %v", x, want)
	}
}

func TestMapCoord(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		n    int
		mode FillMode
		want float64
	}{
		{-1, 4, FillReflect, 0}, {-4, 4, FillReflect, 3}, {-5, 4, FillReflect, 3}, {4, 4, FillReflect, 3},
		{7, 4, FillReflect, 0}, {8, 4, FillReflect, 0}, {11, 4, FillReflect, 3},
		{-1, 4, FillWrap, 3}, {4, 4, FillWrap, 0}, {9, 4, FillWrap, 1}, {-0.5, 4, FillWrap, 3.5},
		{-3, 4, FillNearest, 0}, {7, 4, FillNearest, 3}, {2.5, 4, FillNearest, 2.5},
		{-3, 1, FillReflect, 0}, {5, 1, FillWrap, 0},
	} {
		if got := mapCoord(tc.v, tc.n, tc.mode); got != tc.want {
			t.Errorf("mapCoord(%v, %d, %v) = %v, want %v", tc.v, tc.n, tc.mode, got, tc.want)
		}
	}
}

func TestShapesHold(t *testing.T) {
	for _, shape := range [][]int{{28, 28, 1}, {5, 9, 3}, {1, 1, 1}, {3, 4}, {32, 16, 4}} {
		size := 1
		for _, d := range shape {
			size *= d
		}
		x := randImages(4, 6, 1, 1, size)
		p := FashionMNIST(5)
		p.Fill = FillReflect
		if err := p.Apply(x, 6, shape); err != nil {
			t.Fatalf("%v: %v", shape, err)
		}
		if len(x) != 6*size {
			t.Fatalf("%v: length changed", shape)
		}
		for _, v := range x {
			if math.IsNaN(float64(v)) || v < 0 || v > 1 {
				t.Fatalf("%v: value %v out of [0, 1]", shape, v)
			}
		}
	}
	p := FashionMNIST(1)
	for _, bad := range []struct {
		n     int
		shape []int
	}{{2, []int{28, 28, 1}}, {1, []int{28, 27}}, {1, []int{28, 28, 1, 1}}, {1, []int{0, 28, 1}}, {-1, []int{28, 28, 1}}} {
		x := make([]float32, 784)
		if err := p.Apply(x, bad.n, bad.shape); err == nil {
			t.Errorf("Apply(%d images of %v) on 784 values: no error", bad.n, bad.shape)
		}
	}
}

func TestSeedReproduces(t *testing.T) {
	run := func(p *Pipeline) []float32 {
		x := randImages(6, 40, 28, 28, 1)
		for range 2 {
			if err := p.Apply(x, 40, []int{28, 28, 1}); err != nil {
				t.Fatal(err)
			}
		}
		return x
	}
	a, b, c := run(FashionMNIST(7)), run(FashionMNIST(7)), run(FashionMNIST(8))
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different images")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same images")
	}
	// The result does not depend on the number of workers.
	p := FashionMNIST(7)
	p.Workers = 1
	if !slices.Equal(run(p), a) {
		t.Error("one worker and several gave different images")
	}
	// A saved state replays the same batch.
	p = FashionMNIST(9)
	st, err := p.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	d, e := run(p), run(p)
	if slices.Equal(d, e) {
		t.Error("two batches got the same draws")
	}
	if err := p.UnmarshalState(st); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(run(p), d) {
		t.Error("restoring the state did not replay the batch")
	}
}

// Each image gets its own draws: the copies of one image differ.
func TestPerImageDraws(t *testing.T) {
	one := randImages(1, 1, 12, 12, 1)
	x := slices.Repeat(one, 8)
	p, _ := New(1, Rotation{Factor: Sym(0.1)})
	if err := p.Apply(x, 8, []int{12, 12, 1}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 8; i++ {
		if slices.Equal(x[:144], x[i*144:(i+1)*144]) {
			t.Errorf("copies 0 and %d got the same rotation", i)
		}
	}
}

func TestZoomAndShear(t *testing.T) {
	// Zooming keeps the centre pixel of an odd-sized image; zooming in by
	// 2 (factor -0.5) makes the pixel next to it come from half as far.
	x := make([]float32, 9*9)
	for i := range x {
		x[i] = float32(i)
	}
	p, _ := New(1, Zoom{HeightFactor: Range{-0.5, -0.5}})
	p.Interpolation = NearestNeighbor
	y := slices.Clone(x)
	if err := p.Apply(y, 1, []int{9, 9, 1}); err != nil {
		t.Fatal(err)
	}
	if y[4*9+4] != x[4*9+4] || y[4*9+8] != x[4*9+6] || y[8*9+4] != x[6*9+4] {
		t.Errorf("zoom in by 2: centre row %v", y[4*9:5*9])
	}
	// Shear moves rows sideways in proportion to their distance from the
	// centre row, which stays.
	p, _ = New(1, Shear{X: Range{0.25, 0.25}})
	p.Interpolation, p.Fill = NearestNeighbor, FillNearest
	y = slices.Clone(x)
	if err := p.Apply(y, 1, []int{9, 9, 1}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y[4*9:5*9], x[4*9:5*9]) || y[8*9+4] != x[8*9+5] || y[0*9+4] != x[0*9+3] {
		t.Errorf("shear: rows 0, 4, 8: %v %v %v", y[:9], y[36:45], y[72:81])
	}
}

func TestPixelTransforms(t *testing.T) {
	x := []float32{0, 0.2, 0.4, 0.6, 0.8, 1}
	y := slices.Clone(x)
	p, _ := New(1, Brightness{Factor: Range{0.3, 0.3}})
	if err := p.Apply(y, 1, []int{1, 6, 1}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0.3, 0.5, 0.7, 0.9, 1, 1}; !near(y, want) {
		t.Errorf("brightness +0.3: %v, want %v", y, want)
	}
	y = slices.Clone(x)
	p, _ = New(1, Contrast{Factor: Range{-0.5, -0.5}})
	if err := p.Apply(y, 1, []int{1, 6, 1}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0.25, 0.35, 0.45, 0.55, 0.65, 0.75}; !near(y, want) {
		t.Errorf("contrast 0.5: %v, want %v", y, want)
	}
	// Contrast works per channel.
	z := []float32{0, 1, 1, 0} // two pixels, two channels; means 0.5 and 0.5
	p, _ = New(1, Contrast{Factor: Range{1, 1}})
	if err := p.Apply(z, 1, []int{1, 2, 2}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 1, 1, 0}; !near(z, want) { // doubled, clipped
		t.Errorf("contrast 2 per channel: %v", z)
	}
	// Erasing blanks one rectangle whose area is within the scale range.
	for seed := uint64(1); seed < 20; seed++ {
		img := slices.Repeat([]float32{1}, 20*30*2)
		p, _ := New(seed, Erasing{Scale: Range{0.1, 0.2}, Value: 0.5})
		if err := p.Apply(img, 1, []int{20, 30, 2}); err != nil {
			t.Fatal(err)
		}
		erased, minY, maxY, minX, maxX := 0, 99, -1, 99, -1
		for i, v := range img {
			if v == 0.5 {
				erased++
				pix := i / 2
				y, x := pix/30, pix%30
				minY, maxY, minX, maxX = min(minY, y), max(maxY, y), min(minX, x), max(maxX, x)
			}
		}
		area := (maxY - minY + 1) * (maxX - minX + 1)
		if erased != 2*area || float64(area) < 0.1*600*0.8 || float64(area) > 0.2*600*1.2 {
			t.Errorf("seed %d: erased %d values, box %dx%d", seed, erased, maxY-minY+1, maxX-minX+1)
		}
	}
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

func TestProb(t *testing.T) {
	x := slices.Repeat([]float32{0.5}, 1000)
	p, _ := New(1, Prob(0.3, Brightness{Factor: Range{0.1, 0.1}}))
	if err := p.Apply(x, 1000, []int{1, 1, 1}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range x {
		if v != 0.5 {
			n++
		}
	}
	if n < 250 || n > 350 {
		t.Errorf("Prob(0.3): %d of 1000 images changed", n)
	}
	if p.String() != "Pipeline[Prob(0.3, Brightness([0.1 0.1])); fill reflect 0, bilinear]" {
		t.Errorf("String: %s", p)
	}
}

func TestNewRejectsBadConfigs(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		t    Transform
		want string
	}{
		{Rotation{Factor: Range{0.1, -0.1}}, "Rotation: factor"},
		{Rotation{Factor: Range{nan, 0}}, "Rotation: factor"},
		{Translation{WidthFactor: Range{0, math.Inf(1)}}, "Translation: width factor"},
		{Zoom{HeightFactor: Range{-1, 0}}, "Zoom: factors must be > -1"},
		{Flip{Mode: 4}, "Flip: bad mode"},
		{Brightness{Factor: Sym(2)}, "Brightness: factor must be within"},
		{Brightness{ValueRange: [2]float64{1, 0}}, "value range"},
		{Contrast{Factor: Range{-2, 0}}, "Contrast"},
		{Erasing{Scale: Range{0.5, 2}}, "Erasing: scale"},
		{Erasing{Ratio: Range{-1, 1}}, "Erasing: ratio"},
		{Prob(1.5, Flip{Mode: Horizontal}), "Prob: probability"},
		{nil, "transform 0 is nil"},
	} {
		_, err := New(1, tc.t)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v): error %v, want one containing %q", tc.t, err, tc.want)
		}
	}
	for _, s := range []string{"mirror", "Reflect"} {
		if _, err := ParseFillMode(s); err == nil {
			t.Errorf("ParseFillMode(%q): no error", s)
		}
	}
	if _, err := ParseInterpolation("bicubic"); err == nil {
		t.Error("ParseInterpolation(bicubic): no error")
	}
	if _, err := ParseFlipMode("diagonal"); err == nil {
		t.Error("ParseFlipMode(diagonal): no error")
	}
}
