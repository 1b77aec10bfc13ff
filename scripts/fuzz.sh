#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each (default 30s).
#
# Go 1.26's fuzz coordinator can fail a target at the end of its -fuzztime
# with a bare "context deadline exceeded" and no failing input: a shutdown
# race on a loaded machine, fixed in Go 1.27 (go.dev/issue/75804). Such a
# run is tried once more; any other failure, and any run that wrote a
# failing input, fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-30s}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# deadline_flake says whether the log is that race and nothing else.
deadline_flake() {
  grep -q 'context deadline exceeded' "$log" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    for try in 1 2; do
      echo "fuzz $pkg $f ($t)"
      if go test -run='^$' -fuzz="^$f\$" -fuzztime="$t" "$pkg" >"$log" 2>&1; then
        break
      fi
      if [ "$try" = 1 ] && deadline_flake; then
        echo "  $f: the Go 1.26 fuzz coordinator's deadline race (no failing input); once more"
        continue
      fi
      cat "$log"
      exit 1
    done
  done
done
