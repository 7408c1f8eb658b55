/* Files this process is writing that must not outlive it, and what happens
 * when SIGINT, SIGTERM or SIGHUP ends it: the tracked files are removed and
 * the process dies by the same signal (its parent sees 130/143, as with git
 * or any other program killed by ^C).
 *
 * A writer tracks its temporary file for as long as the file exists under
 * its temporary name (ingest files of a local export, atomic-replacement
 * temporaries).  The signal handler only unlinks, which is
 * async-signal-safe; paths are copied into fixed slots when tracked. */
#ifndef CACHECTL_TEMP_FILES_H
#define CACHECTL_TEMP_FILES_H

#include "core/util/error.h"

/* Tracks path; *slot is what temp_file_untrack takes.  When every slot is
 * taken the file is not tracked (*slot = -1; a later run's stale-file
 * cleanup removes it): never an error. */
void temp_file_track(const char *path, int *slot);
/* Stops tracking (the file was renamed into place or removed); -1 is a no-op. */
void temp_file_untrack(int slot);

/* Installs the handlers for SIGINT, SIGTERM and SIGHUP (once per process). */
CACHECTL_MUST_CHECK int temp_files_handle_signals(void);

#endif
