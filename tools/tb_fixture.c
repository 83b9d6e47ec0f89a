/*
 * tools/tb_fixture.c -- the driver tools/gen_tensorboard_refs.py compiles
 * against build/libsbert.a: writes the events of a fixture.json into LOGDIR
 * with sbert's TensorBoard writer and prints the event file's path.
 *
 *   tb_fixture FIXTURE_JSON LOGDIR
 */
#include "tensorboard_fixture.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tb_fixture FIXTURE_JSON LOGDIR\n");
        return 2;
    }
    char path[4400];
    sbert_status st = tb_fixture_write(argv[1], argv[2], path, sizeof path);
    if (st != SBERT_OK) {
        fprintf(stderr, "tb_fixture: %s\n", sbert_last_error());
        return 1;
    }
    printf("%s\n", path);
    return 0;
}
