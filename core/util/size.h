/* Byte sizes as people write them in options: "1048576", "1MiB", "500MB",
 * "1.5GiB".  Decimal units (kB, MB, GB, TB) are powers of 1000, binary
 * units (KiB, MiB, GiB, TiB) powers of 1024, as docker and BuildKit print
 * them; a bare number is bytes. */
#ifndef CACHECTL_SIZE_H
#define CACHECTL_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes in *out; ERR_USAGE naming `what` when text is not a size. */
int size_parse(int64_t *out, const char *text, const char *what);

/* "1.9 MB"-style text for messages and listings (decimal units). */
void size_format(char *out, size_t out_size, int64_t bytes);

#endif
