#!/usr/bin/env bash
# Installs pitfall's build and test dependencies from Debian (bookworm) packages.
# Idempotent: when every package is already installed it touches nothing (no apt, no root needed);
# `apt-get update` runs only when a package is missing and apt cannot locate it.
set -euo pipefail

PACKAGES=(
  cmake g++ libeigen3-dev pybind11-dev doctest-dev
  python3-dev python3-numpy python3-pytest python3-setuptools python3-venv python3-pip
  libopenblas-dev zlib1g-dev
  python3-torch python3-matplotlib python3-sklearn dataset-fashion-mnist
  clang libclang-rt-14-dev
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"

SUDO=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
  else
    echo "install-deps: not root and no sudo; install these packages first: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
APT=("${SUDO[@]}" apt-get -y -q -o Dpkg::Use-Pty=0)

# Refresh the package lists only when apt does not know a missing package (fresh container with
# empty lists, or stale lists); otherwise install straight away.
needs_update=0
for pkg in "${missing[@]}"; do
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then needs_update=1; break; fi
done
if ((needs_update)); then
  "${APT[@]}" update
fi
if ! "${APT[@]}" install --no-install-recommends "${missing[@]}" </dev/null; then
  # Stale lists can name versions the mirror no longer has: refresh once and retry.
  "${APT[@]}" update
  "${APT[@]}" install --no-install-recommends "${missing[@]}" </dev/null
fi
