package progress

import (
	"fmt"
	"io"
)

// Downloads returns a download-progress callback, as the downloads of
// packages dataset and vgg report it, that draws one byte-counting bar per
// file on w, each under a "downloading NAME" line.
func Downloads(w io.Writer) func(name string, done, total int64) {
	var (
		cur string
		bar *Bar
	)
	return func(name string, done, total int64) {
		if name != cur || bar == nil {
			if bar != nil {
				bar.Finish()
			}
			cur = name
			fmt.Fprintf(w, "downloading %s\n", name)
			bar = New(w, int(total), WithUnit(Bytes))
		}
		bar.Update(int(done))
		if total >= 0 && done >= total {
			bar.Finish()
			bar = nil
		}
	}
}
