#!/usr/bin/env bash
# Fuzzing: runs each fuzz target for FUZZTIME (30s by default), one at a
# time, since go test takes one -fuzz target per package invocation. Every
# target runs even after a failure; the script exits non-zero if any failed.
# A failing input is written under the package's testdata/fuzz/<Target>/:
# once fixed, commit it as a regression case (plain go test runs it).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-30s}
# Each new interesting input is minimized by re-running the target; with a
# target as slow as a login the default minute of that would stall the run.
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}

targets=(
  "./utils/ FuzzParse"
  "./middleware/ FuzzJWTHeader"
  "./routers/ FuzzAuthBodies"
  "./routers/ FuzzPasskeyFinish"
  "./utils/dpop/ FuzzCheck"
)

failed=()
for target in "${targets[@]}"; do
  read -r pkg name <<<"$target"
  echo "== fuzz $name in $pkg for $FUZZTIME"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg"; then
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing failed: ${failed[*]} (failing inputs are under testdata/fuzz/)" >&2
  exit 1
fi
