/* thread.h — everything a thread keeps in TLS, as one initial-exec object:
 * the fast paths reach the TLS lists and the counters from one base. The
 * modules' parts come from their own tls.h headers, which include nothing
 * but the floor: this is the one place the floor names a tier. glibc
 * clears this object for every new thread, on pages of a stack that may be
 * freshly mapped, so it holds only what the fast paths reach (about 1 KiB):
 * bigger per-thread tables live in the thread's tiny heap. */
#ifndef HAK_THREAD_H
#define HAK_THREAD_H

#include "internal.h"
#include "policy/tls.h"
#include "tiny/tls.h"

/* The per-thread counters of counters.def (HAK_COUNTER; counters.h
 * updates them). */
struct hak_counters {
#define HAK_COUNTER(group, name, doc) uint64_t group##_##name;
#define HAK_CCOUNTER(group, name, doc)
#define HAK_GCOUNTER(group, name, doc)
#include "counters.def"
#undef HAK_COUNTER
#undef HAK_CCOUNTER
#undef HAK_GCOUNTER
};

struct hak_thread {
    struct tiny_tls tiny;                 /* the TLS SLLs, hot: first */
    struct hak_counters ctr;              /* written by this thread only */
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
