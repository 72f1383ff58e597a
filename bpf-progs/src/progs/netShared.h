/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The map shared by clatd.o and dscpPolicy.o (both in the net_shared/
 * location). Both objects must declare it identically: the second one to
 * load finds net_shared/map__net_config_map already pinned and reuses it
 * only if type, sizes, max_entries and flags match.
 */
#ifndef NETBPFLOAD_CORPUS_NET_SHARED_H
#define NETBPFLOAD_CORPUS_NET_SHARED_H

#include "bpf_helpers.h"

/* Two config words shared by the net_shared objects; root:system 0660. */
DEFINE_BPF_SHARED_MAP_GRW(net_config_map, ARRAY, __u32, __u32, 2, AID_SYSTEM);

#endif
