#!/usr/bin/env bash
# Test-world images: builds the images every test and CI job relies on, each one cached by tag.
#
#   test/world/images.sh [NAME...]     NAME: debian-amd64 debian-arm64 musl-amd64 musl-arm64 noshell-amd64
#                                             entrypoint-user-amd64 legacy-mcp-amd64      (default: all)
#
# Every image carries the label memoh.test.recipe=<sha256 of its recipe>: the bash functions that build it plus
# the versions of what goes in. An image whose tag exists with that exact label is never rebuilt; any other is.
# Debian root filesystems (the only slow part: debootstrap) are kept as tarballs in
# ${MEMOH_WORLD_DIR:-/var/cache/memoh-world}/images/, so a `docker system prune` costs an import, not a debootstrap.
# Downloaded .debs are kept there too. Tags are a contract with the tests (see images.ts).
#
# Needs root, the packages of .ci/install-deps.sh, and network access to the Debian archive for a cold build only.
# Env: MEMOH_WORLD_DIR (cache dir), MEMOH_DEBIAN_MIRROR (default: the bookworm URI of the apt sources).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORLD_DIR="${MEMOH_WORLD_DIR:-/var/cache/memoh-world}"
IMG_DIR="$WORLD_DIR/images"
SUITE=bookworm
RECIPE_REV=1 # bump to rebuild everything
LABEL=memoh.test.recipe
HOST_ARCH="$(dpkg --print-architecture)"

if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER="$(command -v docker)"; fi
docker() { "$DOCKER" "$@"; }

log() { echo "images: $*"; }
die() { echo "images: ERROR: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
need_root() { [ "$(id -u)" = 0 ] || die "building $1 needs root"; }

# ------------------------------------------------------------------------------------------------ temp dirs
TMPS=()
MKTMP=""
mktmp() { MKTMP="$(mktemp -d "$IMG_DIR/.tmp-$1-XXXXXX")"; TMPS+=("$MKTMP"); }
rmtmp() {
  local d=$1 m
  [ -n "$d" ] && [ -d "$d" ] || return 0
  # An interrupted debootstrap can leave /proc, /sys... mounted inside: unmount deepest first.
  awk -v d="$d" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$d"
}
cleanup() { local d; for d in "${TMPS[@]}"; do rmtmp "$d"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------------------------ helpers
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }
# apt's binary cache is disabled on slim systems, so every apt-cache call costs seconds: ask once for a batch.
declare -A CAND=()
load_candidates() { # PKG:ARCH... (call in the main shell; $(...) subshells then see the answers)
  local line pkg=""
  while IFS= read -r line; do
    case "$line" in
      [!\ ]*:) pkg="${line%:}" ;;
      *Candidate:*) CAND[$pkg]="${line##*Candidate: }" ;;
    esac
  done < <(apt-cache policy "$@" 2>/dev/null)
}
candidate() { [ -n "${CAND[$1]+x}" ] || load_candidates "$1"; echo "${CAND[$1]:-}"; }
file_sha() { sha256sum "$1" | cut -d' ' -f1; }

# recipe FUNC... -- EXTRA...   → sha256 of the named functions' source and the extra lines
recipe() {
  {
    echo "memoh-world-images rev $RECIPE_REV"
    while [ $# -gt 0 ] && [ "$1" != -- ]; do declare -f "$1"; shift; done
    [ $# -gt 0 ] && shift
    printf '%s\n' "$@"
  } | sha256sum | cut -d' ' -f1
}

image_recipe_of() { docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
image_arch() { docker image inspect -f '{{.Architecture}}' "$1"; }
drop_if_dangling() {
  [ -n "$1" ] || return 0
  if [ "$(docker image inspect -f '{{len .RepoTags}}' "$1" 2>/dev/null)" = 0 ]; then
    docker rmi "$1" >/dev/null 2>&1 || true
  fi
}

# import_tar TAG RECIPE [CHANGE...] < rootfs tar stream
import_tar() {
  local tag=$1 r=$2 old; shift 2
  old="$(image_id "$tag")"
  local args=(--change "LABEL $LABEL=$r") c
  for c in "$@"; do args+=(--change "$c"); done
  docker import "${args[@]}" - "$tag" >/dev/null
  [ "$(image_id "$tag")" = "$old" ] || drop_if_dangling "$old"
}

tar_dir() { tar --numeric-owner -C "$1" -cf - .; }

# fix_arch TAG ARCH VARIANT: `docker import` records the host architecture; rewrite the image config.
# The config is content-addressed, so the manifest's config file name changes with it: save → edit → load.
fix_arch() {
  local tag=$1 arch=$2 variant=$3 old d
  old="$(image_id "$tag")"
  mktmp arch; d=$MKTMP
  mkdir "$d/x"
  docker save "$tag" | tar -C "$d/x" -xf -
  node - "$d/x" "$arch" "$variant" <<'JS'
const fs = require('fs'), path = require('path'), crypto = require('crypto');
const [dir, arch, variant] = process.argv.slice(2);
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const mfPath = path.join(dir, 'manifest.json');
const mf = JSON.parse(fs.readFileSync(mfPath, 'utf8'));
if (mf.length !== 1) throw new Error(`expected one image in the saved archive, got ${mf.length}`);
const oldName = mf[0].Config;
const oldBody = fs.readFileSync(path.join(dir, oldName));
const oldDigest = 'sha256:' + sha(oldBody);
const cfg = JSON.parse(oldBody.toString('utf8'));
cfg.architecture = arch;
if (variant) cfg.variant = variant; else delete cfg.variant;
const body = Buffer.from(JSON.stringify(cfg));
const hex = sha(body);
// docker <= 24 names the config <hex>.json; docker >= 25 saves an OCI layout (blobs/sha256/<hex>).
const inBlobs = oldName.startsWith('blobs/');
const newName = inBlobs ? `blobs/sha256/${hex}` : `${hex}.json`;
fs.writeFileSync(path.join(dir, newName), body);
if (!inBlobs) fs.unlinkSync(path.join(dir, oldName));
mf[0].Config = newName;
fs.writeFileSync(mfPath, JSON.stringify(mf));
// OCI layout: index.json -> (index ->) manifest names the config by digest too; rewrite that chain.
const idxPath = path.join(dir, 'index.json');
if (fs.existsSync(idxPath)) {
  const blob = (d) => path.join(dir, 'blobs', 'sha256', d.replace(/^sha256:/, ''));
  const rewrite = (desc) => {
    if (!fs.existsSync(blob(desc.digest))) return desc;
    const doc = JSON.parse(fs.readFileSync(blob(desc.digest), 'utf8'));
    let changed = false;
    if (doc.config && doc.config.digest === oldDigest) {
      doc.config = { ...doc.config, digest: 'sha256:' + hex, size: body.length };
      changed = true;
    }
    if (Array.isArray(doc.manifests)) {
      doc.manifests = doc.manifests.map((d) => { const n = rewrite(d); if (n !== d) changed = true; return n; });
    }
    if (!changed) return desc;
    const nb = Buffer.from(JSON.stringify(doc));
    const nh = sha(nb);
    fs.writeFileSync(blob(nh), nb);
    const nd = { ...desc, digest: 'sha256:' + nh, size: nb.length };
    if (nd.platform) { nd.platform = { ...nd.platform, architecture: arch }; if (variant) nd.platform.variant = variant; }
    return nd;
  };
  const idx = JSON.parse(fs.readFileSync(idxPath, 'utf8'));
  idx.manifests = idx.manifests.map(rewrite);
  fs.writeFileSync(idxPath, JSON.stringify(idx));
}
JS
  tar -C "$d/x" -cf - . | docker load >/dev/null
  rmtmp "$d"
  [ "$(image_id "$tag")" = "$old" ] || drop_if_dangling "$old"
  [ "$(image_arch "$tag")" = "$arch" ] || die "$tag: architecture is $(image_arch "$tag") after the fix, want $arch"
}

ensure_arch() { # TAG ARCH
  local variant=""
  [ "$2" = arm64 ] && variant=v8
  [ "$(image_arch "$1")" = "$2" ] || fix_arch "$1" "$2" "$variant"
}

# extract_single_layer TAG OUT: an imported image has exactly one layer, byte-identical to the imported tar.
extract_single_layer() {
  local tag=$1 out=$2 d layer
  mktmp layer; d=$MKTMP
  docker save "$tag" | tar -C "$d" -xf -
  layer="$(node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (m.length !== 1 || m[0].Layers.length !== 1) process.exit(3); console.log(m[0].Layers[0]);' "$d/manifest.json")"
  mv "$d/$layer" "$out.part" && mv "$out.part" "$out"
  rmtmp "$d"
}

debian_mirror() {
  if [ -n "${MEMOH_DEBIAN_MIRROR:-}" ]; then echo "$MEMOH_DEBIAN_MIRROR"; return; fi
  local m="" f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ]; then
    m="$(awk -v s="$SUITE" '
      function flush() { if (u != "" && hit) { print u; found = 1; exit } u = ""; hit = 0 }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/ { u = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
      END { if (!found) flush() }' "$f")"
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m="$(awk -v s="$SUITE" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^[a-z]+:\/\// && $(i + 1) == s) { print $i; exit } }' /etc/apt/sources.list)"
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# fetch_deb PKG ARCH → path of the .deb (downloaded once into the world cache, by candidate version)
fetch_deb() {
  local pkg=$1 arch=$2 ver dir
  ver="$(candidate "$pkg:$arch")"
  [ -n "$ver" ] && [ "$ver" != "(none)" ] ||
    die "apt knows no $pkg:$arch (arm64 foreign architecture + apt-get update: run .ci/install-deps.sh)"
  dir="$IMG_DIR/debs/$arch/$pkg/$ver"
  if ! compgen -G "$dir/*.deb" >/dev/null; then
    rm -rf "$dir.part"; mkdir -p "$dir.part"
    (cd "$dir.part" && apt-get download -q -o APT::Sandbox::User=root "$pkg:$arch=$ver") >&2 ||
      die "apt-get download $pkg:$arch=$ver failed"
    rm -rf "$dir"; mv "$dir.part" "$dir"
  fi
  compgen -G "$dir/*.deb" | head -n1
}

# ------------------------------------------------------------------------------------------------ debian rootfs
# build_debian_rootfs ARCH OUT_TAR: debootstrap minbase (two stages under qemu for a foreign arch) → tarball
build_debian_rootfs() {
  local arch=$1 out=$2 mirror d dir t
  need_root "a debian rootfs"
  mirror="$(debian_mirror)"
  mktmp "debian-$arch"; d=$MKTMP; dir="$d/rootfs"
  mkdir -p "$IMG_DIR/debs/$arch/debootstrap"
  t="$(now)"
  if [ "$arch" = "$HOST_ARCH" ]; then
    debootstrap --variant=minbase --arch="$arch" --cache-dir="$IMG_DIR/debs/$arch/debootstrap" \
      "$SUITE" "$dir" "$mirror" >"$d/debootstrap.log" 2>&1 ||
      { tail -n 40 "$d/debootstrap.log" >&2; die "debootstrap $SUITE $arch failed (mirror $mirror)"; }
  else
    debootstrap --variant=minbase --arch="$arch" --foreign --cache-dir="$IMG_DIR/debs/$arch/debootstrap" \
      "$SUITE" "$dir" "$mirror" >"$d/debootstrap.log" 2>&1 ||
      { tail -n 40 "$d/debootstrap.log" >&2; die "debootstrap --foreign $SUITE $arch failed (mirror $mirror)"; }
    log "  $arch first stage done in $(since "$t"); second stage under qemu (binfmt)"
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C \
      chroot "$dir" /debootstrap/debootstrap --second-stage >>"$d/debootstrap.log" 2>&1 ||
      { tail -n 40 "$d/debootstrap.log" >&2; tail -n 40 "$dir/debootstrap/debootstrap.log" >&2 || true
        die "debootstrap second stage ($arch) failed"; }
  fi
  log "  debootstrap $SUITE $arch done in $(since "$t") (mirror $mirror)"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin
  : >"$dir/etc/resolv.conf"
  echo localhost >"$dir/etc/hostname"
  tar --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -C "$dir" -cf "$out.part" .
  mv "$out.part" "$out"
  rmtmp "$d"
}

debian_rootfs_recipe() { recipe build_debian_rootfs -- "arch=$1" "suite=$SUITE" "debootstrap=$(pkg_version debootstrap)"; }

# ensure_debian_tarball ARCH → sets DEB_TAR
DEB_TAR=""
ensure_debian_tarball() {
  local arch=$1 r t
  r="$(debian_rootfs_recipe "$arch")"
  DEB_TAR="$IMG_DIR/debian-$SUITE-$arch-${r:0:16}.tar"
  [ -s "$DEB_TAR" ] && return 0
  t="$(now)"
  if [ "$(image_recipe_of "memoh-test/debian:$arch")" = "$(debian_image_recipe "$arch")" ]; then
    extract_single_layer "memoh-test/debian:$arch" "$DEB_TAR"
    log "  rootfs tarball recovered from memoh-test/debian:$arch in $(since "$t")"
  else
    build_debian_rootfs "$arch" "$DEB_TAR"
  fi
  find "$IMG_DIR" -maxdepth 1 -name "debian-$SUITE-$arch-*.tar" ! -path "$DEB_TAR" -delete
}

# ------------------------------------------------------------------------------------------------ images
debian_image_recipe() { recipe img_debian ensure_arch fix_arch -- "rootfs=$(debian_rootfs_recipe "$1")"; }

img_debian() { # ARCH
  local arch=$1 tag="memoh-test/debian:$1" r
  r="$(debian_image_recipe "$arch")"
  if [ "$(image_recipe_of "$tag")" = "$r" ]; then log "$tag: up to date"; return 0; fi
  ensure_debian_tarball "$arch"
  import_tar "$tag" "$r" 'CMD ["/bin/bash"]' <"$DEB_TAR"
  ensure_arch "$tag" "$arch"
  log "$tag: built"
}

# The product's embedded default image. Tagged only when no such image exists locally, or when the one there
# is an older build of ours (it carries our recipe label); a real debian:bookworm-slim is never touched.
alias_default_image() {
  local want have
  want="$(image_id memoh-test/debian:amd64)"; [ -n "$want" ] || return 0
  have="$(image_id debian:bookworm-slim)"
  if [ -z "$have" ]; then
    docker tag memoh-test/debian:amd64 debian:bookworm-slim; log "debian:bookworm-slim: tagged (= memoh-test/debian:amd64)"
  elif [ "$have" = "$want" ]; then
    log "debian:bookworm-slim: already = memoh-test/debian:amd64"
  elif [ -n "$(image_recipe_of debian:bookworm-slim)" ]; then
    docker tag memoh-test/debian:amd64 debian:bookworm-slim; drop_if_dangling "$have"
    log "debian:bookworm-slim: re-tagged (was an older memoh-test build)"
  else
    log "debian:bookworm-slim: a real image exists locally; left alone"
  fi
}

# build_musl_rootfs DIR BUSYBOX LOADER_SRC LOADER_NAME HELLO
build_musl_rootfs() {
  local dir=$1 busybox=$2 loader=$3 name=$4 hello=$5
  mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib,etc,tmp,root}
  install -m 0755 "$busybox" "$dir/bin/busybox"
  # runs the image's own busybox (under qemu for a foreign arch); it links every applet to /bin/busybox
  env -i PATH=/bin "$(command -v chroot)" "$dir" /bin/busybox --install -s
  [ -L "$dir/bin/sh" ] || die "busybox --install did not create /bin/sh"
  cp --dereference "$loader" "$dir/lib/$name"; chmod 0755 "$dir/lib/$name"
  install -m 0755 "$hello" "$dir/usr/local/bin/musl-hello"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' >"$dir/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$dir/etc/group"
  chmod 1777 "$dir/tmp"; chmod 0700 "$dir/root"
  [ -z "$(find "$dir" -name 'ld-linux*' -print -quit)" ] || die "a glibc loader slipped into the musl rootfs"
  [ -f "$dir/lib/$name" ] && [ ! -L "$dir/lib/$name" ] || die "/lib/$name is not a regular file"
}

# build_hello_cross SYSROOT OUT: musl-linked aarch64 hello with Debian's cross gcc and musl-dev:arm64's specs
build_hello_cross() {
  local s=$1 out=$2 cc=aarch64-linux-gnu-gcc
  command -v "$cc" >/dev/null || die "$cc missing (gcc-aarch64-linux-gnu: run .ci/install-deps.sh)"
  # musl-dev's specs name /usr/... paths; point them into the unpacked sysroot (the loader path stays /lib/...)
  sed -e "s#/usr/#$s/usr/#g" "$s/usr/lib/aarch64-linux-musl/musl-gcc.specs" >"$s/musl-gcc.specs"
  # the musl package ships libc.so under /lib (merged /usr on a real system); the linker looks under /usr/lib
  [ -e "$s/usr/lib/aarch64-linux-musl/libc.so" ] || cp "$s/lib/aarch64-linux-musl/libc.so" "$s/usr/lib/aarch64-linux-musl/"
  "$cc" -O2 -s -specs "$s/musl-gcc.specs" -o "$out" "$HERE/src/musl-hello.c"
}

musl_image_recipe() {
  local arch=$1
  if [ "$arch" = amd64 ]; then
    recipe img_musl build_musl_rootfs -- "arch=$arch" "musl=$(pkg_version musl)" "musl-tools=$(pkg_version musl-tools)" \
      "busybox-static=$(pkg_version busybox-static)" "hello=$(file_sha "$HERE/src/musl-hello.c")"
  else
    recipe img_musl build_musl_rootfs build_hello_cross fetch_deb ensure_arch fix_arch -- "arch=$arch" \
      "musl=$(candidate "musl:$arch")" "musl-dev=$(candidate "musl-dev:$arch")" \
      "busybox-static=$(candidate "busybox-static:$arch")" "gcc=$(pkg_version "gcc-aarch64-linux-gnu")" \
      "hello=$(file_sha "$HERE/src/musl-hello.c")"
  fi
}

img_musl() { # ARCH (amd64 | arm64)
  local arch=$1 tag="memoh-test/musl:$1" r d busybox loader triple deb
  [ "$arch" = "$HOST_ARCH" ] || load_candidates "musl:$arch" "musl-dev:$arch" "busybox-static:$arch"
  r="$(musl_image_recipe "$arch")"
  if [ "$(image_recipe_of "$tag")" = "$r" ]; then log "$tag: up to date"; return 0; fi
  need_root "$tag"
  mktmp "musl-$arch"; d=$MKTMP
  case "$arch" in
    amd64)
      triple=x86_64
      busybox=/bin/busybox
      loader="$(readlink -f /lib/ld-musl-x86_64.so.1)"
      musl-gcc -O2 -s -o "$d/musl-hello" "$HERE/src/musl-hello.c"
      ;;
    arm64)
      triple=aarch64
      mkdir "$d/pkgs"
      for deb in busybox-static musl musl-dev; do
        deb="$(fetch_deb "$deb" "$arch")"
        dpkg-deb -x "$deb" "$d/pkgs"
      done
      busybox="$d/pkgs/bin/busybox"
      loader="$d/pkgs/lib/aarch64-linux-musl/libc.so"
      build_hello_cross "$d/pkgs" "$d/musl-hello"
      ;;
    *) die "no musl recipe for $arch" ;;
  esac
  [ -f "$loader" ] || die "musl loader for $arch not found ($loader)"
  file -b "$d/musl-hello" | grep -q "interpreter /lib/ld-musl-$triple.so.1" ||
    die "musl-hello ($arch) is not linked against /lib/ld-musl-$triple.so.1: $(file -b "$d/musl-hello")"
  build_musl_rootfs "$d/rootfs" "$busybox" "$loader" "ld-musl-$triple.so.1" "$d/musl-hello"
  tar_dir "$d/rootfs" | import_tar "$tag" "$r" 'CMD ["/bin/sh"]'
  rmtmp "$d"
  ensure_arch "$tag" "$arch"
  log "$tag: built"
}

img_noshell() {
  local tag=memoh-test/noshell:amd64 r d
  r="$(recipe img_noshell -- "busybox-static=$(pkg_version busybox-static)")"
  if [ "$(image_recipe_of "$tag")" = "$r" ]; then log "$tag: up to date"; return 0; fi
  need_root "$tag"
  mktmp noshell; d="$MKTMP/rootfs"
  mkdir -p "$d"/{usr/local/bin,etc,tmp,root}
  install -m 0755 /bin/busybox "$d/usr/local/bin/busybox"
  printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' >"$d/etc/passwd"
  printf '%s\n' 'root:x:0:' >"$d/etc/group"
  chmod 1777 "$d/tmp"; chmod 0700 "$d/root"
  [ ! -e "$d/bin/sh" ] || die "noshell rootfs has /bin/sh"
  tar_dir "$d" | import_tar "$tag" "$r" 'CMD ["/usr/local/bin/busybox", "true"]'
  rmtmp "$MKTMP"
  log "$tag: built"
}

# unpack_debian_amd64 NAME → MKTMP/rootfs holds a copy of the debian amd64 rootfs
unpack_debian_amd64() {
  ensure_debian_tarball amd64
  mktmp "$1"; mkdir "$MKTMP/rootfs"
  tar --numeric-owner -xpf "$DEB_TAR" -C "$MKTMP/rootfs"
}

img_entrypoint_user() {
  local tag=memoh-test/entrypoint-user:amd64 r d
  r="$(recipe img_entrypoint_user unpack_debian_amd64 -- "rootfs=$(debian_rootfs_recipe amd64)")"
  if [ "$(image_recipe_of "$tag")" = "$r" ]; then log "$tag: up to date"; return 0; fi
  need_root "$tag"
  unpack_debian_amd64 entrypoint-user; d="$MKTMP/rootfs"
  echo 'memoh:x:1000:1000:memoh test user:/home/memoh:/bin/bash' >>"$d/etc/passwd"
  echo 'memoh:x:1000:' >>"$d/etc/group"
  echo 'memoh:*:19000:0:99999:7:::' >>"$d/etc/shadow"
  mkdir -p "$d/home/memoh"; chown 1000:1000 "$d/home/memoh"; chmod 0755 "$d/home/memoh"
  tar_dir "$d" | import_tar "$tag" "$r" 'ENTRYPOINT ["/usr/bin/false"]' 'USER 1000:1000' 'WORKDIR /home/memoh'
  rmtmp "$MKTMP"
  log "$tag: built"
}

img_legacy_mcp() {
  local tag=memoh-test/legacy-mcp:amd64 r d
  r="$(recipe img_legacy_mcp unpack_debian_amd64 -- "rootfs=$(debian_rootfs_recipe amd64)")"
  if [ "$(image_recipe_of "$tag")" = "$r" ]; then log "$tag: up to date"; return 0; fi
  need_root "$tag"
  unpack_debian_amd64 legacy-mcp; d="$MKTMP/rootfs"
  # What a pre-bridge image baked in: its own /opt/memoh (shadowed by the runtime mount now), /run/memoh, a /data volume.
  mkdir -p "$d/opt/memoh/templates" "$d/run/memoh" "$d/data"
  cat >"$d/opt/memoh/mcp-server" <<'SH'
#!/bin/sh
# Stand-in for a legacy (pre-bridge) MCP server that listened on TCP :9090. It only idles.
echo "legacy mcp-server (memoh-test stand-in) would listen on :9090"
exec sleep infinity
SH
  chmod 0755 "$d/opt/memoh/mcp-server"
  echo 'legacy-mcp memoh-test image (pre-bridge layout)' >"$d/opt/memoh/VERSION"
  echo '# baked into the legacy image' >"$d/opt/memoh/templates/IDENTITY.md"
  echo 'legacy socket dir baked into the image' >"$d/run/memoh/README"
  tar_dir "$d" | import_tar "$tag" "$r" 'VOLUME ["/data"]' 'EXPOSE 9090' 'WORKDIR /data' 'CMD ["/opt/memoh/mcp-server"]'
  rmtmp "$MKTMP"
  log "$tag: built"
}

# ------------------------------------------------------------------------------------------------ main
ALL=(debian-amd64 debian-arm64 musl-amd64 musl-arm64 noshell-amd64 entrypoint-user-amd64 legacy-mcp-amd64)
tag_of() {
  case "$1" in
    debian-amd64) echo memoh-test/debian:amd64 ;; debian-arm64) echo memoh-test/debian:arm64 ;;
    musl-amd64) echo memoh-test/musl:amd64 ;; musl-arm64) echo memoh-test/musl:arm64 ;;
    noshell-amd64) echo memoh-test/noshell:amd64 ;; entrypoint-user-amd64) echo memoh-test/entrypoint-user:amd64 ;;
    legacy-mcp-amd64) echo memoh-test/legacy-mcp:amd64 ;; *) return 1 ;;
  esac
}
build_one() {
  case "$1" in
    debian-amd64) img_debian amd64; alias_default_image ;; debian-arm64) img_debian arm64 ;;
    musl-amd64) img_musl amd64 ;; musl-arm64) img_musl arm64 ;;
    noshell-amd64) img_noshell ;; entrypoint-user-amd64) img_entrypoint_user ;; legacy-mcp-amd64) img_legacy_mcp ;;
  esac
}

main() {
  local want=("$@") name t0 t
  [ ${#want[@]} -gt 0 ] || want=("${ALL[@]}")
  for name in "${want[@]}"; do tag_of "$name" >/dev/null || die "unknown image '$name' (known: ${ALL[*]})"; done
  [ "$HOST_ARCH" = amd64 ] || die "the test world is built on amd64 hosts only (host: $HOST_ARCH)"

  "$HERE/engine.sh"
  mkdir -p "$IMG_DIR"
  # One builder at a time (tests and CI steps may call this concurrently).
  exec 9>"$IMG_DIR/.lock"
  flock -w 1800 9 || die "another images.sh held $IMG_DIR/.lock for 30 min"

  t0="$(now)"
  for name in "${want[@]}"; do
    t="$(now)"
    build_one "$name"
    log "  $(tag_of "$name"): $(since "$t")"
  done
  log "summary ($(since "$t0") total):"
  for name in "${want[@]}"; do
    t="$(tag_of "$name")"
    printf '  %-36s %s\n' "$t" "$(docker image inspect -f '{{.Architecture}}  {{printf "%.19s" .Id}}  {{.Size}} bytes' "$t")"
  done
}

main "$@"
