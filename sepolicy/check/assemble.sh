#!/usr/bin/env bash
# Writes a complete policy.conf on stdout: the stand-in platform policy
# (base/), our add-on (sepolicy/private/*.te), then any extra modules given.
#
#   assemble.sh [--te FILE]... [--genfs FILE]... [--no-ours]
#
# --te FILE     an extra TE module (m4 macros of base/te_macros.m4 apply),
#               e.g. the QEMU test harness's or a check.sh self-test's;
# --genfs FILE  extra genfscon lines;
# --no-ours     leave sepolicy/private/ out (self-tests of other policies).
# Used by check.sh and by the enforcing QEMU boot (tests/src/selinux.rs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
base=$here/base

te=()
genfs=()
ours=1
while (($#)); do
  case "$1" in
    --te) te+=("$2"); shift 2 ;;
    --genfs) genfs+=("$2"); shift 2 ;;
    --no-ours) ours=0; shift ;;
    *) echo "assemble.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if ((ours)); then
  te=("$repo"/sepolicy/private/*.te "${te[@]}")
fi

cat "$base/classes" "$base/mls"
m4 --fatal-warnings "$base/te_macros.m4" "$base/aosp_types.te" "$base/aosp_domain.te" \
  "$base/aosp_bpfloader.te" "${te[@]}"
cat "$base/rbac_users" "$base/contexts"
grep -hv '^#' "$base/genfs_contexts" "${genfs[@]}"
