/*
 * cli/run_writer.h — `winmem run`'s writer: a thread of winmem run that
 * appends to each trace the buffers the traced processes filled, so their
 * threads only hand a full buffer over (docs/trace-format.md "The writer").
 */
#ifndef WINMEM_CLI_RUN_WRITER_H
#define WINMEM_CLI_RUN_WRITER_H

#include <stdbool.h>

/* Makes RUN_DIR/writer, the page the shims find it by, and starts the
 * thread that reads RUN_DIR/manifest for .live files and appends their
 * FULL buffers. Call before the program starts (fork is safe after it:
 * the thread holds no lock a child could need). false (errno set) when it
 * cannot: the programs then append their own buffers, as without run. */
bool run_writer_start(const char *run_dir);
/* The program has ended: appends what is still FULL, hands any process
 * still running back to itself, joins the thread, removes RUN_DIR/writer.
 * Safe to call when nothing was started. */
void run_writer_stop(void);

#endif
