// SPDX-License-Identifier: GPL-2.0
/*
 * A libbpf-style object: a BTF-defined map in .maps, a socket filter and a
 * tc classifier reading __sk_buff fields through CO-RE relocations, and a
 * static subprogram in .text both call (the loader links it in).
 *
 * Loaded by netbpfload (Linux board rules) as
 *   map_coreSkb_packets, prog_coreSkb_socket_len, prog_coreSkb_tc_mark.
 * Run with BPF_PROG_TEST_RUN: socket_len returns the packet's length,
 * tc_mark returns 1 for mark 7 and 0 otherwise; each run adds one to
 * packets[0].
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

static __attribute__((noinline)) __u64 count_packet(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&packets, &slot);

	if (!v)
		return 0;
	return __sync_fetch_and_add(v, 1) + 1;
}

SEC("socket")
int socket_len(struct __sk_buff *skb)
{
	count_packet(0);
	return skb->len;
}

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	count_packet(0);
	return skb->mark == 7 ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
