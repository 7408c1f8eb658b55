/* Text from outside (a command line, a server, a cache) made safe to put in
 * a one-line message: control characters, DEL and bytes that are not UTF-8
 * are written as escapes, so a value holding a newline or a terminal escape
 * can neither split a message nor reach the terminal raw. */
#ifndef CACHECTL_PRINTABLE_H
#define CACHECTL_PRINTABLE_H

#include <stddef.h>
#include <stdio.h>

/* Writes at most `max_in` bytes of `in` (the whole of it when max_in is 0)
 * to out, escaped as \n \r \t \\ and \xHH, always NUL-terminated; a text cut
 * by max_in or by out_size ends in "...".  Returns out. */
char *printable(char *out, size_t out_size, const char *in, size_t max_in);

/* Writes the whole of `in` to f, escaped as printable does (nothing cut):
 * for names and paths from a cache printed on a line of their own.
 * Returns what fputs returns for the last piece (EOF on a write error). */
int printable_fputs(const char *in, FILE *f);

#endif
