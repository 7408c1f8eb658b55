/* The credentials this run was given (secret option values), remembered so
 * that the last line of defence -- the message printed on failure -- can
 * replace any of them that reached it by "***", however it got there. */
#ifndef CACHECTL_SECRETS_H
#define CACHECTL_SECRETS_H

#include <stddef.h>

/* Values shorter than this are not remembered: replacing every "ab" of a
 * message would mangle it, and the messages built from options already
 * hide secret values by key. */
#define SECRET_MIN_LENGTH 4

/* Remembers a copy of value (thread-safe; kept until exit). */
void secret_remember(const char *value);

/* Replaces, in text, every remembered value by "***" (the text shrinks). */
void secret_scrub(char *text);

/* The same over len bytes that may hold NULs (a server's answer); returns
 * the new length. */
size_t secret_scrub_bytes(char *data, size_t len);

#endif
