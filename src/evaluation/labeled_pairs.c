/*
 * evaluation/labeled_pairs.c -- (sentence1, sentence2, number) evaluation
 * rows, the data of EmbeddingSimilarityEvaluator, BinaryClassificationEvaluator
 * and LabelAccuracyEvaluator.
 */
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/st_evaluators.h"

void sbert_labeled_pairs_free(sbert_labeled_pairs *p) {
    if (!p) return;
    sbert_dataset_free(p->ds);
    memset(p, 0, sizeof *p);
}

sbert_status sbert_labeled_pairs_load(const char *path, size_t max_samples, const char *evaluator,
                                      const char *label_name, sbert_labeled_pairs *out) {
    memset(out, 0, sizeof *out);
    sbert_status st = sbert_dataset_load(path, &out->ds);
    if (st != SBERT_OK) return st;
    if (max_samples > 0) sbert_dataset_truncate(out->ds, max_samples);
    int lc = sbert_dataset_label_column(out->ds);
    if (sbert_dataset_n_inputs(out->ds) != 2 || lc < 0 || out->ds->cols[lc].kind != SBERT_COL_NUMBER)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: %s expects (sentence1, sentence2, %s) columns", path, evaluator,
                        label_name);
    if (st == SBERT_OK) st = sbert_dataset_check_inputs(out->ds);
    if (st != SBERT_OK) {
        sbert_labeled_pairs_free(out);
        return st;
    }
    out->s1 = (const char **)out->ds->cols[sbert_dataset_input_column(out->ds, 0)].text;
    out->s2 = (const char **)out->ds->cols[sbert_dataset_input_column(out->ds, 1)].text;
    out->labels = out->ds->cols[lc].num;
    out->n = out->ds->n_rows;
    return SBERT_OK;
}
