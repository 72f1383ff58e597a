#!/bin/busybox sh
# /init of the QEMU boot-test initramfs (tests/src/qemu.rs builds it).
#
# Mounts what Android's init would have mounted, starts the loader the way
# the project's init/netbpfload.35rc declares the `bpfloader` service (binary
# path and arguments, user, groups, capabilities, memlock rlimit all parsed
# from that file), lets the chain netbpfload -> bpfloader -> netbpfload done
# run, then dumps the result on the serial console as `KEY value` lines the
# host harness parses, prints the sentinel and powers off. The bpf(2) calls
# of the chain are traced (syscall tracepoints) so the harness can see which
# threads verified programs, and /sbin/pininfo prints the kernel's view of
# every pin.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin

mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf

RC=/apex/com.android.tethering/etc/init/netbpfload.35rc
echo "INIT kernel $(uname -r) $(uname -m) $(grep -c '^processor' /proc/cpuinfo)"

# `service <name> <path> [args...]`
set -- $(awk '$1 == "service" { $1 = ""; $2 = ""; print; exit }' "$RC")
[ $# -ge 1 ] || { echo "INIT no service line in $RC"; poweroff -f; }
opt() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "$RC"; }
user=$(opt user)
groups=$(opt group)
caps=$(opt capabilities)
rlimit=$(opt rlimit)

# Android IDs (system/core/libcutils/include/private/android_filesystem_config.h).
aid() {
  case "$1" in
    root) echo 0 ;; system) echo 1000 ;; graphics) echo 1003 ;;
    network_stack) echo 1073 ;; net_raw) echo 3004 ;; net_admin) echo 3005 ;;
    net_bw_stats) echo 3006 ;; net_bw_acct) echo 3007 ;;
    *) echo "INIT unknown AID $1" >&2; echo 65534 ;;
  esac
}
uid=$(aid "$user")
gid=0
gids=""
first=1
for g in $groups; do
  if [ $first = 1 ]; then gid=$(aid "$g"); first=0; fi
  gids="$gids${gids:+,}$(aid "$g")"
done
capset=""
for c in $caps; do
  capset="$capset,+$(echo "$c" | tr 'A-Z' 'a-z')"
done
set -- "$@" $(cat /etc/qemu-test/extra-args 2>/dev/null)

# init applies the .rc's `rlimit memlock` before starting the service: 5.10
# charges map memory to RLIMIT_MEMLOCK (64 KiB by default), 5.11+ to memcg.
case "$rlimit" in
  memlock\ *)
    kb=$(( $(echo "$rlimit" | awk '{print $2}') / 1024 ))
    ulimit -H -l "$kb"; ulimit -S -l "$kb" ;;
esac

# Trace every bpf(2) call with its thread, process and CPU, so the harness
# can tell which threads verified programs. Nothing the loader reads depends
# on tracefs being mounted.
T=/sys/kernel/tracing
if mount -t tracefs tracefs $T 2>/dev/null && [ -d $T/events/syscalls/sys_enter_bpf ]; then
  echo 1 > $T/options/record-tgid
  echo 1 > $T/events/syscalls/sys_enter_bpf/enable
  echo 1 > $T/events/syscalls/sys_exit_bpf/enable
  echo "INIT trace on"
else
  echo "INIT trace unavailable"
fi

echo "INIT memlock $(ulimit -l)"
echo "INIT service $* uid=$uid gid=$gid groups=$gids caps=${capset#,} memlock=$(ulimit -l)"
# util-linux setpriv (busybox's applet lacks --reuid/--bounding-set). The
# loader's stderr is not a terminal here, so it logs to /dev/kmsg only.
/sbin/setpriv --reuid="$uid" --regid="$gid" --groups="$gids" \
  --inh-caps=-all"$capset" --bounding-set=-all"$capset" -- "$@" 2>/tmp/loader.stderr </dev/null
rc=$?
echo "EXIT $rc"
[ -f $T/tracing_on ] && echo 0 > $T/tracing_on

find /sys/fs/bpf | while read -r p; do
  echo "PIN $(stat -c '%a %u %g %F' "$p") $p"
done
for s in kernel/unprivileged_bpf_disabled net/core/bpf_jit_enable net/core/bpf_jit_kallsyms; do
  echo "SYSCTL $s $(cat /proc/sys/$s)"
done
if [ -f /run/netbpfload/properties/bpf.progs_loaded ]; then
  echo "PROP bpf.progs_loaded $(cat /run/netbpfload/properties/bpf.progs_loaded)"
else
  echo "PROP bpf.progs_loaded unset"
fi
dmesg | grep ' netbpfload: \| bpfloader: ' | sed 's/^/LOG /'
[ -f $T/trace ] && grep ' sys_bpf' $T/trace | sed 's/^/TRACE /'
/sbin/pininfo /sys/fs/bpf
sed 's/^/STDERR /' /tmp/loader.stderr
echo "INIT-DONE"
poweroff -f
