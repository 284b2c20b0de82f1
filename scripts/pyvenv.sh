#!/usr/bin/env bash
# Usage: scripts/pyvenv.sh NAME REQUIREMENT...
# A Python virtual environment at $ZATCA_CACHE/NAME with the requirements from PyPI, created once
# and reused (installing python3, python3-venv with apt on a fresh Debian machine if missing).
# Prints the environment's directory.
set -euo pipefail
ZATCA_CACHE=${ZATCA_CACHE:-$HOME/.cache/zatca}
venv=$ZATCA_CACHE/$1
shift
apt_install() {
  local sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2
}
command -v python3 >/dev/null || apt_install python3 python3-venv
if [ ! -f "$venv/.installed" ]; then
  rm -rf "$venv"
  # Debian's python3 needs python3-venv for `python3 -m venv` (ensurepip).
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "$@" >&2
  touch "$venv/.installed"
fi
echo "$venv"
