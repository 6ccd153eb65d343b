// The Jupyter kernel (gophernotes) for Capa's notebooks, as a separate module so
// that it is built against exactly the versions of the modules Capa uses:
// gophernotes compiles every package a notebook imports as a Go plugin, and a
// plugin loads only when every package it shares with the kernel was built
// from the same module version. notebooks/install-kernel.sh builds it.
module github.com/capa-ml/capa/notebooks/kernel

go 1.25.0

// gomacro's wrappers do not know the alias types of Go >= 1.23 (importing
// packages that declare aliases, gonum/plot's for instance, panics without it).
godebug gotypesalias=0

require (
	github.com/capa-ml/capa v0.0.0-00010101000000-000000000000
	github.com/gopherdata/gophernotes v0.7.5
)

require (
	github.com/apache/arrow/go/arrow v0.0.0-20211112161151-bc219186db40 // indirect
	github.com/awalterschulze/gographviz v2.0.3+incompatible // indirect
	github.com/chewxy/hm v1.0.0 // indirect
	github.com/chewxy/math32 v1.10.1 // indirect
	github.com/clipperhouse/uax29/v2 v2.2.0 // indirect
	github.com/cosmos72/gomacro v0.0.0-20220530072503-c719ab5c40fc // indirect
	github.com/ebitengine/purego v0.11.3 // indirect
	github.com/go-zeromq/goczmq/v4 v4.2.2 // indirect
	github.com/go-zeromq/zmq4 v0.14.1 // indirect
	github.com/gofrs/uuid v4.2.0+incompatible // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.2 // indirect
	github.com/google/flatbuffers v2.0.6+incompatible // indirect
	github.com/google/uuid v1.3.0 // indirect
	github.com/leesper/go_rng v0.0.0-20190531154944-a612b043e353 // indirect
	github.com/mattn/go-runewidth v0.0.28 // indirect
	github.com/peterh/liner v1.2.2 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/xtgo/set v1.0.0 // indirect
	go4.org/unsafe/assume-no-moving-gc v0.0.0-20231121144256-b99613f794b6 // indirect
	golang.org/x/mod v0.27.0 // indirect
	golang.org/x/sync v0.16.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/tools v0.36.0 // indirect
	golang.org/x/xerrors v0.0.0-20200804184101-5ec99f83aff1 // indirect
	gonum.org/v1/gonum v0.11.0 // indirect
	google.golang.org/protobuf v1.28.0 // indirect
	gorgonia.org/cu v0.9.4 // indirect
	gorgonia.org/dawson v1.2.0 // indirect
	gorgonia.org/gorgonia v0.9.18 // indirect
	gorgonia.org/tensor v0.9.24 // indirect
	gorgonia.org/vecf32 v0.9.0 // indirect
	gorgonia.org/vecf64 v0.9.0 // indirect
)

// Capa itself is this repository (install-kernel.sh points this at the absolute
// path of the checkout); requiring it makes the kernel's module graph take
// Capa's versions of the modules both use.
replace github.com/capa-ml/capa => ../..

// gophernotes v0.7.5's own gomacro (2022) cannot handle generic types and the
// kernel dies at start on Go >= 1.18 (unsupported types.Type: *types.TypeParam);
// this gomacro can, with golang.org/x/tools >= v0.35.0.
replace github.com/cosmos72/gomacro => github.com/cosmos72/gomacro v0.0.0-20260901205243-0df6c0cd20af
