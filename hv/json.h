/*
 * JSON output for the command-line tools (hv's control client, hactl):
 * the one piece of JSON they need to get right, string escaping. Pure.
 */
#ifndef HV_JSON_H
#define HV_JSON_H

/* Prints @s (NULL prints "") as a JSON string literal on stdout. */
void json_print_string(const char *s);

#endif
