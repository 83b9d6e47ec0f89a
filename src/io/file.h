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
/* 1 if `path` exists and is a regular file / a directory. */
int sbert_file_exists(const char *path);
int sbert_dir_exists(const char *path);
/* snprintf(dst, cap, "%s/%s", dir, name) that reports truncation as an error. */
sbert_status sbert_path_join(char *dst, size_t cap, const char *dir, const char *name);

#endif
