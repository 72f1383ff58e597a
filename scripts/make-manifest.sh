#!/usr/bin/env bash
# Writes a location's bpf.manifest (format 2, docs/manifest.md) and, with a
# key, its detached Ed25519 signature bpf.manifest.sig.
#
#   scripts/make-manifest.sh [--key KEY.pem] [--critical NAME]... DIR LOCATION VERSION
#   scripts/make-manifest.sh --pubkey KEY.pem
#
# DIR       the directory holding the objects (a staging copy of the location)
# LOCATION  the directory as it is named on the device, e.g.
#           /apex/com.android.tethering/etc/bpf/netd_shared
# VERSION   the set's version, a decimal integer; increase it with every
#           release so that devices can refuse older sets (--manifest-min-version)
# --critical NAME  marks the listed object NAME critical (repeatable)
# --key KEY.pem    an Ed25519 private key (openssl genpkey -algorithm ed25519)
#
# Every *.o regular file of DIR is listed; the output is byte for byte what
# netbpfload's Manifest::generate_bound writes. --pubkey prints the 64 hex
# digits of KEY.pem's public key, for NETBPFLOAD_MANIFEST_PUBKEY or a
# --manifest-key file. Needs sha256sum, and openssl 3 for signing.
set -euo pipefail
export LC_ALL=C

die() { echo "make-manifest.sh: $*" >&2; exit 64; }

pubkey_hex() {
  # The last 32 bytes of the SubjectPublicKeyInfo DER are the raw key.
  openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \n'
  echo
}

key=
critical=()
while (($#)); do
  case $1 in
    --pubkey) [[ $# -eq 2 ]] || die "usage: --pubkey KEY.pem"; pubkey_hex "$2"; exit 0 ;;
    --key) [[ $# -ge 2 ]] || die "--key needs a file"; key=$2; shift 2 ;;
    --critical) [[ $# -ge 2 ]] || die "--critical needs a name"; critical+=("$2"); shift 2 ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[[ $# -eq 3 ]] || die "usage: make-manifest.sh [--key KEY.pem] [--critical NAME]... DIR LOCATION VERSION"
dir=$1 location=$2 version=$3
[[ -d $dir ]] || die "$dir is not a directory"
[[ $location == /* ]] || die "LOCATION must be an absolute path (as on the device)"
[[ $location != *[[:cntrl:]]* ]] || die "LOCATION must not hold control characters"
[[ $version =~ ^[0-9]{1,20}$ ]] || die "VERSION must be a decimal integer"
# Above u64::MAX (20 digits starting with 2 or more) the loader would refuse it.
[[ ${#version} -lt 20 || $version < 18446744073709551616 ]] || die "VERSION does not fit in 64 bits"

names=()
while IFS= read -r -d '' f; do
  name=${f##*/}
  [[ $name != *[[:cntrl:]]* ]] || die "$f: file names with control characters cannot be listed"
  names+=("$name")
done < <(find "$dir" -mindepth 1 -maxdepth 1 -type f -name '*.o' -print0 | sort -z)
for c in "${critical[@]}"; do
  printf '%s\n' "${names[@]}" | grep -qxF -- "$c" || die "--critical $c: no such object in $dir"
done

out=$dir/bpf.manifest
tmp=$(mktemp "$dir/.bpf.manifest.XXXXXX")
trap 'rm -f "$tmp" "$tmp.sig"' EXIT
{
  printf 'netbpfload-manifest 2\nlocation %s\nversion %s\n' "$location" "$version"
  if ((${#critical[@]})); then
    printf 'critical %s\n' "${critical[@]}" | sort -u
  fi
  for name in "${names[@]}"; do
    sum=$(sha256sum <"$dir/$name")
    printf '%s  %s\n' "${sum%% *}" "$name"
  done
} >"$tmp"
chmod 0644 "$tmp"
if [[ -n $key ]]; then
  openssl pkeyutl -sign -rawin -inkey "$key" -in "$tmp" -out "$tmp.sig"
  [[ $(wc -c <"$tmp.sig") -eq 64 ]] || die "openssl wrote a signature that is not 64 bytes"
  chmod 0644 "$tmp.sig"
  mv -f "$tmp.sig" "$out.sig"
elif [[ -e $out.sig ]]; then
  # A signature of an earlier manifest would no longer verify.
  rm -f "$out.sig"
  echo "make-manifest.sh: removed the stale $out.sig (no --key given)" >&2
fi
mv -f "$tmp" "$out"
echo "make-manifest.sh: $out: ${#names[@]} objects, location $location, version $version${key:+, signed}" >&2
