#!/usr/bin/env bash
# The browser test (tests/unit/pipeline/test_web_browser.py) drives Debian's chromium; nothing is downloaded by
# Playwright. Install it when it is missing and this machine can (root with apt-get); otherwise say how.
set -euo pipefail
browser="${AKHBAR_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$browser" ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser test (apt-get)…" >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    exit 0
  fi
  echo "note: apt-get could not install chromium; the browser test will fail until it is installed" >&2
  exit 0
fi
echo "note: $browser is missing and cannot be installed here (needs root and apt-get);" \
     "the browser test will fail until you run: sudo apt-get install -y chromium" >&2
