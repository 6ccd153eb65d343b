#!/bin/sh
# Builds the Jupyter kernel for Capa's notebooks (gophernotes) and installs its
# kernelspec, "gophernotes-capa", for the current user.
#
#   notebooks/install-kernel.sh            # from anywhere; needs go, a C compiler
#                                          # and, to run notebooks, Jupyter:
#   sudo apt-get install jupyter-nbconvert gcc
#
# Why a script and not `go install github.com/gopherdata/gophernotes@...`:
#   - gophernotes compiles every package a notebook imports into a Go plugin
#     and loads it into the kernel; Go loads a plugin only if every package it
#     shares with the kernel binary was built from the same module version.
#     The kernel is therefore built from notebooks/kernel/, a module that
#     requires Capa (this checkout) and so takes Capa's versions; this script
#     checks that no module both link differs.
#   - gophernotes v0.7.5 (the newest version the module proxy serves) is built
#     with a 2026 gomacro (the replace in notebooks/kernel/go.mod): its own
#     dies at start on Go >= 1.18.
#   - gomacro resolves an import such as "github.com/capa-ml/capa/graph" with
#     `go get` in a module it generates under $GOPATH/src/gomacro.imports; Capa
#     is not on the module proxy, so the kernel starts through kernel.sh, which
#     points those go commands (GOFLAGS=-modfile=...) at a go.mod that replaces
#     github.com/capa-ml/capa with the checkout the notebook is in. Notebooks
#     therefore import Capa by its usual paths, and see the checkout's code as
#     it is when their imports run (restart the kernel after changing Capa).
#
# Environment: JUPYTER_DATA_DIR (where kernelspecs go; default Jupyter's user
# data directory), CAPA_KERNEL_NAME (default gophernotes-capa).
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
root=$(CDPATH= cd -- "$here/.." && pwd)
name=${CAPA_KERNEL_NAME:-gophernotes-capa}

die() { echo "install-kernel: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "no go command on PATH: install Go (1.21 or newer) first"
# The Go toolchain that builds Capa (go.mod may select a newer one than the
# one on PATH) builds the kernel and, later, the notebooks' plugins.
goroot=$(cd "$root" && go env GOROOT)
gocmd="$goroot/bin/go"
goversion=$(cd "$root" && "$gocmd" env GOVERSION)
gomodcache=$(cd "$root" && "$gocmd" env GOMODCACHE)
cc=$(cd "$root" && "$gocmd" env CC)
command -v "${cc%% *}" >/dev/null 2>&1 ||
	die "no C compiler ($cc): Go plugins need cgo; install one (sudo apt-get install gcc)"

if [ -n "${JUPYTER_DATA_DIR:-}" ]; then
	datadir=$JUPYTER_DATA_DIR
elif command -v jupyter >/dev/null 2>&1; then
	datadir=$(jupyter --data-dir)
else
	datadir=${XDG_DATA_HOME:-$HOME/.local/share}/jupyter
	echo "install-kernel: jupyter is not installed (sudo apt-get install jupyter-nbconvert);" \
		"installing the kernelspec in $datadir anyway" >&2
fi
dest=$datadir/kernels/$name

build=$(mktemp -d "${TMPDIR:-/tmp}/capa-kernel-build.XXXXXX")
trap 'rm -rf "$build"' EXIT
cp "$here/kernel/go.mod" "$here/kernel/go.sum" "$here/kernel/tools.go" "$build/"

export GOTOOLCHAIN=local CGO_ENABLED=1
# -mod=mod: the copy's go.sum may lack entries if Capa's go.mod moved on.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"

echo "install-kernel: building gophernotes with $goversion against $root" >&2
(
	cd "$build"
	"$gocmd" mod edit -replace "github.com/capa-ml/capa=$root"
	# gophernotes v0.7.5's generated bindings of its "display" package give
	# the proxy of display.JSONer a JSON() string method where the interface
	# has JSON() map[string]interface{}; the newer gomacro checks proxies and
	# refuses the package, so the kernel would die at start. Build a copy of
	# the module with that one signature corrected.
	src=$("$gocmd" mod download -json github.com/gopherdata/gophernotes | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -f "$src/x_package.go" ] || die "cannot find gophernotes's source in the module cache"
	cp -R "$src" "$build/gophernotes-src"
	chmod -R u+w "$build/gophernotes-src"
	sed -i \
		-e 's/^\tJSON_  func(interface{}) string$/\tJSON_  func(interface{}) map[string]interface{}/' \
		-e 's/^func (P \*proxy_JSONer) JSON() string {$/func (P *proxy_JSONer) JSON() map[string]interface{} {/' \
		"$build/gophernotes-src/x_package.go"
	[ "$(grep -c 'func(interface{}) map\[string\]interface{}$\|proxy_JSONer) JSON() map\[string\]interface{} {$' \
		"$build/gophernotes-src/x_package.go")" = 2 ] || die "could not correct gophernotes's display.JSONer proxy"
	"$gocmd" mod edit -replace "github.com/gopherdata/gophernotes=$build/gophernotes-src"
	"$gocmd" build -o "$build/gophernotes" github.com/gopherdata/gophernotes
)

# Every module whose packages both the kernel and Capa link must be at the
# same version, or the notebooks' imports fail with "plugin was built with a
# different version of package ...". Requiring Capa makes the kernel take at
# least Capa's versions; a higher one means the kernel needs a bump in Capa's
# go.mod.
listmods='{{with .Module}}{{.Path}} {{.Version}}{{end}}'
(cd "$build" && "$gocmd" list -deps -f "$listmods" github.com/gopherdata/gophernotes) | sort -u >"$build/kernel.mods"
(cd "$root" && GOFLAGS= "$gocmd" list -mod=readonly -deps -f "$listmods" ./...) | sort -u >"$build/capa.mods"
mismatch=$(awk 'NR == FNR { v[$1] = $2; next } ($1 in v) && v[$1] != $2 { print "  " $1 ": kernel " v[$1] ", Capa " $2 }' \
	"$build/kernel.mods" "$build/capa.mods")
[ -z "$mismatch" ] || die "the kernel and Capa link different versions of:
$mismatch
Capa's go.mod needs those versions (or notebooks/kernel/go.mod older ones)."

mkdir -p "$dest"
rm -f "$dest/gophernotes"
cp "$build/gophernotes" "$dest/gophernotes"
logos=$(cd "$build" && "$gocmd" list -m -f '{{.Dir}}' github.com/gopherdata/gophernotes)/kernel
cp "$logos/logo-32x32.png" "$logos/logo-64x64.png" "$dest/" 2>/dev/null || true
chmod u+w "$dest"/*.png 2>/dev/null || true
cp "$here/kernel/kernel.sh" "$dest/kernel.sh"
chmod +x "$dest/kernel.sh"
cat >"$dest/kernel.env" <<EOF
# Written by notebooks/install-kernel.sh; sourced by kernel.sh.
capa_root_default='$root'
capa_goroot='$goroot'
capa_gomodcache='$gomodcache'
EOF
# ASSUME_NO_MOVING_GC_UNSAFE_RISK_IT_WITH: older builds of
# go4.org/unsafe/assume-no-moving-gc (a Gorgonia dependency) panic on a Go
# release they do not know unless it names that release; Capa's go.mod pins a
# version that needs it no more, and the variable is harmless.
gominor=$(echo "$goversion" | sed -E 's/^(go[0-9]+\.[0-9]+).*/\1/')
cat >"$dest/kernel.json" <<EOF
{
  "argv": ["/bin/sh", "$dest/kernel.sh", "{connection_file}"],
  "display_name": "Go (Capa)",
  "language": "go",
  "interrupt_mode": "signal",
  "env": {
    "GOTOOLCHAIN": "local",
    "CGO_ENABLED": "1",
    "GO111MODULE": "on",
    "ASSUME_NO_MOVING_GC_UNSAFE_RISK_IT_WITH": "$gominor"
  },
  "metadata": {"capa_root": "$root"}
}
EOF

# Warm Go's build cache with Capa compiled as a notebook's first import
# compiles it, which also checks that plugins build here.
echo "install-kernel: compiling Capa as a plugin once (warms the build cache)" >&2
warm=$build/warm
mkdir -p "$warm"
printf 'module gomacro.imports/warm\n' >"$warm/go.mod"
{
	printf 'package main\n\nimport (\n'
	for p in "" /augment /dataset /experiment /graph /train /transfer /vgg /viz; do
		[ -d "$root$p" ] && printf '\t_ "github.com/capa-ml/capa%s"\n' "$p"
	done
	printf ')\n\nfunc main() {}\n'
} >"$warm/main.go"
cat >"$build/capa.mod" <<EOF
module gomacro.imports/warm

go $(sed -n 's/^go[[:space:]]*//p' "$root/go.mod")

require github.com/capa-ml/capa v0.0.0-00010101000000-000000000000

replace github.com/capa-ml/capa => "$root"
EOF
cp "$root/go.sum" "$build/capa.sum"
# gomacro first reads the imported packages' types (go list -export, a normal
# build), then builds the plugin.
(cd "$warm" && export GOFLAGS="$GOFLAGS -modfile=$build/capa.mod" &&
	"$gocmd" mod tidy &&
	"$gocmd" list -export -deps . >/dev/null &&
	"$gocmd" build -buildmode=plugin -o "$build/warm.so" .)

echo "install-kernel: installed kernel \"$name\" in $dest" >&2
