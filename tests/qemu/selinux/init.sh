#!/bin/busybox sh
# /init of the enforcing-SELinux QEMU boot (tests/src/selinux.rs builds the
# image on top of the standard one of tests/src/qemu.rs; the kernel runs with
# security=selinux).
#
# Stage 1, PID 1 in the kernel SID: mount, load the policy compiled by the
# host (stand-in AOSP base + sepolicy/private + harness.te), label one file
# and execute it to enter the `harness` domain. Stage 2 (harness): label the
# initramfs (/etc/selinux/file_labels), mount bpffs (labels by genfscon),
# switch to enforcing, and start the loader from an `init`-domain shell the
# way init starts the `bpfloader` service of init/netbpfload.35rc: its user,
# groups, capabilities and memlock rlimit, stdio on /dev/null, and the
# domain from the binary's label. Then dump, as `KEY value` lines the host
# parses: EXIT, PIN, SYSCTL, PROP, LOG (as tests/qemu/init.sh), plus
# ENFORCE, LABEL <context> <path> of every bpffs entry, OBJGET (the pin
# probes) and AVC (every SELinux denial in the kernel log).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
H=/sbin/sehelper

if [ "$1" != stage2 ]; then
  mkdir -p /proc /sys /dev /run /tmp
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  mount -t selinuxfs selinuxfs /sys/fs/selinux || { echo "SELINUX no selinuxfs"; echo INIT-DONE; poweroff -f; }
  # Without auditd, AVC lines go to the kernel log, rate-limited by printk.
  echo 0 > /proc/sys/kernel/printk_ratelimit
  echo "INIT kernel $(uname -r)"
  if ! $H load /etc/selinux/policy; then
    echo "SELINUX policy load failed"
    echo INIT-DONE
    poweroff -f
  fi
  echo "SELINUX policy loaded"
  $H apply /etc/selinux/stage1_labels
  exec /sbin/harness/sh /init stage2
fi

$H con
mkdir -p /run/netbpfload/properties
$H apply /etc/selinux/file_labels || echo "SELINUX labelling failed"
mount -t bpf bpf /sys/fs/bpf
$H enforce 1
echo "ENFORCE $(cat /sys/fs/selinux/enforce)"

RC=/apex/com.android.tethering/etc/init/netbpfload.35rc
# `service <name> <path> [args...]`
set -- $(awk '$1 == "service" { $1 = ""; $2 = ""; print; exit }' "$RC")
[ $# -ge 1 ] || { echo "INIT no service line in $RC"; echo INIT-DONE; poweroff -f; }
opt() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "$RC"; }
user=$(opt user)
groups=$(opt group)
caps=$(opt capabilities)
rlimit=$(opt rlimit)
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
kb=0
case "$rlimit" in
  memlock\ *) kb=$(( $(echo "$rlimit" | awk '{print $2}') / 1024 )) ;;
esac

echo "INIT service $* uid=$uid gid=$gid groups=$gids caps=${capset#,} memlock=${kb}k"
# The service's shell runs in the `init` domain (init_exec). Like init, it
# gives the service /dev/null as stdio; the loader logs to /dev/kmsg.
/sbin/initsvc/sh -c '
  exec </dev/null >/dev/null 2>&1
  kb=$1 uid=$2 gid=$3 gids=$4 caps=$5
  shift 5
  if [ "$kb" -gt 0 ]; then ulimit -H -l "$kb"; ulimit -S -l "$kb"; fi
  exec /sbin/setpriv --reuid="$uid" --regid="$gid" --groups="$gids" \
    --inh-caps=-all"$caps" --bounding-set=-all"$caps" -- "$@"
' init-sh "$kb" "$uid" "$gid" "$gids" "$capset" "$@"
rc=$?
echo "EXIT $rc"

find /sys/fs/bpf | while read -r p; do
  echo "PIN $(stat -c '%a %u %g %F' "$p") $p"
done
$H walk /sys/fs/bpf
for s in kernel/unprivileged_bpf_disabled net/core/bpf_jit_enable net/core/bpf_jit_kallsyms; do
  echo "SYSCTL $s $(cat /proc/sys/$s)"
done
if [ -f /run/netbpfload/properties/bpf.progs_loaded ]; then
  echo "PROP bpf.progs_loaded $(cat /run/netbpfload/properties/bpf.progs_loaded)"
else
  echo "PROP bpf.progs_loaded unset"
fi

# Who may open a net_private pin: AOSP's network_stack, not an ordinary domain.
# Both run as root without capabilities, so only the pin's mode (owner root)
# and SELinux decide.
for pin in $(cat /etc/qemu-test/probe-pins 2>/dev/null); do
  for probe in /sbin/probe-netstack /sbin/probe-untrusted; do
    /sbin/setpriv --inh-caps=-all --bounding-set=-all -- $probe objget "$pin"
  done
done

# Let the last audit lines reach the log.
sleep 1
dmesg | grep 'avc: ' | sed 's/^/AVC /'
dmesg | grep ' netbpfload: \| bpfloader: ' | sed 's/^/LOG /'
echo "INIT-DONE"
poweroff -f
