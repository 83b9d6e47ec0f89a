/*
 * io/hf_cache.h -- Hugging Face model ids resolved through the local cache
 * huggingface_hub writes (sbert never downloads):
 *
 *   root   $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
 *          else ~/.cache/huggingface/hub (huggingface_hub's order);
 *   repo   root/models--{org}--{name};
 *   ref    repo/refs/{revision} holds the commit hash (revision "main" by
 *          default; a 40-hex revision is the hash itself);
 *   files  repo/snapshots/{hash}/ (symlinks into repo/blobs/).
 *
 * A local directory with the id's name always wins (the caller checks that
 * first, as sentence-transformers does).
 */
#ifndef SBERT_IO_HF_CACHE_H
#define SBERT_IO_HF_CACHE_H

#include <stddef.h>

#include "sbert.h"

/* 1 when s looks like "org/name" (one slash, no leading '/', '.' or '~'). */
int sbert_hf_is_model_id(const char *s);

/* The snapshot directory of model `id` at `revision` (NULL: "main") into
 * out. Not found: SBERT_ERR_IO naming the id and every path searched. */
sbert_status sbert_hf_resolve(const char *id, const char *revision, char *out, size_t cap);

#endif
