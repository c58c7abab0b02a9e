#!/usr/bin/env bash
# Install the Debian packages the tests need when they are missing: Chromium (browser
# tests, driven by Playwright; never a browser Playwright downloads itself) and Dovecot
# (a real IMAP server for the mail tests). Only as root; elsewhere the tests that need
# them are skipped with the reason.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "Not root: skipping the install of ${need[*]}; tests needing them will be skipped." >&2
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "No apt-get: install ${need[*]} yourself." >&2; exit 0; }
echo "Installing ${need[*]} from the package manager..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
