// SPDX-License-Identifier: GPL-2.0
/*
 * A libbpf-style networking object with two programs in sections libbpf
 * names (xdp, cgroup_skb/ingress), maps of three kinds (a per-CPU array,
 * a hash keyed by a struct, a ring buffer, which has no key/value types),
 * and CO-RE reads of xdp_md and __sk_buff fields.
 *
 * Loaded by netbpfload (Linux board rules) as
 *   map_coreNet_verdicts, map_coreNet_flows, map_coreNet_events,
 *   prog_coreNet_xdp_pass, prog_coreNet_skb_ingress.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>

struct flow {
	__u32 ifindex;
	__u16 proto;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct flow);
	__type(value, __u64);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	__u32 slot = XDP_PASS;
	__u64 *n = bpf_map_lookup_elem(&verdicts, &slot);
	struct flow f = { .ifindex = ctx->ingress_ifindex };
	__u64 one = 1;

	if (n)
		*n += 1;
	bpf_map_update_elem(&flows, &f, &one, BPF_ANY);
	return XDP_PASS;
}

SEC("cgroup_skb/ingress")
int skb_ingress(struct __sk_buff *skb)
{
	__u32 *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (e) {
		*e = skb->len;
		bpf_ringbuf_submit(e, 0);
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
