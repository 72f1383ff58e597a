#!/usr/bin/env bash
# Compiles sepolicy/ with checkpolicy against a minimal stand-in for the
# platform policy (base.conf, tail.conf, macros.m4), so that every type,
# class, permission and macro bpfloader.te uses exists, its neverallows hold,
# the genfs_contexts lines are valid, and every file_contexts entry names a
# type the policy defines. Then checks that the check is not vacuous: a rule
# breaking a neverallow and a context with an unknown type must be refused.
# Needs checkpolicy, m4 and setfiles (policycoreutils): scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in checkpolicy m4 setfiles; do
  command -v "$tool" >/dev/null || {
    echo "sepolicy check: $tool not installed (scripts/install-deps.sh)" >&2
    exit 1
  }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# $1: extra TE rules appended after bpfloader.te.
policy_conf() {
  cat sepolicy/check/base.conf
  m4 sepolicy/check/macros.m4 sepolicy/bpfloader.te
  printf '%s\n' "$1"
  cat sepolicy/check/tail.conf
  grep -v '^#' sepolicy/genfs_contexts
}

policy_conf "" >"$work/policy.conf"
checkpolicy -M -c 33 -o "$work/policy.bin" "$work/policy.conf" >"$work/log" 2>&1 || {
  cat "$work/log" >&2
  echo "sepolicy check: bpfloader.te does not compile" >&2
  exit 1
}
setfiles -c "$work/policy.bin" sepolicy/file_contexts

# Self-tests: each must be refused.
policy_conf "allow init fs_bpf_net_shared:file create;" >"$work/bad.conf"
if checkpolicy -M -c 33 -o "$work/bad.bin" "$work/bad.conf" >/dev/null 2>&1; then
  echo "sepolicy check: a rule violating the neverallow was accepted" >&2
  exit 1
fi
printf '/system/bin/bpfloader u:object_r:no_such_type:s0\n' >"$work/fc.bad"
if setfiles -c "$work/policy.bin" "$work/fc.bad" >/dev/null 2>&1; then
  echo "sepolicy check: a context with an unknown type was accepted" >&2
  exit 1
fi
echo "sepolicy check: bpfloader.te, genfs_contexts and file_contexts compile; neverallows hold"
