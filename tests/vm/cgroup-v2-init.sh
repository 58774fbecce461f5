#!/bin/busybox sh
# PID 1 of the cgroup v2 test VM (tests/cgroup_v2_vm.rs). The host boots
# Debian's kernel with this initramfs: busybox, skiff and the busybox image.
# It mounts a pure cgroup v2 hierarchy, delegates a subtree to uid 1000 the
# way systemd's user@.service does (the directory and its cgroup.procs,
# cgroup.subtree_control and cgroup.threads chowned to the user), and runs
# the same story as root and as uid 1000; uid 1001, outside any delegated
# subtree, must get clear refusals. Every fact the host asserts is
# printed as one line `RESULT <who> <key> <value>`; the run ends with
# `RESULT done`.
/bin/busybox --install -s /bin
export PATH=/bin
if [ "$1" != stage2 ]; then
    # pivot_root (which every container start does) refuses to leave the
    # initramfs root: move everything to a tmpfs and make that the root.
    mkdir -p /newroot
    mount -t tmpfs -o size=90% tmpfs /newroot
    cp -a /bin /etc /lib /lib64 /init /story.sh /skiff /busybox.tar /newroot/
    mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp
    exec switch_root /newroot /init stage2
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# The VM has no overlay module loaded; the story is about cgroups (and
# has neither nft nor pasta: no networks).
export SKIFF_OVERLAY=copy SKIFF_DEFAULT_NETWORK=none

. /story.sh

# root: containers below /sys/fs/cgroup/skiff
mkdir -p /tmp/root
story root /tmp/root/store /tmp/root/run

# uid 1000: a delegated subtree, and the shell in a leaf of it
echo 'tester:x:1000:1000::/tmp/tester:/bin/sh' >>/etc/passwd
echo 'tester:x:1000:' >>/etc/group
mkdir -p /tmp/tester
chown 1000:1000 /tmp/tester
echo '+cpu +memory +pids' >/sys/fs/cgroup/cgroup.subtree_control
delegated=/sys/fs/cgroup/user.slice/user@1000.service
mkdir -p $delegated/session
echo '+cpu +memory +pids' >/sys/fs/cgroup/user.slice/cgroup.subtree_control
for d in $delegated $delegated/session; do
    chown 1000:1000 $d $d/cgroup.procs $d/cgroup.subtree_control $d/cgroup.threads
done
echo $$ >$delegated/session/cgroup.procs
su -s /bin/sh tester -c "PATH=/bin SKIFF_OVERLAY=copy SKIFF_DEFAULT_NETWORK=none; export PATH SKIFF_OVERLAY SKIFF_DEFAULT_NETWORK; . /story.sh; story rootless /tmp/tester/store /tmp/tester/run"
# uid 1001 in a cgroup that belongs to root: nothing delegated
echo 'other:x:1001:1001::/tmp/other:/bin/sh' >>/etc/passwd
echo 'other:x:1001:' >>/etc/group
mkdir -p /tmp/other /sys/fs/cgroup/other.slice
chown 1001:1001 /tmp/other
echo $$ >/sys/fs/cgroup/other.slice/cgroup.procs
su -s /bin/sh other -c "PATH=/bin SKIFF_OVERLAY=copy SKIFF_DEFAULT_NETWORK=none; export PATH SKIFF_OVERLAY SKIFF_DEFAULT_NETWORK; . /story.sh; refusals undelegated /tmp/other/store /tmp/other/run"
echo "RESULT done"
poweroff -f
