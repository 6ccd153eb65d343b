package viz

import (
	"image"
	"image/color"
	"strings"
	"testing"
)

func wantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not mention %q", what, err, f)
		}
	}
}

func size(img image.Image) (int, int) { return img.Bounds().Dx(), img.Bounds().Dy() }

// hasColor reports whether any pixel of img inside r has color c.
func hasColor(img *image.RGBA, r image.Rectangle, c color.RGBA) bool {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) == c {
				return true
			}
		}
	}
	return false
}

func TestImageGrid(t *testing.T) {
	// Five 2x3 gray images, image i filled with i/4.
	n, h, w := 5, 2, 3
	x := make([]float32, n*h*w)
	for i := range x {
		x[i] = float32(i/(h*w)) / 4
	}
	img, err := ImageGrid(x, n, []int{h, w, 1}, nil, 3, 10)
	if err != nil {
		t.Fatal(err)
	}
	// 3 columns of 30-pixel-wide tiles, 2 rows of 20, no label lines.
	if gw, gh := size(img); gw != 2*margin+3*30+2*gap || gh != 2*margin+2*20+gap {
		t.Errorf("size %dx%d", gw, gh)
	}
	// Image 4 (value 1) is white at row 1, column 1; image 1 (0.25) is gray.
	if c := img.RGBAAt(margin+30+gap+15, margin+20+gap+10); c != white {
		t.Errorf("image 4 centre = %v, want white", c)
	}
	if c := img.RGBAAt(margin+30+gap+15, margin+10); c != (color.RGBA{64, 64, 64, 255}) {
		t.Errorf("image 1 centre = %v, want gray 64", c)
	}
	if c := img.RGBAAt(margin+5, margin+5); c != black {
		t.Errorf("image 0 = %v, want black", c)
	}

	// Labels add lines under every cell; a long label wraps at the
	// parenthesis and widens the cell to its widest line.
	labels := []string{"Bag (ok)", "T-shirt/top (was Pullover)", "", "Coat", "Sandal"}
	img, err = ImageGrid(x, n, []int{h, w, 1}, labels, 3, 10)
	if err != nil {
		t.Fatal(err)
	}
	cellW := textWidth("(was Pullover)")
	if gw, gh := size(img); gw != 2*margin+3*cellW+2*gap || gh != 2*margin+2*(20+3+2*lineH)+gap {
		t.Errorf("labeled size %dx%d, want %dx%d", gw, gh, 2*margin+3*cellW+2*gap, 2*margin+2*(20+3+2*lineH)+gap)
	}
	if got := wrap("T-shirt/top (was Pullover)", 30); len(got) != 2 || got[1] != "(was Pullover)" {
		t.Errorf("wrap = %q", got)
	}
	// Text is drawn in black under image 0.
	if !hasColor(img, image.Rect(margin, margin+20, margin+cellW, margin+20+3+lineH), black) {
		t.Error("no label under image 0")
	}

	// RGB images, more columns than images.
	rgb := []float32{1, 0, 0, 0, 0, 1}
	img, err = ImageGrid(rgb, 2, []int{1, 1, 3}, nil, 8, 4)
	if err != nil {
		t.Fatal(err)
	}
	if gw, _ := size(img); gw != 2*margin+2*4+gap {
		t.Errorf("2 images in 8 columns: width %d", gw)
	}
	if img.RGBAAt(margin+1, margin+1) != (color.RGBA{255, 0, 0, 255}) || img.RGBAAt(margin+4+gap+1, margin+1) != (color.RGBA{0, 0, 255, 255}) {
		t.Error("RGB colors wrong")
	}

	// Colored labels through Grid.
	img, err = Grid(x, n, []int{h, w, 1}, GridOptions{Labels: labels, LabelColors: []color.Color{color.RGBA{0, 128, 0, 255}, nil, nil, nil, nil}})
	if err != nil {
		t.Fatal(err)
	}
	if !hasColor(img, image.Rect(0, margin+2, img.Rect.Dx(), margin+2+3+lineH), color.RGBA{0, 128, 0, 255}) {
		t.Error("Grid: the green label is missing")
	}

	// No images: a blank picture, not an error.
	if img, err := ImageGrid(nil, 0, []int{28, 28, 1}, nil, 4, 2); err != nil || img.Rect.Empty() {
		t.Errorf("n = 0: %v", err)
	}
}

func TestImageGridErrors(t *testing.T) {
	x := make([]float32, 2*4*4)
	for _, c := range []struct {
		what        string
		x           []float32
		n           int
		shape       []int
		labels      []string
		cols, scale int
		want        []string
	}{
		{"short x", x[:31], 2, []int{4, 4, 1}, nil, 2, 1, []string{"31 values", "2 images", "want 32"}},
		{"n too big", x, 3, []int{4, 4, 1}, nil, 2, 1, []string{"32 values", "3 images"}},
		{"negative n", x, -1, []int{4, 4, 1}, nil, 2, 1, []string{"n must not be negative", "-1"}},
		{"zero cols", x, 2, []int{4, 4, 1}, nil, 0, 1, []string{"cols", "0"}},
		{"zero scale", x, 2, []int{4, 4, 1}, nil, 1, 0, []string{"scale", "0"}},
		{"2 channels", x, 2, []int{4, 2, 2}, nil, 1, 1, []string{"1 or 3 channels", "[4 2 2]"}},
		{"2-D shape", x, 2, []int{4, 4}, nil, 1, 1, []string{"(height, width, channels)"}},
		{"labels", x, 2, []int{4, 4, 1}, []string{"a"}, 1, 1, []string{"1 labels for 2 images"}},
		{"huge scale", x, 2, []int{4, 4, 1}, nil, 1, 1 << 30, []string{"too large"}},
		{"zero height", nil, 2, []int{0, 4, 1}, nil, 1, 1, []string{"shape"}},
	} {
		_, err := ImageGrid(c.x, c.n, c.shape, c.labels, c.cols, c.scale)
		wantErr(t, c.what, err, append([]string{"viz: ImageGrid"}, c.want...)...)
	}
	_, err := Grid(x, 2, []int{4, 4, 1}, GridOptions{LabelColors: []color.Color{nil}})
	wantErr(t, "Grid label colors", err, "1 label colors for 2 images")
	_, err = Grid(x, 2, []int{4, 4, 1}, GridOptions{Cols: -1})
	wantErr(t, "Grid negative cols", err, "Cols")
}

func TestConfusionMatrix(t *testing.T) {
	cm := [][]int{
		{90, 5, 5},
		{10, 80, 10},
		{0, 3, 97},
	}
	names := []string{"Cat", "Dog", "Ankle boot"}
	img, err := ConfusionMatrix(cm, names)
	if err != nil {
		t.Fatal(err)
	}
	// Find the matrix: the frame's top-left corner is the first frameGray
	// pixel scanning the row through the middle of the picture.
	w, h := size(img)
	cs := 40
	nameW := textWidth("Ankle boot")
	gx := margin + glyphH + 8 + nameW + 6
	gy := margin + 2*lineH + 8 + lineH + 4 + nameW + 6
	if w != max(gx+3*cs+margin, textWidth(ConfusionTitle)+2*margin) || h != gy+3*cs+margin {
		t.Errorf("size %dx%d", w, h)
	}
	// Cell backgrounds, sampled at a cell's corner (away from the digits):
	// every diagonal cell is darker than every cell off it.
	bg := func(i, j int) float64 { return luma(img.RGBAAt(gx+j*cs+3, gy+i*cs+3)) }
	for i := range cm {
		for j := range cm {
			if i != j && !(bg(i, i) < bg(i, j)) {
				t.Errorf("diagonal cell %d (luma %.0f) not darker than cell [%d][%d] (%.0f)", i, bg(i, i), i, j, bg(i, j))
			}
		}
	}
	// A zero is white; the full-row share would be the darkest blue.
	if c := img.RGBAAt(gx+3, gy+2*cs+3); c != blues[0] {
		t.Errorf("cell [2][0] (0) = %v, want %v", c, blues[0])
	}
	// Counts on dark cells are written in white.
	if !hasColor(img, image.Rect(gx+2*cs, gy+2*cs, gx+3*cs, gy+3*cs), white) {
		t.Error("no white digits on the dark cell [2][2]")
	}
	// The title and the row names are drawn.
	if !hasColor(img, image.Rect(margin, margin, margin+textWidth(ConfusionTitle), margin+glyphH), black) {
		t.Error("no title")
	}
	if !hasColor(img, image.Rect(gx-6-textWidth("Dog"), gy+cs, gx-6, gy+2*cs), black) {
		t.Error("no row name")
	}
	// Without names the classes are numbered.
	if _, err := ConfusionMatrix(cm, nil); err != nil {
		t.Error(err)
	}
	// An all-zero matrix draws (white cells, "no samples").
	if _, err := ConfusionMatrix([][]int{{0, 0}, {0, 0}}, nil); err != nil {
		t.Error(err)
	}
}

func TestConfusionMatrixErrors(t *testing.T) {
	_, err := ConfusionMatrix(nil, nil)
	wantErr(t, "empty", err, "viz: ConfusionMatrix", "empty")
	_, err = ConfusionMatrix([][]int{{1, 2}, {3}}, nil)
	wantErr(t, "ragged", err, "row 1", "1 counts", "want 2")
	_, err = ConfusionMatrix([][]int{{1, -2}, {3, 4}}, nil)
	wantErr(t, "negative", err, "[0][1]", "-2")
	_, err = ConfusionMatrix([][]int{{1, 2}, {3, 4}}, []string{"a"})
	wantErr(t, "names", err, "1 class names for 2 classes")
}

func TestFilters(t *testing.T) {
	// Two 2x2 filters on one input channel: filter 0 is -1, 0 / 0.5, 1;
	// filter 1 is all 2 (positive, scaled to its own max: full red).
	// Keras layout: index ((y*kw+x)*in+c)*out+o.
	k := []float32{
		-1, 2, // (0,0): filter 0, filter 1
		0, 2, // (0,1)
		0.5, 2, // (1,0)
		1, 2, // (1,1)
	}
	scale := 10
	img, err := Filters(k, []int{2, 2, 1, 2}, scale)
	if err != nil {
		t.Fatal(err)
	}
	cellW := 20
	at := func(o, y, x int) color.RGBA {
		return img.RGBAAt(margin+o*(cellW+gap)+x*scale+scale/2, margin+y*scale+scale/2)
	}
	for _, c := range []struct {
		o, y, x int
		want    color.RGBA
	}{
		{0, 0, 0, color.RGBA{0, 0, 255, 255}},     // -1: blue
		{0, 0, 1, white},                          // 0: white
		{0, 1, 0, color.RGBA{255, 128, 128, 255}}, // 0.5: light red
		{0, 1, 1, color.RGBA{255, 0, 0, 255}},     // 1: red
		{1, 0, 0, color.RGBA{255, 0, 0, 255}},
		{1, 1, 1, color.RGBA{255, 0, 0, 255}},
	} {
		if got := at(c.o, c.y, c.x); got != c.want {
			t.Errorf("filter %d at (%d, %d) = %v, want %v", c.o, c.y, c.x, got, c.want)
		}
	}
	// The filter index is written under each tile.
	if !hasColor(img, image.Rect(margin, margin+20, margin+cellW, margin+20+3+lineH), black) {
		t.Error("no index under filter 0")
	}

	// Several input channels are averaged: (1 + -3)/2 = -1 at one place,
	// scaled by the largest |mean| 1: blue.
	img, err = Filters([]float32{1, -3, 1, 1}, []int{1, 2, 2, 1}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if c := img.RGBAAt(margin+2, margin+2); c != (color.RGBA{0, 0, 255, 255}) {
		t.Errorf("mean over channels = %v, want blue", c)
	}
	if c := img.RGBAAt(margin+7, margin+2); c != (color.RGBA{255, 0, 0, 255}) {
		t.Errorf("mean over channels = %v, want red", c)
	}

	// Three input channels: RGB scaled to the filter's min..max.
	rgb := []float32{-1, 0, 1, 1, 1, -1} // (0,0) = (-1, 0, 1), (0,1) = (1, 1, -1)
	img, err = Filters(rgb, []int{1, 2, 3, 1}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if c := img.RGBAAt(margin+2, margin+2); c != (color.RGBA{0, 128, 255, 255}) {
		t.Errorf("RGB filter (0,0) = %v", c)
	}
	if c := img.RGBAAt(margin+7, margin+2); c != (color.RGBA{255, 255, 0, 255}) {
		t.Errorf("RGB filter (0,1) = %v", c)
	}

	// The course's first layer: 32 5x5 filters in 8 columns, 4 rows.
	img, err = Filters(make([]float32, 5*5*32), []int{5, 5, 1, 32}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if w, h := size(img); w != 2*margin+8*40+7*gap || h < 4*(40+3+lineH) {
		t.Errorf("32 filters: %dx%d", w, h)
	}
}

func TestFiltersErrors(t *testing.T) {
	_, err := Filters(make([]float32, 10), []int{2, 2, 1, 2}, 4)
	wantErr(t, "length", err, "viz: Filters", "10 values", "[2 2 1 2]")
	_, err = Filters(make([]float32, 8), []int{2, 2, 2}, 4)
	wantErr(t, "3-D shape", err, "(kh, kw, in, out)")
	_, err = Filters(make([]float32, 8), []int{2, 2, 1, 2}, 0)
	wantErr(t, "scale", err, "scale", "0")
	_, err = Filters(nil, []int{2, 2, 0, 2}, 1)
	wantErr(t, "zero in", err, "(kh, kw, in, out)")
	_, err = Filters(nil, []int{1 << 20, 1 << 20, 1 << 20, 1 << 20}, 1)
	wantErr(t, "overflowing shape", err, "values for a kernel")
	_, err = Filters(make([]float32, 4), []int{2, 2, 1, 1}, 1<<30)
	wantErr(t, "huge scale", err, "too large")
}

func TestFeatureMaps(t *testing.T) {
	// 2x2 maps, 3 channels: channel 0 rises 0..3, channel 1 is all 0,
	// channel 2 is 5, 5, 5, 9.
	maps := []float32{
		0, 0, 5,
		1, 0, 5,
		2, 0, 5,
		3, 0, 9,
	}
	scale := 20
	img, err := FeatureMaps(maps, []int{2, 2, 3}, 2, scale)
	if err != nil {
		t.Fatal(err)
	}
	cellW := max(40, textWidth("1 (all 0)"))
	at := func(ch, y, x int) color.RGBA {
		return img.RGBAAt(margin+(ch%2)*(cellW+gap)+(cellW-40)/2+x*scale+scale/2, margin+(ch/2)*(40+3+lineH+gap)+y*scale+scale/2)
	}
	if at(0, 0, 0) != viridis[0] || at(0, 1, 1) != viridis[len(viridis)-1] {
		t.Errorf("channel 0: min %v, max %v", at(0, 0, 0), at(0, 1, 1))
	}
	if c := at(0, 0, 1); c == viridis[0] || c == viridis[len(viridis)-1] {
		t.Errorf("channel 0 at 1/3: %v", c)
	}
	if at(1, 0, 0) != viridis[0] || at(1, 1, 1) != viridis[0] {
		t.Error("the all-zero channel is not dark")
	}
	if at(2, 0, 0) != viridis[0] || at(2, 1, 1) != viridis[len(viridis)-1] {
		t.Error("channel 2 is not scaled to its own range")
	}
	w, h := size(img)
	if w != max(2*margin+2*cellW+gap, 2*margin+textWidth("each map scaled to its own min..max")) || h < 2*(40+3+lineH) {
		t.Errorf("size %dx%d", w, h)
	}
	// More than MaxFeatureMaps channels: the first 64, and a note.
	big := make([]float32, 3*3*100)
	img2, err := FeatureMaps(big, []int{3, 3, 100}, 8, 2)
	if err != nil {
		t.Fatal(err)
	}
	small, _ := FeatureMaps(big[:3*3*64], []int{3, 3, 64}, 8, 2)
	if w2, _ := size(img2); w2 != small.Rect.Dx() || img2.Rect.Dy() != small.Rect.Dy()+lineH {
		t.Errorf("100 channels: %v, 64 channels: %v; want one more note line", img2.Rect, small.Rect)
	}
}

func TestFeatureMapsErrors(t *testing.T) {
	_, err := FeatureMaps(make([]float32, 11), []int{2, 2, 3}, 2, 1)
	wantErr(t, "length", err, "viz: FeatureMaps", "11 values", "[2 2 3]")
	_, err = FeatureMaps(make([]float32, 12), []int{2, 6}, 2, 1)
	wantErr(t, "2-D", err, "(height, width, channels)")
	_, err = FeatureMaps(make([]float32, 12), []int{2, 2, 3}, 0, 1)
	wantErr(t, "cols", err, "cols", "0")
	_, err = FeatureMaps(make([]float32, 12), []int{2, 2, 3}, 1, -2)
	wantErr(t, "scale", err, "scale", "-2")
}

func TestTitled(t *testing.T) {
	base := image.NewRGBA(image.Rect(0, 0, 300, 50))
	img := Titled("hello", base)
	if w, h := size(img); w != 300 || h != 50+6+lineH+4 {
		t.Errorf("size %dx%d", w, h)
	}
	if !hasColor(img, image.Rect(margin, 6, margin+textWidth("hello"), 6+glyphH), black) {
		t.Error("no title text")
	}
	// The image is below, unchanged (transparent black stays).
	if img.RGBAAt(10, 6+lineH+4+10) != (color.RGBA{}) {
		t.Error("image not copied below the title")
	}
	// A long, two-line title widens a small image.
	img = Titled("a rather long title line\nsecond", image.NewRGBA(image.Rect(5, 5, 15, 15)))
	if w, h := size(img); w != textWidth("a rather long title line")+2*margin || h != 10+6+2*lineH+4 {
		t.Errorf("widened size %dx%d", w, h)
	}
}

// Random, often nonsensical arguments return errors or pictures, never
// panics.
func TestNoPanics(t *testing.T) {
	dims := []int{-1, 0, 1, 2, 3, 5}
	pick := func(i int) int { return dims[i%len(dims)] }
	for i := 0; i < 3000; i++ {
		a, b, c, d := pick(i), pick(i/6), pick(i/36), pick(i/216)
		x := make([]float32, (i*7)%40)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic on case %d (%d %d %d %d, %d values): %v", i, a, b, c, d, len(x), r)
				}
			}()
			ImageGrid(x, a, []int{b, c, d}, nil, b, c)
			ImageGrid(x, a, []int{b, c, 1}, []string{"x"}, d, 1)
			Grid(x, a, []int{b, c, 3}, GridOptions{Cols: d})
			Filters(x, []int{a, b, c, d}, b)
			FeatureMaps(x, []int{a, b, c}, d, a)
			cm := make([][]int, max(a, 0))
			for k := range cm {
				cm[k] = make([]int, max(b, 0))
			}
			ConfusionMatrix(cm, nil)
		}()
	}
}
