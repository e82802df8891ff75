/* tls.h — the tiny tier's part of a thread's TLS: one bounded LIFO free
 * list (the TLS SLL) per size class. */
#ifndef HAK_TINY_TLS_H
#define HAK_TINY_TLS_H

#include "sizeclass.h"

struct tiny_heap;

/* A thread's free list for one class. */
struct tiny_sll {
    void *head;
    uint32_t count;
    uint32_t bound;                       /* 0 until the thread's heap exists */
};

enum { TINY_THREAD_NEW, TINY_THREAD_LIVE, TINY_THREAD_EXITED };

struct tiny_tls {
    struct tiny_sll sll[HAK_NCLASS];
    struct tiny_heap *heap;
    uint8_t state;                        /* TINY_THREAD_* */
};

#endif
