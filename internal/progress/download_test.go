package progress

import (
	"strings"
	"testing"
)

func TestDownloads(t *testing.T) {
	var b strings.Builder
	report := Downloads(&b)
	for _, f := range []string{"a.gz", "b.gz"} {
		report(f, 0, 2000)
		report(f, 1000, 2000)
		report(f, 2000, 2000)
	}
	out := b.String()
	for _, want := range []string{"downloading a.gz\n", "downloading b.gz\n", "2.0 kB/2.0 kB"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if strings.Count(out, "downloading") != 2 {
		t.Errorf("output %q: want one header per file", out)
	}
}
