#!/bin/sh
# Runs every fuzz target of Capa, one after the other, for FUZZTIME each
# (default 5m), with one worker (-parallel 1), and prints each target's last
# progress line (executions and their rate). A crash stops the script, with
# the failing input written under the package's testdata/fuzz/.
#
#	scripts/fuzz.sh            # every target, 5 minutes each
#	FUZZTIME=30s scripts/fuzz.sh FuzzLoad FuzzRead
set -e
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-5m}
# Go minimizes each new interesting input for up to a minute by default,
# executing nothing new meanwhile: on the model readers, whose seeds are
# tens of kilobytes, that was most of a run (0.5 executions a second).
MINIMIZE=${MINIMIZE:-3s}
targets='
. FuzzLoad
. FuzzLoadMetadata
./experiment FuzzParse
./dataset FuzzDecodeImage
./vgg FuzzReadWeights
./formats/npy FuzzRead
./formats/safetensors FuzzRead
./formats/idx FuzzRead
./formats/onnx FuzzUnmarshal
./interchange FuzzImportONNX
./interchange FuzzImportTFJS
./interchange FuzzImportKeras
./serve FuzzDecodeRequest
./formats/hdf5 FuzzOpen
./formats/torchpth FuzzReadStateDict
'
echo "$targets" | while read -r pkg name; do
	[ -n "$name" ] || continue
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	log=$(mktemp)
	echo "== $pkg $name ($FUZZTIME)"
	if ! go test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$MINIMIZE" -parallel 1 "$pkg" >"$log" 2>&1; then
		cat "$log"
		rm -f "$log"
		exit 1
	fi
	grep '^fuzz: elapsed' "$log" | tail -1
	rm -f "$log"
done
