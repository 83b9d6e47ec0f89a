/*
 * tests/xml_check.h -- a strict little XML well-formedness checker for the
 * SVG files sbert writes (tests only): one root element, every element
 * closed in order, names well formed, attribute values quoted and unique per
 * element, no raw '<' in text or values, '&' only as one of the five
 * predefined entities or a character reference, an optional <?xml ...?>
 * prolog. Comments, CDATA and DOCTYPE are refused (sbert writes none).
 */
#ifndef SBERT_TESTS_XML_CHECK_H
#define SBERT_TESTS_XML_CHECK_H

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int xml_name_start(char c) { return isalpha((unsigned char)c) || c == '_' || c == ':'; }
static int xml_name_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == ':' || c == '-' || c == '.'; }

/* Length of the entity at s ("&amp;" ...), or 0 when not a valid one. */
static size_t xml_entity(const char *s) {
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++)
        if (!strncmp(s, ents[i], strlen(ents[i]))) return strlen(ents[i]);
    if (s[1] == '#') {
        size_t i = 2;
        int hex = s[2] == 'x';
        if (hex) i++;
        size_t start = i;
        while (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i])) i++;
        if (i > start && s[i] == ';') return i + 1;
    }
    return 0;
}

/* 1 when text is well-formed; else 0 with the reason and offset in err. */
static int xml_well_formed(const char *text, char *err, size_t cap) {
    const char *p = text;
    const char *stack[256];
    size_t lens[256], depth = 0;
    int roots = 0;
#define XML_FAIL(...)                                                                         \
    do {                                                                                       \
        int k_ = snprintf(err, cap, "offset %ld: ", (long)(p - text));                        \
        if (k_ > 0 && (size_t)k_ < cap) snprintf(err + k_, cap - (size_t)k_, __VA_ARGS__);     \
        return 0;                                                                              \
    } while (0)
    if (!strncmp(p, "<?xml", 5)) {
        const char *e = strstr(p, "?>");
        if (!e) XML_FAIL("unterminated prolog");
        p = e + 2;
    }
    while (*p) {
        if (*p == '<') {
            if (p[1] == '!' || p[1] == '?') XML_FAIL("comment, CDATA, DOCTYPE or PI not expected");
            if (p[1] == '/') {
                p += 2;
                const char *n = p;
                while (xml_name_char(*p)) p++;
                if (!depth) XML_FAIL("closing tag without an open element");
                if ((size_t)(p - n) != lens[depth - 1] || strncmp(n, stack[depth - 1], lens[depth - 1]))
                    XML_FAIL("</%.*s> closes <%.*s>", (int)(p - n), n, (int)lens[depth - 1], stack[depth - 1]);
                while (isspace((unsigned char)*p)) p++;
                if (*p != '>') XML_FAIL("'>' expected");
                p++;
                depth--;
                continue;
            }
            p++;
            if (!xml_name_start(*p)) XML_FAIL("bad element name");
            const char *n = p;
            while (xml_name_char(*p)) p++;
            size_t nl = (size_t)(p - n);
            if (depth == 0 && roots++) XML_FAIL("a second root element");
            const char *attrs[64];
            size_t alens[64], na = 0;
            for (;;) {
                int space = 0;
                while (isspace((unsigned char)*p)) p++, space = 1;
                if (*p == '>' || (*p == '/' && p[1] == '>')) break;
                if (!space || !xml_name_start(*p)) XML_FAIL("attribute expected in <%.*s>", (int)nl, n);
                const char *a = p;
                while (xml_name_char(*p)) p++;
                size_t al = (size_t)(p - a);
                for (size_t i = 0; i < na; i++)
                    if (alens[i] == al && !strncmp(attrs[i], a, al)) XML_FAIL("attribute %.*s twice", (int)al, a);
                if (na < 64) attrs[na] = a, alens[na++] = al;
                while (isspace((unsigned char)*p)) p++;
                if (*p != '=') XML_FAIL("'=' expected after %.*s", (int)al, a);
                p++;
                while (isspace((unsigned char)*p)) p++;
                char q = *p;
                if (q != '"' && q != '\'') XML_FAIL("unquoted value of %.*s", (int)al, a);
                p++;
                while (*p && *p != q) {
                    if (*p == '<') XML_FAIL("'<' in the value of %.*s", (int)al, a);
                    if (*p == '&') {
                        size_t e = xml_entity(p);
                        if (!e) XML_FAIL("bad entity in the value of %.*s", (int)al, a);
                        p += e;
                    } else {
                        p++;
                    }
                }
                if (!*p) XML_FAIL("unterminated value");
                p++;
            }
            if (*p == '/') {
                p += 2;
            } else {
                p++;
                if (depth == 256) XML_FAIL("too deep");
                stack[depth] = n;
                lens[depth++] = nl;
            }
        } else if (*p == '&') {
            size_t e = xml_entity(p);
            if (!e) XML_FAIL("bad entity in text");
            if (!depth) XML_FAIL("text outside the root");
            p += e;
        } else {
            if (!depth && !isspace((unsigned char)*p)) XML_FAIL("text outside the root");
            if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r') XML_FAIL("control character");
            p++;
        }
    }
    if (depth) XML_FAIL("<%.*s> is not closed", (int)lens[depth - 1], stack[depth - 1]);
    if (roots != 1) XML_FAIL("no root element");
#undef XML_FAIL
    return 1;
}

#endif
