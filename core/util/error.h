/* One error mechanism for all of cachectl.
 *
 * Every fallible function returns an int: 0 on success or one of the negative
 * codes below, and records a one-line human message for the calling thread
 * with error_set().  Callers that add context use error_wrap(); nobody prints
 * on the way up: the command line prints the final message once. */
#ifndef CACHECTL_ERROR_H
#define CACHECTL_ERROR_H

enum error_code {
	ERR_OK = 0,
	ERR_FAILURE = -1,   /* I/O error, damaged or unreadable data: exit 1 */
	ERR_USAGE = -2,     /* bad command line or option value: exit 2 */
	ERR_NOT_FOUND = -3, /* the thing asked for does not exist: exit 3 at top level */
	ERR_CORRUPT = -4,   /* bytes that do not match their digest or size: exit 1 */
	ERR_CANCELLED = -5, /* stopped because another task failed */
};

#define ERROR_MESSAGE_MAX 1024

/* On every function that returns a status: ignoring it is a compile error
 * with CACHECTL_WERROR, because an ignored error is a lost one. */
#define CACHECTL_MUST_CHECK __attribute__((warn_unused_result))

int error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like error_set, with ": <strerror(errnum)>" appended. */
int error_set_errno(int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the current message with "<context>: " and return code unchanged. */
int error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ERR_FAILURE with the one out-of-memory message. */
int error_oom(void);

/* The check after every allocation: returns error_oom() from the calling
 * function when ptr is NULL. */
#define CHECK_ALLOC(ptr)                   \
	do {                               \
		if (!(ptr))                \
			return error_oom(); \
	} while (0)

const char *error_message(void);
void error_clear(void);

/* Move an error recorded on a worker thread to the current thread. */
struct error_state {
	int code;
	char message[ERROR_MESSAGE_MAX];
};
void error_save(struct error_state *out, int code);
int error_restore(const struct error_state *state);

#endif
