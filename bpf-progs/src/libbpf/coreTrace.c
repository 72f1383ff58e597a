// SPDX-License-Identifier: GPL-2.0
/*
 * A libbpf-style tracing object: a tracepoint program that reads the
 * current task's pid and tgid with BPF_CORE_READ (CO-RE relocations
 * against the kernel's struct task_struct), checks a field no kernel has
 * with bpf_core_field_exists (relocated to 0), and counts calls per tgid
 * in an LRU hash map.
 *
 * Loaded by netbpfload (Linux board rules) as
 *   map_coreTrace_calls, prog_coreTrace_count_getpid.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int count_getpid(void *ctx __attribute__((unused)))
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct___corpus *alt = (void *)task;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u64 one = 1, *n;

	if (BPF_CORE_READ(task, pid) == 0)
		return 0;
	if (bpf_core_field_exists(alt->no_such_field_in_any_kernel))
		return 0;
	n = bpf_map_lookup_elem(&calls, &tgid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&calls, &tgid, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
