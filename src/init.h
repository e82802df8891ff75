/* init.h — start-up (configuration, tiers), the bootstrap area for requests
 * that arrive while start-up itself runs, and the fork child handler. */
#ifndef HAK_INIT_H
#define HAK_INIT_H

#include "internal.h"
#include <stdatomic.h>

/* NONE → INIT (a thread runs start-up) → READY; NONE ↔ FORK while a fork
 * of a process not yet started is under way, so that no start-up begins
 * that the child would find half done. */
enum { HAK_STATE_NONE, HAK_STATE_INIT, HAK_STATE_READY, HAK_STATE_FORK };
extern _Atomic int _hak_state;

/* Initialises once. Returns false only to a re-entrant call from inside
 * initialisation, which must then use the bootstrap area. */
bool _hak_init_slow(void);

hak_inline bool hak_ready(void)
{
    return hak_likely(atomic_load_explicit(&_hak_state, memory_order_acquire) == HAK_STATE_READY) ||
           _hak_init_slow();
}

/* Bump allocation from a static area; never freed. NULL when exhausted. */
void *_hak_bootstrap_alloc(size_t n, size_t align);
bool _hak_bootstrap_owns(const void *p);
/* The size a bootstrap block was requested with. */
size_t _hak_bootstrap_size(const void *p);

#endif
