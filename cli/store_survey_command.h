/* The command line ls and du share; each brings its help and printers. */
#ifndef CACHECTL_STORE_SURVEY_COMMAND_H
#define CACHECTL_STORE_SURVEY_COMMAND_H

#include "transport/engine/store_sweep.h"

struct survey_printer {
	const char *name; /* the command, for messages */
	const char *help;
	int (*json)(const struct store_survey *s, const char *store);
	void (*text)(const struct store_survey *s);
};

/* Parses --format and the common options, surveys STORE, prints it. */
int store_survey_command(int argc, char **argv, const struct survey_printer *printer);

#endif
