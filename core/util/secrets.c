#include "core/util/secrets.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Tokens refreshed during a long run are remembered too. */
#define SECRETS_MAX 512

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *secrets[SECRETS_MAX];
static size_t n_secrets;

void secret_remember(const char *value)
{
	if (!value || strlen(value) < SECRET_MIN_LENGTH)
		return;
	pthread_mutex_lock(&lock);
	bool known = false;
	for (size_t i = 0; i < n_secrets && !known; i++)
		known = strcmp(secrets[i], value) == 0;
	/* Out of memory or of room: the message builders still hide values by key. */
	if (!known && n_secrets < SECRETS_MAX && (secrets[n_secrets] = strdup(value)))
		n_secrets++;
	pthread_mutex_unlock(&lock);
}

void secret_scrub(char *text)
{
	static const char mask[] = "***";
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_secrets; i++) {
		size_t len = strlen(secrets[i]);
		for (char *hit = strstr(text, secrets[i]); hit; hit = strstr(hit + 3, secrets[i])) {
			/* the mask is never longer than the value: the text only shrinks */
			memmove(hit + 3, hit + len, strlen(hit + len) + 1);
			memcpy(hit, mask, 3);
		}
	}
	pthread_mutex_unlock(&lock);
}

size_t secret_scrub_bytes(char *data, size_t len)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_secrets; i++) {
		size_t k = strlen(secrets[i]);
		char *hit, *from = data;
		while ((hit = memmem(from, len - (size_t)(from - data), secrets[i], k))) {
			size_t tail = len - (size_t)(hit - data) - k;
			memcpy(hit, "***", 3);
			memmove(hit + 3, hit + k, tail);
			len -= k - 3;
			from = hit + 3;
		}
	}
	pthread_mutex_unlock(&lock);
	return len;
}
