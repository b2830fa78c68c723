#!/usr/bin/env bash
# Installs the real services the slow tests use, from Debian's packages, when missing:
# PostgreSQL (server binaries for initdb/pg_ctl), headless Chromium for the HTML report and a Java
# 17 runtime for the Spark tests (pyspark itself comes from PyPI, the `spark` extra).
# Safe to run repeatedly; does nothing when all are already present.
set -euo pipefail
need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1 || true)
[ -n "$java_major" ] && [ "$java_major" -ge 17 ] || need+=(openjdk-17-jre-headless)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "tests/services/install.sh: need ${need[*]}; run as root or install them with apt-get" >&2
  exit 1
fi
echo "installing ${need[*]} from Debian packages ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >/dev/null
# Debian starts a cluster on install; the tests run their own in a temporary folder.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do pg_ctlcluster ${c%/*} ${c#*/} stop 2>/dev/null || true; done
fi
