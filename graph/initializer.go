package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Initializer fills a weight tensor of the given shape, drawing from rng.
// fanIn and fanOut follow Keras: for a Conv2D kernel (KH, KW, Cin, Cout),
// fanIn = KH*KW*Cin and fanOut = KH*KW*Cout; for a Dense kernel (in, out),
// in and out.
type Initializer func(dst []float32, fanIn, fanOut int, rng *rand.Rand)

var builtinInitializers = map[string]Initializer{
	"zeros": func(dst []float32, _, _ int, _ *rand.Rand) { clear(dst) },
	"ones": func(dst []float32, _, _ int, _ *rand.Rand) {
		for i := range dst {
			dst[i] = 1
		}
	},
	"glorot_uniform": func(dst []float32, in, out int, rng *rand.Rand) {
		uniform(dst, math.Sqrt(6/float64(in+out)), rng)
	},
	"glorot_normal": func(dst []float32, in, out int, rng *rand.Rand) {
		truncNormal(dst, math.Sqrt(2/float64(in+out)), rng)
	},
	"he_uniform": func(dst []float32, in, _ int, rng *rand.Rand) {
		uniform(dst, math.Sqrt(6/float64(in)), rng)
	},
	"he_normal": func(dst []float32, in, _ int, rng *rand.Rand) {
		truncNormal(dst, math.Sqrt(2/float64(in)), rng)
	},
	"lecun_uniform": func(dst []float32, in, _ int, rng *rand.Rand) {
		uniform(dst, math.Sqrt(3/float64(in)), rng)
	},
	"lecun_normal": func(dst []float32, in, _ int, rng *rand.Rand) {
		truncNormal(dst, math.Sqrt(1/float64(in)), rng)
	},
}

func init() {
	for name, f := range builtinInitializers {
		RegisterInitializer(name, f)
	}
}

// RegisterInitializer makes an initializer available by name (snake case,
// as "glorot_uniform") to layer configurations; files name it in Keras's
// form, {"class_name": "GlorotUniform", "config": {"seed": null}}. It
// panics if the name is already taken.
func RegisterInitializer(name string, f Initializer) { initializers.add(name, f) }

// Initializers returns the registered initializer names, sorted.
func Initializers() []string { return initializers.names() }

// initializerDraws reports whether the named initializer is random (Keras
// gives those a seed in their config).
func initializerDraws(name string) bool { return name != "zeros" && name != "ones" }

// initializerName resolves a Keras class name ("GlorotUniform") or a name
// ("glorot_uniform") to a registered initializer's name.
func initializerName(class string) (string, error) {
	if initializers.has(class) {
		return class, nil
	}
	if n := snakeName(class); initializers.has(n) {
		return n, nil
	}
	for _, n := range initializers.names() {
		if camelName(n) == class {
			return n, nil
		}
	}
	_, err := initializer(class, "")
	return "", err
}

// checkInitializer validates a configuration's initializer field.
func checkInitializer(field, name string) error {
	if _, err := initializer(name, ""); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

func initializer(name, def string) (Initializer, error) {
	if name == "" {
		name = def
	}
	return initializers.get(name)
}

func uniform(dst []float32, limit float64, rng *rand.Rand) {
	for i := range dst {
		dst[i] = float32((rng.Float64()*2 - 1) * limit)
	}
}

// truncNormal draws from a normal distribution truncated at two standard
// deviations, scaled like Keras's variance-scaling initializers (the
// truncated normal's stddev is corrected by 0.87962566103423978).
func truncNormal(dst []float32, std float64, rng *rand.Rand) {
	s := std / 0.87962566103423978
	for i := range dst {
		for {
			v := rng.NormFloat64()
			if v >= -2 && v <= 2 {
				dst[i] = float32(v * s)
				break
			}
		}
	}
}
