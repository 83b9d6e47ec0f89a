// data/parquet_arrow.cc -- the Parquet reader of data/parquet.h over Apache
// Arrow's C++ Parquet reader (compiled only when SBERT_PARQUET is on).
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "data/parquet.h"

namespace {

int fail(char *err, size_t cap, const std::string &msg) {
    std::snprintf(err, cap, "%s", msg.c_str());
    return -1;
}

bool is_number(const arrow::DataType &t) {
    return arrow::is_integer(t.id()) || arrow::is_floating(t.id()) || t.id() == arrow::Type::BOOL;
}

double number_at(const arrow::Array &a, int64_t i) {
    auto s = a.GetScalar(i);
    if (!s.ok()) return 0;
    auto d = (*s)->CastTo(arrow::float64());
    if (!d.ok()) return 0;
    return std::static_pointer_cast<arrow::DoubleScalar>(*d)->value;
}

}  // namespace

extern "C" int sbert_pq_available(void) { return 1; }

extern "C" void sbert_pq_free(sbert_pq_table *t) {
    if (!t) return;
    for (size_t c = 0; c < t->n_cols; c++) {
        sbert_pq_column *col = &t->cols[c];
        if (col->text)
            for (size_t r = 0; r < t->n_rows; r++) std::free(col->text[r]);
        std::free(col->text);
        std::free(col->num);
        std::free(col->name);
    }
    std::free(t->cols);
    std::memset(t, 0, sizeof *t);
}

extern "C" int sbert_pq_read(const char *path, sbert_pq_table *out, char *err, size_t cap) {
    std::memset(out, 0, sizeof *out);
    std::string where(path);
    auto infile = arrow::io::ReadableFile::Open(path);
    if (!infile.ok()) return fail(err, cap, where + ": cannot open: " + infile.status().ToString());
    auto reader = parquet::arrow::OpenFile(*infile, arrow::default_memory_pool());
    if (!reader.ok()) return fail(err, cap, where + ": not a Parquet file: " + reader.status().ToString());
    auto tab = (*reader)->ReadTable();
    if (!tab.ok()) return fail(err, cap, where + ": cannot read: " + tab.status().ToString());
    auto table = (*tab)->CombineChunks();
    if (!table.ok()) return fail(err, cap, where + ": " + table.status().ToString());
    const auto &T = *table;
    out->n_rows = (size_t)T->num_rows();
    out->n_cols = (size_t)T->num_columns();
    out->cols = (sbert_pq_column *)std::calloc(out->n_cols ? out->n_cols : 1, sizeof *out->cols);
    if (!out->cols) return fail(err, cap, where + ": out of memory");
    for (size_t c = 0; c < out->n_cols; c++) {
        const auto field = T->schema()->field((int)c);
        sbert_pq_column *col = &out->cols[c];
        col->name = strdup(field->name().c_str());
        const std::string cname = "column '" + field->name() + "'";
        auto chunks = T->column((int)c);
        std::shared_ptr<arrow::Array> arr = chunks->num_chunks() ? chunks->chunk(0) : nullptr;
        if (!arr) { /* no rows */
            col->kind = 1;
            continue;
        }
        const arrow::DataType &type = *field->type();
        const size_t n = out->n_rows;
        for (size_t r = 0; r < n; r++)
            if (arr->IsNull((int64_t)r)) {
                sbert_pq_free(out);
                return fail(err, cap, where + ": " + cname + " is null in row " + std::to_string(r + 1));
            }
        if (type.id() == arrow::Type::STRING || type.id() == arrow::Type::LARGE_STRING ||
            type.id() == arrow::Type::STRING_VIEW) {
            col->kind = 0;
            col->text = (char **)std::calloc(n ? n : 1, sizeof *col->text);
            for (size_t r = 0; col->text && r < n; r++) {
                auto s = arr->GetScalar((int64_t)r);
                std::string v = s.ok() ? (*s)->ToString() : std::string();
                col->text[r] = strdup(v.c_str());
            }
            continue;
        }
        if (is_number(type)) {
            col->kind = 1;
            col->num = (double *)std::malloc((n ? n : 1) * sizeof *col->num);
            for (size_t r = 0; col->num && r < n; r++) col->num[r] = number_at(*arr, (int64_t)r);
            continue;
        }
        if (type.id() == arrow::Type::LIST || type.id() == arrow::Type::LARGE_LIST ||
            type.id() == arrow::Type::FIXED_SIZE_LIST) {
            const auto &vt = *std::static_pointer_cast<arrow::BaseListType>(field->type())->value_type();
            if (!is_number(vt)) {
                std::string what = vt.id() == arrow::Type::STRING || vt.id() == arrow::Type::LARGE_STRING
                                       ? "a list of texts; a SentenceTransformer input column holds one text per row"
                                       : "a list of " + vt.ToString() + "; a list column must hold numbers";
                sbert_pq_free(out);
                return fail(err, cap, where + ": " + cname + " is " + what);
            }
            col->kind = 2;
            std::vector<std::vector<double>> rows(n);
            for (size_t r = 0; r < n; r++) {
                auto s = arr->GetScalar((int64_t)r);
                auto ls = std::static_pointer_cast<arrow::BaseListScalar>(*s);
                const arrow::Array &vals = *ls->value;
                for (int64_t k = 0; k < vals.length(); k++) {
                    if (vals.IsNull(k)) {
                        sbert_pq_free(out);
                        return fail(err, cap, where + ": " + cname + " has a null inside the list of row " +
                                                  std::to_string(r + 1));
                    }
                    rows[r].push_back(number_at(vals, k));
                }
                if (r == 0) col->width = rows[0].size();
                if (rows[r].size() != col->width || col->width == 0) {
                    sbert_pq_free(out);
                    return fail(err, cap, where + ": " + cname + " holds " + std::to_string(rows[r].size()) +
                                              " numbers in row " + std::to_string(r + 1) + "; the first row has " +
                                              std::to_string(col->width));
                }
            }
            col->num = (double *)std::malloc((n && col->width ? n * col->width : 1) * sizeof *col->num);
            for (size_t r = 0; col->num && r < n; r++)
                std::memcpy(col->num + r * col->width, rows[r].data(), col->width * sizeof(double));
            continue;
        }
        std::string t = type.ToString();
        sbert_pq_free(out);
        return fail(err, cap, where + ": " + cname + " is of type " + t +
                                  ", which cannot be a text, a number or a list of numbers");
    }
    return 0;
}
