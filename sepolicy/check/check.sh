#!/usr/bin/env bash
# Compiles our SELinux add-on (sepolicy/private/*.te) on top of a stand-in for
# AOSP's platform policy (sepolicy/check/base/: AOSP's attributes, types,
# genfscon labels and bpfloader grants, and the neverallows AOSP puts on the
# bpf filesystem, restated), then validates the APEX file_contexts against
# the result. A rule AOSP forbids (e.g. `lock` on a bpffs directory, `unlink`
# of a pin), a type AOSP already declares, or a repeated genfscon line fails.
#
# Then checks that the check is not vacuous; each of these must be refused:
#  - the policy as it was before issue 13 (fixtures/old-*): as written (it
#    re-declares AOSP's types) and reduced to its rules (its dir `lock` and
#    file `unlink` grants break AOSP's bpffs neverallows: 16 failures);
#  - a rule letting another domain create pins;
#  - a genfscon line AOSP already has;
#  - an APEX file context with an unknown type.
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
assemble=sepolicy/check/assemble.sh
fixtures=sepolicy/check/fixtures

# compile NAME [assemble.sh args]: NAME.conf -> NAME.bin, output in NAME.log.
compile() {
  local name=$1
  shift
  "$assemble" "$@" >"$work/$name.conf"
  checkpolicy -M -U deny -c 33 -o "$work/$name.bin" "$work/$name.conf" >"$work/$name.log" 2>&1
}

# refused NAME WHAT [assemble.sh args]: compiling must fail.
refused() {
  local name=$1 what=$2
  shift 2
  if compile "$name" "$@"; then
    echo "sepolicy check: self-test failed: $what was accepted" >&2
    exit 1
  fi
}

if ! compile ours; then
  cat "$work/ours.log" >&2
  echo "sepolicy check: sepolicy/private does not compile on the stand-in AOSP policy" >&2
  exit 1
fi
setfiles -c "$work/ours.bin" sepolicy/apex/com.android.tethering-file_contexts

# The policy before issue 13, as written: it declares AOSP's own types.
refused old "the old policy (fixtures/old-bpfloader.te)" \
  --no-ours --te "$fixtures/old-bpfloader.te" --genfs "$fixtures/old-genfs_contexts"
grep -q "Duplicate declaration of type" "$work/old.log" || {
  cat "$work/old.log" >&2
  echo "sepolicy check: self-test: the old policy failed for another reason" >&2
  exit 1
}
# ... and reduced to its rules: AOSP's bpffs neverallows refuse dir lock and
# file unlink on each of the 8 types it lists.
grep -v '^type \|^init_daemon_domain' "$fixtures/old-bpfloader.te" >"$work/old-rules.te"
refused old-rules "the old policy's rules" --no-ours --te "$work/old-rules.te"
for want in "16 neverallow failures" "dir { lock }" "file { unlink }"; do
  grep -qF "$want" "$work/old-rules.log" || {
    cat "$work/old-rules.log" >&2
    echo "sepolicy check: self-test: no \"$want\" in the old rules' failure" >&2
    exit 1
  }
done

printf 'allow init fs_bpf_net_shared:file create;\n' >"$work/bad.te"
refused bad "a rule letting init create pins" --te "$work/bad.te"
grep -q "neverallow failure" "$work/bad.log"

refused genfs "a repeated genfscon line" --genfs "$fixtures/old-genfs_contexts"
grep -q "duplicate entry for genfs entry" "$work/genfs.log"

printf '/bin/netbpfload u:object_r:no_such_type:s0\n' >"$work/fc.bad"
if setfiles -c "$work/ours.bin" "$work/fc.bad" >/dev/null 2>&1; then
  echo "sepolicy check: self-test failed: a context with an unknown type was accepted" >&2
  exit 1
fi
echo "sepolicy check: sepolicy/private and the APEX file_contexts compile on the stand-in AOSP policy; AOSP's bpffs neverallows hold; the old policy is refused"
