/* Reading one element's text out of the small XML answers of S3 and STS
 * (error bodies, UploadId, temporary credentials).  Not an XML parser:
 * these documents are flat, machine-written and never need one. */
#ifndef CACHECTL_XML_TEXT_H
#define CACHECTL_XML_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* The decoded text of the first element named `name` (entities and
 * character references resolved) in xml[0..len), as a new string; NULL when
 * there is none or memory runs out. */
char *xml_text(const char *xml, size_t len, const char *name);

/* Whether the document's root element is `name` (after any prolog). */
bool xml_root_is(const char *xml, size_t len, const char *name);

#endif
