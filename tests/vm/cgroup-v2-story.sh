# The story the cgroup v2 test VM runs as root and as uid 1000, sourced by
# its init (tests/vm/cgroup-v2-init.sh). Prints `RESULT <who> <key> <value>`.
story() { # story WHO ROOT RUNROOT
    who=$1
    sk() { /skiff --root "$ROOT" --runroot "$RUNROOT" "$@"; }
    ROOT=$2 RUNROOT=$3
    res() { echo "RESULT $who $1 $2"; }
    sk load -i /busybox.tar >/dev/null 2>&1
    sk run -d --name l -m 32m --pids-limit 10 --cpus 0.5 busybox sleep 300 >/dev/null 2>/tmp/$who-err
    res run-d "$?:$(tr '\n' ' ' </tmp/$who-err)"
    path=$(sk inspect --format '{{.State.CgroupPath}}' l)
    res path "$path"
    res memory.max "$(cat /sys/fs/cgroup$path/memory.max)"
    res pids.max "$(cat /sys/fs/cgroup$path/pids.max)"
    res cpu.max "$(cat /sys/fs/cgroup$path/cpu.max | tr ' ' _)"
    # Inside, its own cgroup namespace: its cgroup is the root, mounted
    # read-only at /sys/fs/cgroup with its limits.
    res pid1-cgroup "$(sk exec l cat /proc/1/cgroup)"
    res exec-cgroup "$(sk exec l cat /proc/self/cgroup)"
    res inside-memory.max "$(sk exec l cat /sys/fs/cgroup/memory.max)"
    res inside-read-only "$(sk exec l sh -c 'echo 1 >/sys/fs/cgroup/pids.max' 2>&1 | grep -c 'Read-only')"
    # An exec'd process is in the container's cgroup, seen from the host.
    n=$((700 + ${#who}))
    sk exec -d l sleep $n
    pid=$(ps -o pid,args | awk -v n=$n '$2 == "sleep" && $3 == n { print $1 }')
    res exec-in-cgroup "$(grep -c "^$pid\$" /sys/fs/cgroup$path/cgroup.procs)"
    sk pause l >/dev/null
    res paused-status "$(sk inspect --format '{{.State.Status}}' l)"
    res frozen "$(grep frozen /sys/fs/cgroup$path/cgroup.events | tr ' ' _)"
    sk unpause l >/dev/null
    res unpaused-status "$(sk inspect --format '{{.State.Status}}' l)"
    res thawed "$(grep frozen /sys/fs/cgroup$path/cgroup.events | tr ' ' _)"
    sk stats --no-stream l >/tmp/$who-stats 2>/tmp/$who-stats-err
    res stats-limit "$(grep -c '/ 33.6 MB' /tmp/$who-stats)"
    res stats-note "$(grep -c '/proc' /tmp/$who-stats-err)"
    sk rm -f l >/dev/null
    if [ -e "/sys/fs/cgroup$path" ]; then res cgroup-after-rm present; else res cgroup-after-rm gone; fi
    # Device policy: root may mknod but not open kmsg (the cgroup's BPF
    # program); the delegated user may not even mknod (user namespace).
    sk run --rm busybox sh -c 'if mknod /tmp/k c 1 11 2>/dev/null; then echo hi 2>/dev/null >/tmp/k && echo open || echo refused; else echo no-mknod; fi; echo x >/dev/null && echo null-ok' >/tmp/$who-dev 2>/dev/null
    res kmsg "$(sed -n 1p /tmp/$who-dev)"
    res dev-null "$(sed -n 2p /tmp/$who-dev)"
    sk run --name o -m 16m busybox dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1
    res oom-exit "$?"
    res oom-killed "$(sk inspect --format '{{.State.OOMKilled}}' o)"
}

refusals() { # refusals WHO ROOT RUNROOT: a user without a delegated cgroup
    who=$1 ROOT=$2 RUNROOT=$3
    sk() { /skiff --root "$ROOT" --runroot "$RUNROOT" "$@"; }
    res() { echo "RESULT $who $1 $2"; }
    sk load -i /busybox.tar >/dev/null 2>&1
    sk run --rm -m 32m busybox true 2>/tmp/$who-err
    res limits-exit "$?"
    res limits-error "$(grep -c 'not delegated' /tmp/$who-err)"
    sk run -d --name p busybox sleep 300 >/dev/null 2>&1
    sk pause p 2>/tmp/$who-err
    res pause-exit "$?"
    res pause-error "$(grep -c 'cgroup freezer' /tmp/$who-err)"
    sk rm -f p >/dev/null 2>&1
}
