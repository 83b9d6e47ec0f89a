/* tests/test_base.c -- status codes, error messages, version. */
#include "base/error.h"
#include "test_util.h"

int main(void) {
    CHECK(strcmp(sbert_version(), SBERT_VERSION) == 0, "version %s", sbert_version());
    sbert_status st = sbert_fail(SBERT_ERR_FORMAT, "file %s row %d", "x.csv", 7);
    CHECK(st == SBERT_ERR_FORMAT, "sbert_fail returns its status");
    CHECK(strcmp(sbert_last_error(), "file x.csv row 7") == 0, "message: %s", sbert_last_error());
    sbert_error_prefix("loading %s: ", "model");
    CHECK(strcmp(sbert_last_error(), "loading model: file x.csv row 7") == 0, "prefix: %s",
          sbert_last_error());
    sbert_error_clear();
    CHECK(sbert_last_error()[0] == '\0', "cleared");
    CHECK(strcmp(sbert_status_name(SBERT_ERR_IO), "io error") == 0, "status name");
    return test_summary();
}
