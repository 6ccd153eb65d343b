package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clock is a fake clock for tests.
type clock struct{ t time.Time }

func newClock() *clock                   { return &clock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)} }
func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPlain(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	b := New(&buf, 1875, WithClock(c.now))
	loss, acc := KV{"loss", 0.4123}, KV{"accuracy", 0.8512}

	c.advance(1 * time.Second)
	b.Update(100, loss, acc) // too early for a line
	c.advance(10 * time.Second)
	b.Update(938, loss, acc) // 11 s: first line
	c.advance(5 * time.Second)
	b.Update(1300, KV{"loss", 0.40}) // 5 s after the last line: nothing
	c.advance(5 * time.Second)
	b.Update(1700) // 10 s after the last line; values persist
	c.advance(1 * time.Second)
	b.Update(1875) // plain mode leaves the last step to Finish
	c.advance(1 * time.Second)
	b.Finish(KV{"loss", 0.41}, KV{"accuracy", 0.85})
	b.Finish() // a second Finish writes nothing
	b.Update(5)

	want := " 938/1875 - ETA: 10s - loss: 0.4123 - accuracy: 0.8512\n" +
		"1700/1875 - ETA: 2s - loss: 0.4000 - accuracy: 0.8512\n" +
		"1875/1875 - 23s 12ms/step - loss: 0.4100 - accuracy: 0.8500\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPlainInterval(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	b := New(&buf, 100, WithClock(c.now), WithInterval(2*time.Second))
	for i := 1; i <= 100; i++ {
		c.advance(100 * time.Millisecond) // 10 s in all: a line every 2 s
		b.Update(i)
	}
	b.Finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		" 20/100 - ETA: 8s",
		" 40/100 - ETA: 6s",
		" 60/100 - ETA: 4s",
		" 80/100 - ETA: 2s",
		"100/100 - 10s 100ms/step",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestTerminal(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	b := New(&buf, 1875, WithClock(c.now), WithTerminal(true))
	c.advance(11 * time.Second)
	b.Update(938, KV{"loss", 0.4123}, KV{"accuracy", 0.8512})
	want := "\r 938/1875 [==============>...............] - ETA: 10s - loss: 0.4123 - accuracy: 0.8512"
	if got := buf.String(); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	buf.Reset()
	c.advance(12 * time.Second)
	b.Update(1875, KV{"loss", 0.41})
	want = "\r1875/1875 [==============================] - 23s 12ms/step - loss: 0.4100 - accuracy: 0.8512"
	if got := buf.String(); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	buf.Reset()
	b.Finish()
	if got := buf.String(); got != want+"\n" {
		t.Fatalf("Finish wrote %q, want %q", got, want+"\n")
	}
}

// TestTerminalShrink checks that a shorter line blanks the end of a longer
// one.
func TestTerminalShrink(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	b := New(&buf, 10, WithClock(c.now), WithTerminal(true), WithWidth(10))
	c.advance(time.Second)
	b.Update(1, KV{"a_long_metric_name", 1})
	buf.Reset()
	c.advance(time.Second)
	b.Finish()
	got := buf.String()
	want := "\r 1/10 [>.........] - 2s 2s/step - a_long_metric_name: 1.0000\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// A line shorter than the previous one is padded with spaces.
	buf.Reset()
	b2 := New(&buf, 10, WithClock(c.now), WithTerminal(true), WithWidth(10))
	c.advance(time.Second)
	b2.Update(1, KV{"loss", 12345.6789})
	first := buf.Len() - 1 // without the \r
	buf.Reset()
	c.advance(9 * time.Second)
	b2.Update(9, KV{"loss", 1})
	line := buf.String()
	if len(line)-1 != first || !strings.HasSuffix(line, "1.0000    ") {
		t.Errorf("shorter line %q not padded to the previous width %d", line, first)
	}
}

func TestTerminalThrottle(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	b := New(&buf, 1000, WithClock(c.now), WithTerminal(true))
	for i := 1; i <= 1000; i++ {
		c.advance(time.Millisecond) // 1 s in all
		b.Update(i)
	}
	// Draws at 1 ms, then every 100 ms (101, 201, ... 901 ms), then the
	// last step at 1000 ms: 11 redraws, not 1000.
	if got := strings.Count(buf.String(), "\r"); got != 11 {
		t.Errorf("%d redraws in 1 s, want 11", got)
	}
	if !strings.HasSuffix(buf.String(), "\r1000/1000 [==============================] - 1s 1ms/step") {
		t.Errorf("last draw is not the full bar: %q", buf.String()[strings.LastIndex(buf.String(), "\r"):])
	}
}

func TestUnknownTotal(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	b := New(&buf, 0, WithClock(c.now), WithTerminal(true))
	c.advance(3 * time.Second)
	b.Update(1500, KV{"loss", 0.0001234})
	want := "\r   1500/Unknown - 3s 2ms/step - loss: 1.2340e-04"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBytes(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	b := New(&buf, 50_000_000, WithClock(c.now), WithUnit(Bytes), WithTerminal(true), WithWidth(10))
	c.advance(2 * time.Second)
	if n, err := b.Write(make([]byte, 10_000_000)); n != 10_000_000 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	want := "\r10.0 MB/50.0 MB [=>........] - ETA: 8s"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	buf.Reset()
	c.advance(8 * time.Second)
	b.Add(40_000_000)
	b.Finish()
	want = "\r50.0 MB/50.0 MB [==========] - 10s 5.0 MB/s\r50.0 MB/50.0 MB [==========] - 10s 5.0 MB/s\n"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFormatETA(t *testing.T) {
	cases := map[float64]string{
		-1: "0s", 0: "0s", 5.9: "5s", 59.99: "59s", 60: "1:00", 65: "1:05",
		3599: "59:59", 3600: "1:00:00", 3661: "1:01:01", 36000: "10:00:00",
	}
	for in, want := range cases {
		if got := FormatETA(in); got != want {
			t.Errorf("FormatETA(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	cases := map[int64]string{
		0: "0 B", 999: "999 B", 1000: "1.0 kB", 1500: "1.5 kB",
		12_345_678: "12.3 MB", 1_250_000_000: "1.25 GB",
	}
	for in, want := range cases {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestRate(t *testing.T) {
	cases := []struct {
		elapsed float64
		done    int
		want    string
	}{
		{10, 5, "2s/step"},
		{1, 1000, "1ms/step"},
		{1, 100_000, "10us/step"},
	}
	for _, c := range cases {
		b := &Bar{done: c.done}
		if got := b.rate(c.elapsed); got != c.want {
			t.Errorf("rate(%v s, %d steps) = %q, want %q", c.elapsed, c.done, got, c.want)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a bytes.Buffer is a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is a terminal")
	}
	if New(f, 1).tty {
		t.Error("New chose terminal output for a regular file")
	}
}

func TestConcurrentAdd(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 8000, WithTerminal(true))
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 1000; i++ {
				b.Add(1, KV{"loss", float64(i)})
			}
			done <- true
		}()
	}
	for g := 0; g < 8; g++ {
		<-done
	}
	b.Finish()
	if !strings.Contains(buf.String(), "8000/8000 [=") {
		t.Errorf("final line missing the full count: %q", buf.String()[strings.LastIndex(buf.String(), "\r"):])
	}
}
