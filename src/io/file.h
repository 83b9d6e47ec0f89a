/*
 * io/file.h -- reading whole files and JSON documents, with errors that name
 * the file (and, for JSON, the line and column where parsing stopped).
 */
#ifndef SBERT_IO_FILE_H
#define SBERT_IO_FILE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sbert.h"

/* Read a whole file; *out is malloc'd and NUL-terminated (len excludes the NUL). */
sbert_status sbert_read_file(const char *path, char **out, size_t *len);
/* Parse `path` as JSON; *out must be freed with cJSON_Delete. */
sbert_status sbert_json_load(const char *path, cJSON **out);
/* Parse an in-memory JSON document; `name` is used in messages. */
sbert_status sbert_json_parse(const char *text, size_t len, const char *name, cJSON **out);
/* o[key] as a non-negative integer (values above 1e15 read as 1e15);
 * absent or null: *present = 0. A negative, fractional or non-numeric value
 * is an error naming `path` and the key. */
sbert_status sbert_json_size(const cJSON *o, const char *key, const char *path, size_t *out, int *present);
/* 1 if something is at `path`: a regular file, but also a directory, a
 * symbolic link loop, a dangling link or an entry we may not stat -- anything
 * but plain absence. Callers use it to tell "optional file absent" from
 * "present": opening a present non-file then fails with a message saying what
 * is there (a directory, a link loop...) instead of the file being silently
 * skipped or reported as "not found". */
int sbert_file_exists(const char *path);
/* 1 if `path` is a directory (following symbolic links). */
int sbert_dir_exists(const char *path);
/* What is wrong with `path` as a file to read, as a phrase for a message:
 * "no such file", "is a directory, not a file", "is a symbolic link loop",
 * "is a symbolic link to 'x', which does not exist", "is a named pipe, not a
 * regular file", "permission denied", ... ("is a regular file" when nothing
 * is). Writes into buf[cap] and returns buf. */
const char *sbert_path_problem(const char *path, char *buf, size_t cap);
/* SBERT_OK if `path` is a regular file (following links); otherwise
 * SBERT_ERR_IO with "<path>: <sbert_path_problem>". */
sbert_status sbert_file_check(const char *path);
/* The status for a failed open of `path` with errno `err`: what is there
 * (sbert_file_check) when that explains it, else "cannot open: strerror". */
sbert_status sbert_open_failure(const char *path, int err);
/* The same for a directory ("<path>: is a regular file, not a directory", ...). */
sbert_status sbert_dir_check(const char *path);
/* snprintf(dst, cap, "%s/%s", dir, name) that reports truncation as an error. */
sbert_status sbert_path_join(char *dst, size_t cap, const char *dir, const char *name);

#endif
