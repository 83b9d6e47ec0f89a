/*
 * cli/textio.c -- the files the `sbert` tool reads and writes.
 *
 * Input: one text per line (cli_read_lines). Only the terminator is removed
 * ("\n", or "\r\n"); leading/trailing spaces, tabs and empty lines are kept,
 * since sentence-transformers would embed them as given. "-" is stdin.
 *
 * Output: files are written atomically (cli_output_*). The data goes to a
 * temporary file ".NAME.tmp-XXXXXX" beside the target, which is flushed,
 * fsync'ed and renamed over the target only when everything succeeded. A
 * failure anywhere (a bad model, a full disk, an interrupted run) leaves the
 * target as it was: absent, or with its old content.
 *
 * Formats:
 *   .npy    NumPy format v1.0, dtype '<f4', C order, shape (n, dim); the
 *           header is padded so the data starts at a multiple of 64 bytes,
 *           as numpy.save does.
 *   .jsonl  one JSON array of floats per text, "%.9g" (round-trips float32);
 *           a non-finite value is written as null.
 *
 * If the process is interrupted (SIGINT, SIGTERM, SIGHUP) while a temporary
 * file exists, a signal handler removes it before the process dies.
 *
 * The progress bar (cli_progress_*) is drawn on stderr only when stderr is a
 * terminal, so redirected runs and pipelines stay clean.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* ----------------------------------------------------------- text input */

static int read_all(FILE *f, const char *name, char **out, size_t *out_len) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        return cli_failure("%s: out of memory", name);
    for (;;) {
        if (len == cap) {
            size_t ncap = cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                return cli_failure("%s: out of memory reading the input", name);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno;
                free(buf);
                return cli_failure("cannot read '%s': %s", name, strerror(e ? e : EIO));
            }
            break;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return CLI_EXIT_OK;
}

/* Offset of the first byte of s[0..n) that is not well-formed UTF-8 (RFC
 * 3629: no overlong forms, no surrogates, nothing past U+10FFFF), or n. The
 * library's tokenizers apply the same rule; checking here lets the message
 * name the input line rather than a text index within a batch. */
static size_t utf8_bad_offset(const unsigned char *u, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            if (c == 0xF4)
                hi = 0x8F; /* past U+10FFFF */
        } else
            return i;
        if (len > n - i || u[i + 1] < lo || u[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; k++)
            if ((u[i + k] & 0xC0) != 0x80)
                return i;
        i += len;
    }
    return n;
}

int cli_read_lines(const char *path, cli_lines *out) {
    memset(out, 0, sizeof *out);
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *f = stdin;
    if (!is_stdin) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return cli_failure("cannot read '%s': it is a directory, not a text file", path);
        f = fopen(path, "rb");
        if (!f)
            return cli_failure("cannot read '%s': %s", path, strerror(errno));
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = read_all(f, name, &buf, &len);
    if (!is_stdin)
        fclose(f);
    if (rc != CLI_EXIT_OK)
        return rc;

    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    if (len > 0 && buf[len - 1] != '\n')
        n++; /* a last line without a terminator */
    out->buf = buf;
    out->n = n;
    out->line = malloc((n ? n : 1) * sizeof *out->line);
    out->len = malloc((n ? n : 1) * sizeof *out->len);
    if (!out->line || !out->len) {
        cli_lines_free(out);
        return cli_failure("%s: out of memory for %zu lines", name, n);
    }
    size_t start = 0, k = 0;
    while (start < len) {
        char *nl = memchr(buf + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t l = end - start;
        if (nl && l > 0 && buf[end - 1] == '\r')
            l--; /* "\r\n" */
        if (memchr(buf + start, '\0', l)) {
            cli_lines_free(out);
            return cli_failure("%s:%zu: the line contains a NUL byte; input must be UTF-8 text, "
                               "one text per line",
                               name, k + 1);
        }
        size_t bad = utf8_bad_offset((const unsigned char *)buf + start, l);
        if (bad < l) {
            unsigned byte = (unsigned char)buf[start + bad];
            cli_lines_free(out);
            return cli_failure("%s:%zu: the line is not valid UTF-8 (byte 0x%02X at byte %zu of "
                               "the line); input must be UTF-8 text, one text per line",
                               name, k + 1, byte, bad + 1);
        }
        buf[start + l] = '\0';
        out->line[k] = buf + start;
        out->len[k] = l;
        k++;
        start = end + 1;
    }
    return CLI_EXIT_OK;
}

void cli_lines_free(cli_lines *l) {
    free(l->buf);
    free(l->line);
    free(l->len);
    memset(l, 0, sizeof *l);
}

/* ---------------------------------------------------------- file output */

/* The temporary file to remove if a signal ends the process (one at a time). */
static char *volatile g_pending_tmp = NULL;

static void on_fatal_signal(int sig) {
    char *p = g_pending_tmp;
    if (p)
        unlink(p); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void watch_tmp(char *path) {
    static int installed = 0;
    if (!installed) {
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_fatal_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(sigs[i], &sa, NULL);
        }
        installed = 1;
    }
    g_pending_tmp = path;
}

int cli_output_open(cli_output *o, const char *path) {
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return CLI_EXIT_OK;
    }
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_failure("cannot write '%s': it is a directory", path);
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t cap = strlen(path) + 32;
    o->final_path = strdup(path);
    o->tmp_path = malloc(cap);
    if (!o->final_path || !o->tmp_path) {
        cli_output_abort(o);
        return cli_failure("out of memory");
    }
    snprintf(o->tmp_path, cap, "%.*s.%s.tmp-XXXXXX", (int)dir_len, path, base);
    int fd = mkstemp(o->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(o->tmp_path);
        o->tmp_path = NULL;
        cli_output_abort(o);
        return cli_failure("cannot write '%s': %s", path, strerror(e));
    }
    /* mkstemp creates 0600; give the file the permissions a plain fopen would. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        /* not fatal: the file is still ours and readable by us */
    }
    watch_tmp(o->tmp_path);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        int e = errno;
        close(fd);
        cli_output_abort(o);
        return cli_failure("cannot write '%s': %s", path, strerror(e));
    }
    return CLI_EXIT_OK;
}

int cli_output_commit(cli_output *o) {
    if (!o->final_path) { /* stdout */
        if (fflush(stdout) != 0 || ferror(stdout))
            return cli_write_failure("-", errno);
        return CLI_EXIT_OK;
    }
    int ok = fflush(o->f) == 0 && !ferror(o->f);
    int e = errno;
    if (ok && fsync(fileno(o->f)) != 0 && errno != EINVAL && errno != EROFS) {
        ok = 0;
        e = errno;
    }
    if (fclose(o->f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    o->f = NULL;
    if (ok && rename(o->tmp_path, o->final_path) != 0) {
        ok = 0;
        e = errno;
    }
    if (ok)
        g_pending_tmp = NULL;
    if (!ok) {
        int rc = cli_failure("cannot write '%s': %s", o->final_path, strerror(e ? e : EIO));
        cli_output_abort(o);
        return rc;
    }
    free(o->tmp_path);
    free(o->final_path);
    o->tmp_path = o->final_path = NULL;
    return CLI_EXIT_OK;
}

void cli_output_abort(cli_output *o) {
    if (o->f && o->f != stdout)
        fclose(o->f);
    o->f = NULL;
    if (o->tmp_path) {
        if (g_pending_tmp == o->tmp_path)
            g_pending_tmp = NULL;
        unlink(o->tmp_path);
    }
    free(o->tmp_path);
    free(o->final_path);
    o->tmp_path = o->final_path = NULL;
}

/* -------------------------------------------------------------- formats */

int cli_write_npy_header(FILE *f, size_t rows, size_t cols) {
    char dict[160];
    int dl = snprintf(dict, sizeof dict,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows,
                      cols);
    if (dl < 0 || (size_t)dl >= sizeof dict - 70)
        return -1;
    /* magic(6) + version(2) + header_len(2) + dict + spaces + '\n' = multiple of 64 */
    size_t total = 10 + (size_t)dl + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - 10;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)dl, f) != (size_t)dl)
        return -1;
    for (size_t i = (size_t)dl; i + 1 < hlen; i++)
        if (fputc(' ', f) == EOF)
            return -1;
    return fputc('\n', f) == EOF ? -1 : 0;
}

static int host_is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

int cli_write_npy_rows(FILE *f, const float *data, size_t rows, size_t cols) {
    size_t n = rows * cols;
    if (host_is_little_endian())
        return fwrite(data, sizeof(float), n, f) == n ? 0 : -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char b[4], r[4];
        memcpy(b, &data[i], 4);
        r[0] = b[3];
        r[1] = b[2];
        r[2] = b[1];
        r[3] = b[0];
        if (fwrite(r, 1, 4, f) != 4)
            return -1;
    }
    return 0;
}

int cli_write_jsonl_rows(FILE *f, const float *data, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        if (fputc('[', f) == EOF)
            return -1;
        for (size_t c = 0; c < cols; c++) {
            float v = data[r * cols + c];
            int rc = isfinite(v) ? fprintf(f, c ? ",%.9g" : "%.9g", (double)v)
                                 : fputs(c ? ",null" : "null", f);
            if (rc < 0)
                return -1;
        }
        if (fputs("]\n", f) == EOF)
            return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- progress */

void cli_progress_init(cli_progress *p, const char *label, size_t total, size_t min_total) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->last_percent = -1;
    p->enabled = total > min_total && isatty(fileno(stderr));
}

void cli_progress_update(size_t done, size_t total, void *user) {
    (void)total;
    cli_progress *p = user;
    if (!p || !p->enabled || p->total == 0)
        return;
    size_t d = p->base + done;
    if (d > p->total)
        d = p->total;
    int pct = (int)(d * 100 / p->total);
    if (pct == p->last_percent)
        return;
    p->last_percent = pct;
    char bar[41];
    size_t fill = d * 40 / p->total;
    for (size_t i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r%s [%s] %zu/%zu (%d%%)", p->label, bar, d, p->total, pct);
    fflush(stderr);
}

void cli_progress_finish(cli_progress *p) {
    if (p->enabled && p->last_percent >= 0)
        fputc('\n', stderr);
}
