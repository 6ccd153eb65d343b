package main

import "math/rand/v2"

// newRand returns a shuffling function seeded with seed, in the form
// dataset.Set.Shuffle takes.
func newRand(seed uint64) func(n int, swap func(i, j int)) {
	r := rand.New(rand.NewPCG(seed, 0x7472616e73666572))
	return r.Shuffle
}
