/* tls.h — the policy's part of a thread's TLS (thread.h): the samples a
 * thread has not handed to the current learning window yet. */
#ifndef HAK_POLICY_TLS_H
#define HAK_POLICY_TLS_H

#include "internal.h"

/* Size buckets of sampled allocations: bucket 0 holds sizes under 128 KiB,
 * bucket b in 1..ELO_BUCKETS-2 sizes in [64 KiB << b, 64 KiB << (b + 1)),
 * the last one everything larger (evo_bucket counts them). */
#define ELO_BUCKETS 16

struct policy_tls {
    uint32_t pending;
    uint32_t hist[ELO_BUCKETS];
};

#endif
