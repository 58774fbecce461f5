# Shared setup for scripts/test, scripts/demo and bench/run-bench.
# Source it; do not execute it. Every function is idempotent: it checks
# before it changes anything, and says what it changed.

SKIFF_TEST_USER=skifftest
# The subordinate id range given to the test user when it has none. 65536 ids
# cover every uid an image may use (the busybox test image has nobody=65534).
SKIFF_TEST_SUBID_START=200000
SKIFF_TEST_SUBID_COUNT=65536

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "$(basename "$0") must run as root (it installs packages, creates the user $SKIFF_TEST_USER and runs tests both as root and rootless)"
}

_apt_updated=
# ensure_packages PKG...: apt-get install the packages that are not installed.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing ${missing[*]}"
    if [ -z "$_apt_updated" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        _apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ensure_rust: cargo (Rust >= 1.85, for edition 2024) on PATH, and the C
# toolchain crates with C code (zstd-sys) and the linker need. Rust itself is
# not installed from here: Debian 12's rustc is too old and the machine may
# only reach Debian's mirrors, so a missing toolchain is a clear error.
ensure_rust() {
    ensure_packages build-essential
    if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null ||
        die "no cargo on PATH: install Rust >= 1.85 (e.g. https://rustup.rs) and run again"
    local version
    version=$(rustc --version | awk '{print $2}')
    [ "$(printf '%s\n1.85.0\n' "$version" | sort -V | head -n1)" = 1.85.0 ] ||
        die "rustc $version is too old: skiff needs Rust >= 1.85 (edition 2024)"
}

# ensure_test_user: the unprivileged user the rootless tests run as, with a
# home directory and subordinate uid/gid ranges for newuidmap/newgidmap.
ensure_test_user() {
    local user=$SKIFF_TEST_USER file
    if ! id "$user" >/dev/null 2>&1; then
        log "creating user $user"
        # No login shell: tests switch to it with setuid, never by logging in.
        useradd --create-home --shell /usr/sbin/nologin "$user"
    fi
    # useradd may already have allocated ranges (SUB_UID_* in login.defs);
    # only add ours when the user has none.
    for file in /etc/subuid /etc/subgid; do
        touch "$file"
        if ! grep -q "^$user:" "$file"; then
            log "adding $user:$SKIFF_TEST_SUBID_START:$SKIFF_TEST_SUBID_COUNT to $file"
            printf '%s:%s:%s\n' "$user" "$SKIFF_TEST_SUBID_START" "$SKIFF_TEST_SUBID_COUNT" >>"$file"
        fi
    done
}

# ensure_user_runtime_dir USER: /run/user/UID (what logind would create) so
# the user has an XDG_RUNTIME_DIR when switched to with setpriv. Prints it.
ensure_user_runtime_dir() {
    local user=$1 uid dir
    uid=$(id -u "$user")
    dir=/run/user/$uid
    if [ ! -d "$dir" ]; then
        mkdir -p "$dir"
        chown "$user:" "$dir"
        chmod 0700 "$dir"
    fi
    printf '%s\n' "$dir"
}

# ensure_userns_enabled: unprivileged user namespaces must be allowed, or
# every rootless run fails. Debian kernels gate them behind a sysctl.
ensure_userns_enabled() {
    local knob=/proc/sys/kernel/unprivileged_userns_clone
    if [ -f "$knob" ] && [ "$(cat "$knob")" = 0 ]; then
        log "enabling unprivileged user namespaces ($knob was 0)"
        echo 1 >"$knob"
    fi
    [ "$(cat /proc/sys/user/max_user_namespaces)" -gt 0 ] ||
        die "user namespaces are disabled (user.max_user_namespaces = 0): rootless tests cannot run"
}

# allow_fuse_for_everyone: the fuse-overlayfs tests run rootless, and
# fuse-overlayfs opens /dev/fuse as the calling user. Debian's udev rule makes
# it 0666; machines without udev (containers, minimal VMs) leave it 0600.
# /dev/net/tun is deliberately left alone: no test uses private (pasta)
# networking yet, and pasta opens it inside its own user namespace anyway.
allow_fuse_for_everyone() {
    [ -c /dev/fuse ] || die "/dev/fuse is missing: the fuse-overlayfs tests need it (modprobe fuse)"
    if [ "$(stat -c %a /dev/fuse)" != 666 ]; then
        log "chmod 0666 /dev/fuse (was $(stat -c %a /dev/fuse)) for the rootless fuse-overlayfs tests"
        chmod 0666 /dev/fuse
    fi
}

# as_test_user CMD...: runs CMD as the test user with the environment a login
# session would give it (HOME, USER, LOGNAME, XDG_RUNTIME_DIR, PATH).
as_test_user() {
    local user=$SKIFF_TEST_USER home runtime
    home=$(getent passwd "$user" | cut -d: -f6)
    runtime=$(ensure_user_runtime_dir "$user")
    (cd / && setpriv --reuid="$user" --regid="$user" --init-groups \
        env -i HOME="$home" USER="$user" LOGNAME="$user" XDG_RUNTIME_DIR="$runtime" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@")
}

# hold_private_netns: starts a process holding a new network namespace with
# loopback up and sets `netns_holder` (its PID, for the caller's cleanup to
# kill) and `in_netns` (a command prefix that runs in it). Root benchmark
# cases run there, so the host's links and nftables rules are never touched.
hold_private_netns() {
    unshare --net -- sh -c 'ip link set lo up && exec sleep infinity' &
    netns_holder=$!
    local _
    for _ in $(seq 100); do
        [ "$(readlink /proc/$netns_holder/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
        sleep 0.01
    done
    in_netns=(nsenter "--net=/proc/$netns_holder/ns/net" --)
}
