/*
 * io/atomic.h -- writing a file so that readers only ever see the old
 * content or the complete new content, never a torn mix.
 *
 * Every file sbert writes that a user may rely on (model weights, configs,
 * checkpoints, embeddings) goes through here:
 *
 *     sbert_status st;
 *     sbert_atomic_file *af = sbert_atomic_open(path, &st);
 *     if (!af) return st;
 *     fprintf(sbert_atomic_stream(af), ...);           // or sbert_atomic_write()
 *     return sbert_atomic_commit(af);                  // or sbert_atomic_abort(af)
 *
 * How: the bytes go to `<path>.tmp.<pid>` in the same directory (so the final
 * rename stays within one filesystem); commit flushes, fsyncs, closes, renames
 * the temporary over `path` and fsyncs the directory so the rename itself is
 * durable. On any failure -- in a write, the flush, the fsync, the close or the
 * rename -- the temporary file is removed and `path` is left exactly as it was.
 * commit and abort always release the handle.
 *
 * Limits: one writer per path at a time within a process (the temporary name
 * holds only the pid); a symlink at `path` is replaced, not followed; a new
 * file gets mode 0666 minus the umask, like fopen().
 */
#ifndef SBERT_IO_ATOMIC_H
#define SBERT_IO_ATOMIC_H

#include <stddef.h>
#include <stdio.h>

#include "sbert.h"

typedef struct sbert_atomic_file sbert_atomic_file;

/* Create the temporary file for `path`. NULL on failure, with *st set (when st
 * is not NULL) and a message naming the path and the reason. */
sbert_atomic_file *sbert_atomic_open(const char *path, sbert_status *st);
/* The stdio stream writing the temporary file (valid until commit/abort).
 * Errors on it are noticed by commit through ferror(). */
FILE *sbert_atomic_stream(sbert_atomic_file *af);
/* fwrite `n` bytes with an error naming the path on failure. After a failed
 * write the handle must still be passed to sbert_atomic_abort (or commit,
 * which then fails and cleans up). */
sbert_status sbert_atomic_write(sbert_atomic_file *af, const void *data, size_t n);
/* The path being written (the final name, not the temporary one). */
const char *sbert_atomic_path(const sbert_atomic_file *af);
/* Flush, fsync, close, rename over the target, fsync the directory. Frees
 * `af` whatever the outcome; on failure the target is untouched and the
 * temporary file is gone. */
sbert_status sbert_atomic_commit(sbert_atomic_file *af);
/* Drop the temporary file and free `af` (NULL is a no-op). */
void sbert_atomic_abort(sbert_atomic_file *af);

/* Open + one write + commit. */
sbert_status sbert_write_file_atomic(const char *path, const void *data, size_t n);

/* Copy `name` from folder `src_dir` to folder `dst_dir` atomically. A file
 * that `src_dir` does not hold is not an error (nothing is copied); the same
 * folder on both sides copies nothing. Model savers use it for the tokenizer
 * and config files they carry over from the folder they were loaded from. */
sbert_status sbert_copy_file_atomic(const char *src_dir, const char *dst_dir, const char *name);

/* Test hook (fault injection): when `after_bytes` >= 0, every atomic file on
 * this thread fails once it has received more than `after_bytes` bytes -- a
 * write crossing the limit reports an I/O error after writing only the bytes
 * up to it, and commit fails if the file grew past it through the raw stream.
 * -1 (the default) turns injection off. Only tests call this. */
void sbert_atomic_test_fail_after(long long after_bytes);

#endif
