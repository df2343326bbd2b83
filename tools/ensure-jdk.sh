#!/usr/bin/env bash
# Make sure a Java runtime (17 or newer) is on PATH: Spark, which the Spark tests start
# locally, runs on the JVM. On a Debian/Ubuntu machine where we are root (CI, a fresh dev
# box) it installs openjdk-17-jre-headless from apt; anywhere else it says what to install.
set -euo pipefail

version() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }

if command -v java >/dev/null 2>&1 && [ "$(version)" -ge 17 ] 2>/dev/null; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> Installing a Java runtime for Spark (openjdk-17-jre-headless, apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
    java -version 2>&1 | head -1
    exit 0
fi
echo "error: the Spark tests need Java 17 or newer on PATH, and none was found." >&2
echo "  Install it (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless;" >&2
echo "  macOS: brew install openjdk@17), or skip them: make test PYTEST_ARGS='-m \"not spark\"'." >&2
exit 2
