// Package progress draws Keras-style progress bars for training loops and
// downloads.
//
// On a terminal a Bar redraws one line in place, at most ten times a second:
//
//	938/1875 [==============>...............] - ETA: 12s - loss: 0.4123 - accuracy: 0.8512
//
// Elsewhere (a log file, a pipe, a bytes.Buffer) it prints a plain line at
// most once per interval (10 s by default) and a final line from Finish:
//
//	1875/1875 - 23s 12ms/step - loss: 0.4123 - accuracy: 0.8512
//
// Write errors are ignored: progress output is best effort.
package progress

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KV is a named value shown after the bar, such as a loss or an accuracy.
type KV struct {
	Name  string
	Value float64
}

// Unit says what a Bar counts.
type Unit int

const (
	// Steps counts training steps; rates are shown as time per step.
	Steps Unit = iota
	// Bytes counts bytes; counts are shown as kB, MB or GB (powers of
	// 1000) and rates as bytes per second.
	Bytes
)

// Option configures a Bar.
type Option func(*Bar)

// WithClock makes the Bar read the time from now instead of time.Now, for
// tests.
func WithClock(now func() time.Time) Option { return func(b *Bar) { b.now = now } }

// WithInterval sets how often a Bar writing to a non-terminal prints a
// line; the default is 10 s.
func WithInterval(d time.Duration) Option { return func(b *Bar) { b.interval = d } }

// WithRefresh sets the shortest time between two redraws on a terminal; the
// default is 100 ms.
func WithRefresh(d time.Duration) Option { return func(b *Bar) { b.refresh = d } }

// WithTerminal forces terminal (true) or plain (false) output instead of
// detecting it from the writer.
func WithTerminal(tty bool) Option { return func(b *Bar) { b.tty = tty } }

// WithWidth sets the number of characters between the brackets of the bar;
// the default is 30.
func WithWidth(n int) Option { return func(b *Bar) { b.width = max(n, 1) } }

// WithUnit sets what the Bar counts; the default is Steps.
func WithUnit(u Unit) Option { return func(b *Bar) { b.unit = u } }

// Bar is a progress bar. Its methods are safe for concurrent use.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	total    int
	unit     Unit
	width    int
	interval time.Duration
	refresh  time.Duration
	tty      bool
	now      func() time.Time

	start     time.Time
	last      time.Time // time of the last output
	drawn     bool      // whether a terminal line was drawn
	prevWidth int       // length of the last terminal line
	done      int
	values    []KV
	finished  bool
}

// New returns a Bar that writes to w and counts up to total (0 if the total
// is unknown). The clock starts now. Output goes to the terminal form if w
// is an *os.File on a character device, unless WithTerminal says otherwise.
func New(w io.Writer, total int, opts ...Option) *Bar {
	b := &Bar{
		w:        w,
		total:    max(total, 0),
		width:    30,
		interval: 10 * time.Second,
		refresh:  100 * time.Millisecond,
		tty:      isTerminal(w),
		now:      time.Now,
	}
	for _, o := range opts {
		o(b)
	}
	b.start = b.now()
	b.last = b.start
	return b
}

// isTerminal reports whether w is a file on a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update records that done units are complete and sets the given values,
// which keep their first-seen order and persist until set again. It writes
// a line if the throttle allows; on a terminal the last step (done >=
// total) is always drawn. Calls after Finish do nothing.
func (b *Bar) Update(done int, values ...KV) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update(done, values)
}

// Add advances the count by n, as Update(current+n, values...).
func (b *Bar) Add(n int, values ...KV) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update(b.done+n, values)
}

// Write counts len(p) units and never fails, so that a Bar with the Bytes
// unit can follow a download: io.Copy(io.MultiWriter(dst, bar), src).
func (b *Bar) Write(p []byte) (int, error) {
	b.Add(len(p))
	return len(p), nil
}

// update implements Update with b.mu held.
func (b *Bar) update(done int, values []KV) {
	if b.finished {
		return
	}
	b.done = done
	b.set(values)
	now := b.now()
	if b.tty {
		last := b.total > 0 && done >= b.total
		if b.drawn && now.Sub(b.last) < b.refresh && !last {
			return
		}
		b.draw(b.line(now, false))
		b.last = now
		return
	}
	if now.Sub(b.last) < b.interval || (b.total > 0 && done >= b.total) {
		return // the last step is left to Finish
	}
	io.WriteString(b.w, b.line(now, false)+"\n")
	b.last = now
}

// Finish sets the given values and writes the final line: the count, the
// elapsed time, the time per step (or the byte rate) and the values. Only
// the first call writes.
func (b *Bar) Finish(values ...KV) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	b.set(values)
	line := b.line(b.now(), true)
	if b.tty {
		b.draw(line)
		io.WriteString(b.w, "\n")
		return
	}
	io.WriteString(b.w, line+"\n")
}

// set merges values into b.values.
func (b *Bar) set(values []KV) {
next:
	for _, v := range values {
		for i := range b.values {
			if b.values[i].Name == v.Name {
				b.values[i].Value = v.Value
				continue next
			}
		}
		b.values = append(b.values, v)
	}
}

// draw rewrites the terminal line, blanking what is left of a longer
// previous line.
func (b *Bar) draw(line string) {
	pad := max(b.prevWidth-len(line), 0)
	io.WriteString(b.w, "\r"+line+strings.Repeat(" ", pad))
	b.prevWidth = len(line)
	b.drawn = true
}

// line formats the current state at time now.
func (b *Bar) line(now time.Time, final bool) string {
	var s strings.Builder
	s.WriteString(b.count())
	if b.tty && b.total > 0 {
		s.WriteString(" " + b.bar())
	}
	elapsed := now.Sub(b.start).Seconds()
	if !final && b.total > 0 && b.done < b.total {
		if b.done > 0 {
			eta := elapsed / float64(b.done) * float64(b.total-b.done)
			s.WriteString(" - ETA: " + FormatETA(eta))
		}
	} else {
		fmt.Fprintf(&s, " - %.0fs", elapsed)
		if b.done > 0 {
			s.WriteString(" " + b.rate(elapsed))
		}
	}
	for _, v := range b.values {
		s.WriteString(" - " + v.Name + ": " + formatValue(v.Value))
	}
	return s.String()
}

// count formats "done/total", right-aligned like Keras.
func (b *Bar) count() string {
	if b.unit == Bytes {
		if b.total == 0 {
			return FormatBytes(int64(b.done))
		}
		return FormatBytes(int64(b.done)) + "/" + FormatBytes(int64(b.total))
	}
	if b.total == 0 {
		return fmt.Sprintf("%7d/Unknown", b.done)
	}
	digits := len(strconv.Itoa(b.total))
	return fmt.Sprintf("%*d/%d", digits, b.done, b.total)
}

// bar formats "[====>.....]".
func (b *Bar) bar() string {
	frac := min(max(float64(b.done)/float64(b.total), 0), 1)
	filled := int(float64(b.width) * frac)
	var s strings.Builder
	s.WriteByte('[')
	if filled > 0 {
		s.WriteString(strings.Repeat("=", filled-1))
		if b.done < b.total {
			s.WriteByte('>')
		} else {
			s.WriteByte('=')
		}
	}
	s.WriteString(strings.Repeat(".", b.width-filled))
	s.WriteByte(']')
	return s.String()
}

// rate formats the time per step, or the bytes per second.
func (b *Bar) rate(elapsed float64) string {
	if b.unit == Bytes {
		if elapsed <= 0 {
			return ""
		}
		return FormatBytes(int64(float64(b.done)/elapsed)) + "/s"
	}
	per := elapsed / float64(b.done)
	switch {
	case per >= 1:
		return fmt.Sprintf("%.0fs/step", per)
	case per >= 1e-3:
		return fmt.Sprintf("%.0fms/step", per*1e3)
	default:
		return fmt.Sprintf("%.0fus/step", per*1e6)
	}
}

// FormatETA formats a remaining time in seconds as Keras does: "12s",
// "1:05" or "1:01:05", truncating to whole seconds.
func FormatETA(seconds float64) string {
	s := int(max(seconds, 0))
	switch {
	case s >= 3600:
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	case s >= 60:
		return fmt.Sprintf("%d:%02d", s/60, s%60)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

// FormatBytes formats n bytes with a decimal unit: "512 B", "1.5 kB",
// "12.3 MB", "1.25 GB".
func FormatBytes(n int64) string {
	switch f := float64(n); {
	case f < 1e3:
		return fmt.Sprintf("%d B", n)
	case f < 1e6:
		return fmt.Sprintf("%.1f kB", f/1e3)
	case f < 1e9:
		return fmt.Sprintf("%.1f MB", f/1e6)
	default:
		return fmt.Sprintf("%.2f GB", f/1e9)
	}
}

// formatValue formats a metric as Keras does: four decimals, or scientific
// notation for magnitudes of at most 1e-3.
func formatValue(v float64) string {
	if math.Abs(v) > 1e-3 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("%.4f", v)
	}
	return fmt.Sprintf("%.4e", v)
}
