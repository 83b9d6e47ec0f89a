/*
 * io/dirs.h -- directories: create with parents, remove recursively, and
 * publish a fully written temporary directory under its final name so that
 * readers never see a half-written model or checkpoint.
 */
#ifndef SBERT_IO_DIRS_H
#define SBERT_IO_DIRS_H

#include "sbert.h"

/* mkdir -p. */
sbert_status sbert_mkdir_p(const char *path);
/* rm -rf (best effort, no error). */
void sbert_rm_rf(const char *path);
/* Replace `dir` by the complete directory `tmp` (rename; the old `dir`, if
 * any, is moved aside first and removed after). On failure `dir` is as before. */
sbert_status sbert_publish_dir(const char *tmp, const char *dir);
/* Write `text` to dir/name atomically. */
sbert_status sbert_write_text_file(const char *dir, const char *name, const char *text);

#endif
