/* tlsmod.c — a module for dlopen_tls: thread-local data in the general-dynamic model, so the dynamic loader allocates each thread's block (and grows the thread's DTV) with malloc on first use, and frees them at thread exit and dlclose. */
#include <stddef.h>
#include <string.h>

/* Big enough that the loader cannot take it from its static TLS surplus. */
static __thread unsigned char block[64 * 1024];
static __thread unsigned long counter;

unsigned long tlsmod_touch(unsigned long seed);

/* Fills this thread's block from seed the first time, checks it after:
 * returns how often this thread called (0 if the block was garbled). */
unsigned long tlsmod_touch(unsigned long seed)
{
    if (counter == 0)
        memset(block, (int)(seed & 0xff), sizeof block);
    for (size_t i = 0; i < sizeof block; i += 512)
        if (block[i] != (unsigned char)(seed & 0xff))
            return 0;
    return ++counter;
}
