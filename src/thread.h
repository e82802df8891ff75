/* thread.h — everything a thread keeps in TLS, as one initial-exec object:
 * the fast paths reach the TLS lists and the counters from one base. The
 * modules' parts come from their own tls.h headers, which include nothing
 * but the floor: this is the one place the floor names a tier. */
#ifndef HAK_THREAD_H
#define HAK_THREAD_H

#include "internal.h"
#include "policy/tls.h"
#include "tiny/tls.h"

/* The counters of counters.def this thread counts (counters.h updates
 * them). */
struct hak_counters {
#define HAK_COUNTER(group, name, dim, doc) uint64_t group##_##name[dim];
#define HAK_GCOUNTER(group, name, doc)
#include "counters.def"
#undef HAK_COUNTER
#undef HAK_GCOUNTER
};

struct hak_thread {
    struct tiny_tls tiny;                 /* the TLS SLLs, hot: first */
    struct hak_counters ctr;              /* written by this thread only */
    uint64_t ctr_classes;                 /* bit c: a per-class counter of class c counted (counters.h) */
    struct policy_tls pol;                /* samples not yet in the window */
    bool armed;                           /* the exit destructor will run */
    bool gone;                            /* the exit functions have run: the thread is exiting */
    uint8_t purge_skip;                   /* slow calls before the next look at the clock (purge.c) */
};

extern hak_tls struct hak_thread _hak_thread;

/* Registers a function run at every thread's exit (in registration order);
 * at start-up only. */
void _hak_thread_on_exit(void (*fn)(void));
/* Makes sure this thread's exit functions run when it exits. */
void _hak_thread_arm(void);
/* Creates the key, at start-up (before any thread can arm), so that arming
 * never races it; arming creates it should start-up not have. */
void _hak_thread_key_create(void);

#endif
