#!/usr/bin/env bash
# Runs one fuzz target for MINUTES (default 10), in rounds of CASES cases with fresh seeds.
#   bash scripts/fuzz.sh TARGET [MINUTES] [CASES]
# Targets: fuzz_validate_parquet, fuzz_validate_arriving, fuzz_validate_csv,
# fuzz_validate_json_lines, fuzz_footer_newest_time, fuzz_contract_parsing,
# fuzz_calendar_overrides, fuzz_calendar_days,
# fuzz_alpaca_pages, fuzz_edgar_bodies (tests/fuzz.rs); any_payload_gets_a_verdict,
# any_key_survives_s3s_encoding, any_raw_key_gets_a_verdict (validator/tests/fuzz_events.rs).
# The tests/fuzz.rs targets start from their seeds plus the saved corpus in
# tests/fuzz-corpus/TARGET/. A failure prints the shortest input that breaks the property,
# saves it to that corpus, and stops: add it to the `found_*` tests in tests/fuzz.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: fuzz.sh TARGET [MINUTES] [CASES]}"
minutes="${2:-10}"
export LAKEWATCH_FUZZ_CASES="${3:-100000}"
export LAKEWATCH_FUZZ_SAVE="$PWD/tests/fuzz-corpus/$1"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lakewatch-target}"
case "$target" in
  any_*) binary=fuzz_events name="$target" ;;
  *) binary=workspace name="fuzz::$target" ;;
esac
cargo test --workspace --locked --no-run --test "$binary"
end=$(( $(date +%s) + minutes * 60 ))
rounds=0
while [ "$(date +%s)" -lt "$end" ]; do
  out=$(cargo test --workspace --locked -q --test "$binary" "$target" -- --exact "$name" 2>&1) || { echo "$out"; exit 1; }
  grep -q "1 passed" <<<"$out" || { echo "no test named $name"; exit 2; }
  rounds=$(( rounds + 1 ))
  echo "$target: $(( rounds * LAKEWATCH_FUZZ_CASES )) cases, no failure"
done
