#!/bin/sh
# Starts gophernotes for Capa's notebooks. notebooks/install-kernel.sh copies
# this file into the kernelspec, next to the gophernotes binary it built and
# kernel.env (the checkout it was installed from, the Go toolchain it used).
#
# Jupyter starts a kernel in the notebook's directory. The Capa checkout is
# the nearest directory above it whose go.mod is Capa's (else the checkout the
# kernel was installed from). gomacro compiles each import into a plugin in a
# module it generates under $GOPATH/src/gomacro.imports (removing that
# directory first), running `go get`, `go mod tidy` and `go build`; this script
# gives every kernel its own GOPATH (so that two kernels do not remove each
# other's builds) and, through GOFLAGS=-modfile, a go.mod that replaces
# github.com/capa-ml/capa with the checkout and has Capa's go.sum, so the
# imports resolve with Capa's module versions, and Capa's without the network.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
capa_root_default=
capa_goroot=
capa_gomodcache=
. "$here/kernel.env"

root=
d=$(pwd)
while :; do
	if [ -f "$d/go.mod" ] && grep -Eq '^module[[:space:]]+"?github\.com/capa-ml/capa"?[[:space:]]*$' "$d/go.mod"; then
		root=$d
		break
	fi
	[ "$d" = / ] && break
	d=$(dirname "$d")
done
[ -n "$root" ] || root=$capa_root_default

base=${TMPDIR:-/tmp}
# Remove the state of kernels that have exited.
for s in "$base"/gophernotes-capa.*; do
	[ -f "$s/pid" ] || continue
	kill -0 "$(cat "$s/pid")" 2>/dev/null || rm -rf "$s"
done
state=$(mktemp -d "$base/gophernotes-capa.XXXXXX")
echo $$ >"$state/pid" # exec keeps the process id
mkdir -p "$state/src"

cat >"$state/capa.mod" <<EOF
module gomacro.imports/capa

go $(sed -n 's/^go[[:space:]]*//p' "$root/go.mod")

require github.com/capa-ml/capa v0.0.0-00010101000000-000000000000

replace github.com/capa-ml/capa => "$root"
EOF
cp "$root/go.sum" "$state/capa.sum"

export PATH="$capa_goroot/bin:$PATH"
export GOROOT="$capa_goroot"
export GOMODCACHE="$capa_gomodcache"
export GOPATH="$state"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modfile=$state/capa.mod -mod=mod"
# `go get github.com/capa-ml/capa/...` asks for newer versions of Capa: never
# ask the module proxy or the network (the replace above decides anyway).
capa=github.com/capa-ml/capa
noproxy=${GONOPROXY:-${GOPRIVATE:-}}
nosumdb=${GONOSUMDB:-${GOPRIVATE:-}}
export GONOPROXY="${noproxy:+$noproxy,}$capa"
export GONOSUMDB="${nosumdb:+$nosumdb,}$capa"
export GOVCS="$capa:off${GOVCS:+,$GOVCS}"
export CAPA_ROOT="$root"
exec "$here/gophernotes" "$@"
