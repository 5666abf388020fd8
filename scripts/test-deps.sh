#!/usr/bin/env bash
# What `make test` needs from Debian: Chromium (browser tests), Orthanc and its DICOMweb plugin
# (PACS), PostgreSQL, nginx (HTTPS tests, benchmarks), dicom3tools (dciodvfy), openssl, fuse3 (the
# power-cut filesystem), Python's venv, Node.js and npm. Checked in a few milliseconds when everything is there (no apt-get then).
# Missing packages: as root they are installed (apt-get update first); otherwise this stops at
# once and prints the exact command to run. The checks find things where the tests look for them
# (tests/support/postgres.py, tests/interop/orthanc.py, pwa/e2e/browser.ts, pwa/e2e/nginx.ts).
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
any() { compgen -G "$1" >/dev/null; }

missing=()
{ [ -x "${CLINPHOTO_CHROMIUM:-/usr/bin/chromium}" ] || have chromium; } || missing+=(chromium)
{ have Orthanc || [ -x /usr/sbin/Orthanc ]; } || missing+=(orthanc)
{ any "/usr/share/orthanc/plugins/libOrthancDicomWeb.so*" || any "/usr/lib/orthanc/libOrthancDicomWeb.so*"; } \
  || missing+=(orthanc-dicomweb)
any "/usr/lib/postgresql/*/bin/postgres" || missing+=(postgresql)
{ [ -x "${CLINPHOTO_NGINX:-/usr/sbin/nginx}" ] || have nginx; } || missing+=(nginx)
have dciodvfy || missing+=(dicom3tools)
have openssl || missing+=(openssl)
have fusermount3 || missing+=(fuse3)  # the power-cut test filesystem (tests/powerloss, mfusepy over libfuse3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
have node || missing+=(nodejs)
have npm || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "make test needs these Debian packages: ${missing[*]}" >&2
    echo "Run this, then make test again:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing what the tests need: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The app's build (Vite 7) needs Node.js 20.19 or later; Debian 12 ships 18, which apt cannot fix.
node_version=$(node -p 'process.versions.node')
IFS=. read -r major minor _ <<<"$node_version"
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
  echo "Node.js $node_version is too old: the app's build needs 20.19 or later (Debian 13 has it;" >&2
  echo "on Debian 12 use NodeSource's nodejs 20 or 22 package), then make test again." >&2
  exit 1
fi
