/*
 * training/flow_map.h -- the YAML flow mappings a recipe value may hold for
 * the keys that take a dict in Python (one entry per named dataset, per
 * column, or per dataset and column):
 *
 *   train_data: {all-nli: data/allnli-triplets.jsonl, stsb: data/stsb-train.jsonl}
 *   loss:       {all-nli: MultipleNegativesRankingLoss, stsb: CoSENTLoss}
 *   prompts:    {all-nli: {anchor: "query: ", positive: "passage: "}, stsb: ""}
 *
 * Keys and values are plain or quoted ('...' or "...", with \" and \\ in
 * double quotes) scalars or flow lists kept as text ("[a, b]"); a value may
 * be one nested mapping. Entries keep
 * their order; a key given twice is an error.
 */
#ifndef SBERT_TRAINING_FLOW_MAP_H
#define SBERT_TRAINING_FLOW_MAP_H

#include <stddef.h>

#include "sbert.h"

typedef struct sbert_flow_map sbert_flow_map;

struct sbert_flow_map {
    size_t n;
    char **keys;
    char **values;         /* a scalar, or NULL when sub[i] is set */
    sbert_flow_map **sub;  /* a nested mapping, or NULL */
};

/* 1 when text (after spaces) starts with '{'. */
int sbert_flow_is_map(const char *text);
/* Parse text; `where` names it in errors ("recipe.yaml:12 (prompts)"). */
sbert_status sbert_flow_parse(const char *text, const char *where, sbert_flow_map **out);
void sbert_flow_free(sbert_flow_map *m);
/* Index of key, or -1. */
int sbert_flow_find(const sbert_flow_map *m, const char *key);

#endif
