/* thread.h — everything a thread keeps in TLS, as one initial-exec object:
 * the fast paths reach the TLS lists and the counters from one base. */
#ifndef HAK_THREAD_H
#define HAK_THREAD_H

#include "counters.h"
#include "tiny/tls.h"

struct hak_thread {
    struct tiny_tls tiny;                 /* the TLS SLLs, hot: first */
    struct hak_counters ctr;              /* written by this thread only */
};

extern hak_tls struct hak_thread _hak_thread;

#endif
