package torchpth

import (
	"testing"
)

// FuzzReadStateDict feeds arbitrary bytes to ReadStateDict and reads every
// floating-point tensor of what it accepts. No input may panic; every
// error wraps ErrFormat, ErrUnsupported or ErrUnsafe; an accepted tensor
// has as many elements as its shape says and addresses only its storage.
//
// It is seeded with the small files of seed_test.go (every serialization,
// a few hundred bytes each) and the regression inputs in
// testdata/fuzz/FuzzReadStateDict; the 75 KB VGG-like files of testdata
// are left out, as they slow the mutator to a few executions a second.
// Run it with scripts/fuzz.sh or
//
//	go test -run='^$' -fuzz='^FuzzReadStateDict$' -fuzztime=5m -parallel=1 ./formats/torchpth
func FuzzReadStateDict(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := ReadStateDict(bytesReader(b), int64(len(b)))
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		keys := sd.Keys()
		if len(keys) != len(sd.byName) {
			t.Fatalf("%d keys, %d names", len(keys), len(sd.byName))
		}
		for _, k := range keys {
			info, ok := sd.Lookup(k)
			if !ok || len(info.Shape) != len(info.Stride) || info.Name != k {
				t.Fatalf("Lookup(%q) = %+v, %v", k, info, ok)
			}
			tt, err := sd.Tensor(k)
			if !info.DType.IsFloat() {
				if err == nil {
					t.Fatalf("Tensor(%q) of %s succeeded", k, info.DType)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Tensor(%q) of an accepted file: %v", k, err)
			}
			if len(tt.Float32()) != info.NumElements() {
				t.Fatalf("%q: %d elements for shape %v", k, len(tt.Float32()), info.Shape)
			}
		}
	})
}
