// SPDX-License-Identifier: GPL-2.0
/*
 * A libbpf-style object the verifier rejects: its program reads a map
 * value without checking the lookup (of a hash map, which may return
 * NULL) for NULL. The object must fail alone,
 * with nothing pinned: neither the program nor its map.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} rejected_map SEC(".maps");

SEC("socket")
int unchecked_lookup(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&rejected_map, &key);

	return *v + skb->len;
}

char LICENSE[] SEC("license") = "GPL";
