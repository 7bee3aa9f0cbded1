#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time each.
# FUZZTIME overrides the time per target (default 10s).
set -euo pipefail
fuzztime=${FUZZTIME:-10s}
status=0
while read -r file; do
	pkg=$(dirname "$file")
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		echo "== $pkg $target"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" || status=1
	done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | sort)
exit $status
