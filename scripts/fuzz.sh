#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time each.
# FUZZTIME overrides the time per target (default 10s).
#
# Go 1.26's fuzz coordinator can report "context deadline exceeded" when
# -fuzztime runs out while a worker is busy (golang/go#75804), with no
# failing input. A target that fails without writing a new input to its
# testdata/fuzz directory is therefore run again, up to three runs in all;
# a real crash writes its input, and that input fails the target again on
# any later run.
set -euo pipefail
fuzztime=${FUZZTIME:-10s}
status=0

# inputs prints how many inputs the target's corpus directory holds.
inputs() {
	find "$1/testdata/fuzz/$2" -type f 2>/dev/null | wc -l
}

# fuzz runs one target, again after a failure that wrote no input.
fuzz() {
	local pkg=$1 target=$2 before run
	for run in 1 2 3; do
		before=$(inputs "$pkg" "$target")
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" && return 0
		if [ "$(inputs "$pkg" "$target")" != "$before" ]; then
			return 1
		fi
		echo "== $pkg $target failed without a failing input (golang/go#75804); run $run of 3"
	done
	return 1
}

while read -r file; do
	pkg=$(dirname "$file")
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		echo "== $pkg $target"
		fuzz "$pkg" "$target" || status=1
	done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | sort)
exit $status
