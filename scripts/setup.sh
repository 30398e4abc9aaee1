#!/usr/bin/env bash
# Install what idm needs on a Debian machine, then a .venv with the package.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(slapd ldap-utils libldap2-dev libsasl2-dev gcc python3-dev python3-venv openssl)
# the printed forms embed this TrueType Song face (AR PL UMing CN)
APT_PACKAGES+=(fonts-arphic-uming)
# for the tests and for reading the printed forms: PDF text and pictures, QR decoding, CJK fonts
APT_PACKAGES+=(poppler-utils poppler-data zbar-tools fonts-noto-cjk)
# the browser tests drive Debian's Chromium with Playwright (no browser download)
APT_PACKAGES+=(chromium chromium-l10n)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
  # slapd's package wants to configure a system-wide server; idm runs its own embedded one.
  echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.idm-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the idm package into .venv"
  # pip's build chatter goes to a log; it is shown only if the install fails.
  if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[test]'; } \
      > .venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    exit 1
  fi
  touch "$stamp"
fi
