#include "core/util/temp_files.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* As many as the workers of a big export can hold at once, with room. */
#define SLOTS 256

static char paths[SLOTS][PATH_MAX];
/* 1 while paths[i] names a file to remove; read by the signal handler,
 * so set only after the path is complete. */
static volatile sig_atomic_t in_use[SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

void temp_file_track(const char *path, int *slot)
{
	*slot = -1;
	if (strlen(path) >= PATH_MAX)
		return;
	pthread_mutex_lock(&slots_lock);
	for (int i = 0; i < SLOTS; i++) {
		if (in_use[i])
			continue;
		memcpy(paths[i], path, strlen(path) + 1);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		in_use[i] = 1;
		*slot = i;
		break;
	}
	pthread_mutex_unlock(&slots_lock);
}

void temp_file_untrack(int slot)
{
	if (slot < 0 || slot >= SLOTS)
		return;
	pthread_mutex_lock(&slots_lock);
	in_use[slot] = 0;
	pthread_mutex_unlock(&slots_lock);
}

static void on_signal(int sig)
{
	for (int i = 0; i < SLOTS; i++)
		if (in_use[i])
			unlink(paths[i]);
	/* Die by the signal itself, so that the parent (a shell, make, a CI
	 * runner) knows the run was interrupted and not merely failed. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int temp_files_handle_signals(void)
{
	static const int signals[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask); /* no second signal while the first one cleans up */
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (sigaction(signals[i], &sa, NULL) != 0)
			return error_set_errno(ERR_FAILURE, errno, "cannot handle signal %d", signals[i]);
	return 0;
}
