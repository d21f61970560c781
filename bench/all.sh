#!/usr/bin/env bash
# `npm run bench:all`: every benchmark at the size its issue names, one after the other on a quiet
# machine (figures taken while anything else runs are distorted), then the docs' table of the
# latest reports. A bench that fails is reported and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."

started_broker=0
if [ -z "${KAFKA_BROKERS:-}" ]; then
  npm run --silent kafka:start || { echo "bench:all: the Kafka broker did not start" >&2; exit 1; }
  started_broker=1
  export KAFKA_BROKERS=127.0.0.1:${KAFKA_PORT:-9092}
fi

failed=()
run() {
  echo "== npm run $*"
  npm run --silent "$@" || failed+=("$*")
}

run bench:ingest -- --preload
run bench:inserts
run bench:kafka-clients
run bench:pricing
run bench:pricing-pending
run bench:statements
run bench:enforcement
run bench:api
# The whole pipeline runs a broker of its own: ours would only take CPU from it.
[ "$started_broker" = 1 ] && npm run --silent kafka:stop
run bench

npm run --silent bench:table
if [ ${#failed[@]} -gt 0 ]; then
  printf 'bench:all: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
