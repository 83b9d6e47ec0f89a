/* tests/test_base.c -- status codes, error messages, version; the thread
 * pool across fork() (a training run forked by a test or a user's program
 * must not wait forever on workers that only exist in the parent). */
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/threads.h"
#include "test_util.h"

static void add_range(void *ctx, size_t a, size_t b) {
    long *sum = ctx;
    long s = 0;
    for (size_t i = a; i < b; i++) s += (long)i;
    __atomic_add_fetch(sum, s, __ATOMIC_SEQ_CST);
}

static void test_fork(void) {
    sbert_set_num_threads(2);
    long sum = 0;
    sbert_parallel_for_min(1000000, 1000, add_range, &sum); /* the pool is now running */
    CHECK(sum == 999999L * 1000000L / 2, "parallel sum %ld", sum);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20); /* a hang would otherwise block the suite */
        long s2 = 0;
        sbert_parallel_for_min(1000000, 1000, add_range, &s2);
        _exit(s2 == 999999L * 1000000L / 2 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the pool works in a forked child (status %d)", status);
}

int main(void) {
    test_fork();
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
