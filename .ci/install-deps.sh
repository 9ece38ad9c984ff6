#!/usr/bin/env bash
# Installs, from Debian's archive only, every system package the test world needs.
# Idempotent: packages already present are skipped by apt; the backports source is added once.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: must run as root (apt-get)" >&2; exit 2
fi

src=/etc/apt/sources.list.d/memoh-backports.sources
if [ ! -f "$src" ]; then
  cat > "$src" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
# arm64 packages (musl, busybox) are unpacked into the arm64 test images, never installed.
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64

pkgs=(
  docker.io iptables debootstrap qemu-user-static binfmt-support
  musl musl-tools musl-dev busybox-static xz-utils ca-certificates curl file openssl
  gcc-aarch64-linux-gnu
  docker-registry skopeo apache2-utils
  protobuf-compiler protoc-gen-go protoc-gen-go-grpc
  golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
gomissing=0
dpkg-query -W -f='${Status}' golang-1.23-go 2>/dev/null | grep -q 'install ok installed' || gomissing=1
if [ ${#missing[@]} -gt 0 ] || [ $gomissing = 1 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if [ $gomissing = 1 ]; then
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends -t bookworm-backports golang-1.23-go
  fi
fi
# The docker-registry package starts a system registry on :5000; tests run their own on free ports.
if command -v systemctl >/dev/null && systemctl is-active -q docker-registry 2>/dev/null; then systemctl stop docker-registry || true; fi
echo "install-deps: ok"
