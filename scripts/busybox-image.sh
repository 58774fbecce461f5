#!/usr/bin/env bash
# Builds a busybox image offline from Debian's busybox-static.
#
#   scripts/busybox-image.sh OUT.tar [--format docker-archive|oci-archive|rootfs] [--name REF]
#
# docker-archive  `docker save` layout: manifest.json, <config hex>.json,
#                 <diff-id hex>/layer.tar (uncompressed). RepoTags: [REF].
# oci-archive     OCI image layout: oci-layout, index.json (ref.name = the
#                 fully qualified REF), blobs/sha256/* with a gzip layer.
# rootfs          the root filesystem as a plain tarball (for `skiff import`).
#
# REF defaults to busybox:latest. Output is deterministic: the same busybox
# binary gives byte-identical archives. Must run as root: the rootfs has
# files owned by uid 1000 (/home/tester) to test id mapping.
# BUSYBOX=/path/to/static/busybox overrides /bin/busybox.
set -euo pipefail
umask 022
export LC_ALL=C

usage() { echo "usage: $0 OUT.tar [--format docker-archive|oci-archive|rootfs] [--name REF]" >&2; exit 2; }
die() { echo "busybox-image.sh: $*" >&2; exit 1; }

out= format=docker-archive name=busybox:latest
while [ $# -gt 0 ]; do
    case $1 in
        --format) [ $# -ge 2 ] || usage; format=$2; shift 2 ;;
        --format=*) format=${1#*=}; shift ;;
        --name) [ $# -ge 2 ] || usage; name=$2; shift 2 ;;
        --name=*) name=${1#*=}; shift ;;
        -h|--help) usage ;;
        -*) usage ;;
        *) [ -z "$out" ] || usage; out=$1; shift ;;
    esac
done
[ -n "$out" ] || usage
case $format in docker-archive|oci-archive|rootfs) ;; *) die "unknown format $format" ;; esac

busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || die "$busybox is missing: install Debian's busybox-static (apt-get install busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked: the image needs busybox-static (apt-get install busybox-static)"
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (the rootfs contains files owned by uid 1000)"

case $(dpkg --print-architecture) in
    amd64) arch=amd64 ;;
    arm64) arch=arm64 ;;
    *) arch=$(dpkg --print-architecture) ;;
esac

# Fully qualified form of REF, as podman writes it into an OCI index:
# busybox → docker.io/library/busybox:latest.
qualify() {
    local ref=$1 first=${1%%/*}
    if [[ $ref != */* ]]; then
        ref=docker.io/library/$ref
    elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then
        ref=docker.io/$ref
    fi
    local last=${ref##*/}
    [[ $last == *:* || $last == *@* ]] || ref=$ref:latest
    printf '%s' "$ref"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

# --- rootfs ---
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,root,home/tester,tmp,var/tmp}
cp "$busybox" "$rootfs/bin/busybox"
chmod 0755 "$rootfs/bin/busybox"
"$busybox" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$rootfs/$(dirname "$applet")"
    ln -sf /bin/busybox "$rootfs/$applet"
done
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
tester:x:1000:
nogroup:x:65534:
GROUP
cat >"$rootfs/etc/os-release" <<'OSREL'
NAME="skiff test busybox"
ID=skiff-busybox
OSREL
echo "owned by tester" >"$rootfs/home/tester/owned"
chown 1000:1000 "$rootfs/home/tester" "$rootfs/home/tester/owned"
chmod 0700 "$rootfs/root"
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"

# Entries without a ./ prefix, sorted, with fixed times: reproducible.
tar_reproducible() { # tar_reproducible OUT DIR  — owners kept numerically
    local dest=$1 dir=$2
    (cd "$dir" && tar --numeric-owner --sort=name --mtime=@0 --format=gnu -cf "$dest" -- $(ls -A))
}
tar_reproducible "$work/layer.tar" "$rootfs"

if [ "$format" = rootfs ]; then
    cp "$work/layer.tar" "$out"
    exit 0
fi

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

diff_id=$(sha "$work/layer.tar")
created=2024-01-01T00:00:00Z
printf '{"architecture":"%s","os":"linux","created":"%s","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"scripts/busybox-image.sh"}]}' \
    "$arch" "$created" "$diff_id" "$created" >"$work/config.json"
config_id=$(sha "$work/config.json")

archive=$work/archive
mkdir -p "$archive"
case $format in
docker-archive)
    mkdir -p "$archive/$diff_id"
    mv "$work/layer.tar" "$archive/$diff_id/layer.tar"
    mv "$work/config.json" "$archive/$config_id.json"
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' \
        "$config_id" "$name" "$diff_id" >"$archive/manifest.json"
    ;;
oci-archive)
    blobs=$archive/blobs/sha256
    mkdir -p "$blobs"
    gzip -n -9 -c "$work/layer.tar" >"$work/layer.tar.gz"
    layer_digest=$(sha "$work/layer.tar.gz")
    layer_size=$(size "$work/layer.tar.gz")
    mv "$work/layer.tar.gz" "$blobs/$layer_digest"
    config_size=$(size "$work/config.json")
    mv "$work/config.json" "$blobs/$config_id"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
        "$config_id" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
    manifest_digest=$(sha "$work/manifest.json")
    manifest_size=$(size "$work/manifest.json")
    mv "$work/manifest.json" "$blobs/$manifest_digest"
    full=$(qualify "$name")
    printf '{"imageLayoutVersion":"1.0.0"}' >"$archive/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
        "$manifest_digest" "$manifest_size" "$full" "$full" >"$archive/index.json"
    ;;
esac

tar_reproducible "$work/out.tar" "$archive"
mv "$work/out.tar" "$out" 2>/dev/null || cp "$work/out.tar" "$out"
