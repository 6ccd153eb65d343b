package progress_test

import (
	"os"
	"time"

	"github.com/capa-ml/capa/internal/progress"
)

func Example() {
	// A fake clock that advances 12 ms per step keeps the output stable.
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return t }

	// os.Stdout is not a terminal under go test, but force plain mode anyway.
	bar := progress.New(os.Stdout, 1875, progress.WithClock(now), progress.WithTerminal(false))
	for step := 1; step <= 1875; step++ {
		t = t.Add(12 * time.Millisecond)
		loss := 1 / float64(step)
		bar.Update(step, progress.KV{Name: "loss", Value: loss})
	}
	bar.Finish(progress.KV{Name: "accuracy", Value: 0.85})
	// Output:
	//  834/1875 - ETA: 12s - loss: 0.0012
	// 1668/1875 - ETA: 2s - loss: 5.9952e-04
	// 1875/1875 - 22s 12ms/step - loss: 5.3333e-04 - accuracy: 0.8500
}
