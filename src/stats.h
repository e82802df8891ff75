/* stats.h — merging the per-thread counters and printing them (SPEC §6):
 * text on stderr with HAKMEM_STATS=1, JSON to HAKMEM_STATS_FILE. */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include "counters.h"

/* Totals of every thread so far (exited and live). */
void _hak_stats_snapshot(struct hak_counter_totals *out);
/* Prints the report: text (json false) or one JSON object. */
void _hak_stats_print(int fd, bool json);
/* At start-up, when the text report is on: notes what stderr is, so that
 * the report at exit goes only to that file (a program may close fd 2 and
 * open another file there). */
void _hak_stats_note_stderr(void);
/* The library destructor's part: print as configured (the text report
 * only while fd 2 is still the stderr of start-up). */
void _hak_stats_at_exit(void);

#endif
