/*
 * modules/router.c -- the Router module (see router.h): load its routes and
 * their modules, resolve a route, run it, save it back.
 */
#include "modules/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/dirs.h"
#include "io/file.h"
#include "modules/splade_pooling.h"

#define PATH_CAP 4096

typedef struct {
    char *name;
    size_t n;
    size_t *ids; /* indices into the module table, in route order */
} route;

typedef struct {
    char *task, *modality, *route; /* NULL task / modality: None (a wildcard) */
    int tuple_modality;            /* a multimodal key: never matches text */
} mapping;

typedef struct {
    sbert_module base;
    size_t n_mods;
    char **ids, **types;
    sbert_module **mods;
    route *routes;
    size_t n_routes;
    mapping *maps;
    size_t n_maps;
    long def;        /* default route index, -1 none */
    int allow_empty_key;
    size_t active;   /* selected route */
    cJSON *params;   /* "parameters" as loaded, written back */
    int legacy_config; /* read from config.json (written back as router_config.json) */
} router_module;

static const sbert_module_ops ROUTER_OPS;

int sbert_module_is_router(const sbert_module *m) { return m && m->ops == &ROUTER_OPS; }

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static long find_route(const router_module *m, const char *name) {
    for (size_t i = 0; i < m->n_routes; i++)
        if (strcmp(m->routes[i].name, name) == 0) return (long)i;
    return -1;
}

static void routes_string(const router_module *m, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_routes && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%stask='%s'", i ? ", " : "", m->routes[i].name);
    for (size_t i = 0; i < m->n_maps && n < cap; i++)
        if (m->maps[i].task)
            n += (size_t)snprintf(buf + n, cap - n, ", task='%s'", m->maps[i].task);
}

/* ------------------------------------------------------------ routing */

static int str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static long lookup_map(const router_module *m, const char *task, const char *modality) {
    for (size_t i = 0; i < m->n_maps; i++)
        if (!m->maps[i].tuple_modality && str_eq(m->maps[i].task, task) && str_eq(m->maps[i].modality, modality))
            return find_route(m, m->maps[i].route);
    return -1;
}

sbert_status sbert_router_select(sbert_module *mod, const char *task) {
    router_module *m = (router_module *)mod;
    const char *modality = "text";
    long r = lookup_map(m, task, modality);
    if (r < 0) r = lookup_map(m, task, NULL);
    if (r < 0) r = lookup_map(m, NULL, modality);
    if (r < 0) r = lookup_map(m, NULL, NULL);
    if (r < 0 && task) r = find_route(m, task);
    if (r < 0) r = find_route(m, modality);
    if (r < 0 && task) {
        char routes[512];
        routes_string(m, routes, sizeof routes);
        return sbert_fail(SBERT_ERR_INVALID_ARG, "Router: no route for task '%s' (available routes: %s)", task, routes);
    }
    if (r < 0) r = m->def;
    if (r < 0) {
        char routes[512];
        routes_string(m, routes, sizeof routes);
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "Router: no task given and no default route (available routes: %s): encode with task query "
                          "or document",
                          routes);
    }
    m->active = (size_t)r;
    return SBERT_OK;
}

/* ------------------------------------------------------------ ops */

static const sbert_module *first_of(const router_module *m, size_t r) {
    return m->mods[m->routes[r].ids[0]];
}

static sbert_status ro_tokenize(const sbert_module *mod, const char *prompt, const char *text, const char *pair,
                                sbert_encoding *enc) {
    const router_module *m = (const router_module *)mod;
    const sbert_module *in = first_of(m, m->active);
    return in->ops->tokenize(in, prompt, text, pair, enc);
}

static const sbert_tokenizer *ro_tokenizer(const sbert_module *mod) {
    const router_module *m = (const router_module *)mod;
    const sbert_module *in = first_of(m, m->active);
    return in->ops->tokenizer ? in->ops->tokenizer(in) : NULL;
}

static size_t ro_max_seq_length(const sbert_module *mod) {
    const router_module *m = (const router_module *)mod;
    size_t best = 0;
    for (size_t r = 0; r < m->n_routes; r++) {
        const sbert_module *in = first_of(m, r);
        size_t v = in->ops->max_seq_length ? in->ops->max_seq_length(in) : 0;
        if (v > best) best = v;
    }
    return best;
}

static void ro_set_max_seq_length(sbert_module *mod, size_t n) {
    router_module *m = (router_module *)mod;
    for (size_t r = 0; r < m->n_routes; r++) {
        sbert_module *in = m->mods[m->routes[r].ids[0]];
        if (in->ops->set_max_seq_length) in->ops->set_max_seq_length(in, n);
    }
}

static sbert_status ro_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    router_module *m = (router_module *)mod;
    (void)rec;
    if (run->train)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "training a model with a Router (router_mapping) is not supported yet");
    const route *r = &m->routes[m->active];
    for (size_t i = 0; i < r->n; i++) {
        sbert_module *sub = m->mods[r->ids[i]];
        void *sub_rec = NULL;
        sbert_status st = sub->ops->forward(sub, f, run, &sub_rec);
        if (sub_rec && sub->ops->rec_free) sub->ops->rec_free(sub, sub_rec);
        if (st != SBERT_OK) {
            sbert_error_prefix("route '%s', %s: ", r->name, sub->ops->class_name);
            return st;
        }
    }
    return SBERT_OK;
}

static size_t ro_out_dim(const sbert_module *mod) {
    const router_module *m = (const router_module *)mod;
    const route *r = &m->routes[0];
    const sbert_module *last = m->mods[r->ids[r->n - 1]];
    return last->ops->out_dim(last);
}

static sbert_status ro_save(const sbert_module *mod, const char *dir) {
    const router_module *m = (const router_module *)mod;
    cJSON *root = cJSON_CreateObject(), *types = cJSON_CreateObject(), *structure = cJSON_CreateObject();
    cJSON *params = m->params ? cJSON_Duplicate(m->params, 1) : cJSON_CreateObject();
    sbert_status st = root && types && structure && params ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n_mods && st == SBERT_OK; i++) {
        char sub[PATH_CAP];
        st = sbert_path_join(sub, sizeof sub, dir, m->ids[i]);
        if (st == SBERT_OK) st = sbert_mkdir_p(sub);
        if (st == SBERT_OK) st = m->mods[i]->ops->save(m->mods[i], sub);
        if (st != SBERT_OK) sbert_error_prefix("Router module '%s': ", m->ids[i]);
        cJSON_AddStringToObject(types, m->ids[i], m->mods[i]->type);
    }
    for (size_t r = 0; r < m->n_routes && st == SBERT_OK; r++) {
        cJSON *list = cJSON_CreateArray();
        for (size_t i = 0; list && i < m->routes[r].n; i++)
            cJSON_AddItemToArray(list, cJSON_CreateString(m->ids[m->routes[r].ids[i]]));
        cJSON_AddItemToObject(structure, m->routes[r].name, list);
    }
    char *text = NULL;
    if (st == SBERT_OK) {
        cJSON_AddItemToObject(root, "types", types);
        cJSON_AddItemToObject(root, "structure", structure);
        cJSON_AddItemToObject(root, "parameters", params);
        types = structure = params = NULL;
        text = cJSON_Print(root);
        st = text ? sbert_write_text_file(dir, "router_config.json", text) : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    cJSON_free(text);
    cJSON_Delete(root);
    cJSON_Delete(types);
    cJSON_Delete(structure);
    cJSON_Delete(params);
    return st;
}

static void ro_free(sbert_module *mod) {
    router_module *m = (router_module *)mod;
    if (!m) return;
    sbert_module_fini(mod);
    for (size_t i = 0; i < m->n_mods; i++) {
        sbert_module_free(m->mods[i]);
        free(m->ids[i]);
        free(m->types[i]);
    }
    free(m->mods);
    free(m->ids);
    free(m->types);
    for (size_t r = 0; r < m->n_routes; r++) {
        free(m->routes[r].name);
        free(m->routes[r].ids);
    }
    free(m->routes);
    for (size_t i = 0; i < m->n_maps; i++) {
        free(m->maps[i].task);
        free(m->maps[i].modality);
        free(m->maps[i].route);
    }
    free(m->maps);
    cJSON_Delete(m->params);
    free(m);
}

static const sbert_module_ops ROUTER_OPS = {
    .class_name = "Router",
    .forward = ro_forward,
    .save = ro_save,
    .out_dim = ro_out_dim,
    .free = ro_free,
    .tokenize = ro_tokenize,
    .tokenizer = ro_tokenizer,
    .max_seq_length = ro_max_seq_length,
    .set_max_seq_length = ro_set_max_seq_length,
};

/* ------------------------------------------------------------ load */

/* One element of a Python tuple repr: None, 'str' / "str", or a tuple. */
static const char *parse_elem(const char *s, char **out, int *is_tuple, int *ok) {
    *out = NULL;
    *is_tuple = 0;
    while (*s == ' ') s++;
    if (strncmp(s, "None", 4) == 0) return s + 4;
    if (*s == '\'' || *s == '"') {
        char q = *s++;
        const char *e = strchr(s, q);
        if (!e) {
            *ok = 0;
            return s;
        }
        *out = malloc((size_t)(e - s) + 1);
        if (!*out) {
            *ok = 0;
            return s;
        }
        memcpy(*out, s, (size_t)(e - s));
        (*out)[e - s] = '\0';
        return e + 1;
    }
    if (*s == '(') {
        const char *e = strchr(s, ')');
        if (!e) {
            *ok = 0;
            return s;
        }
        *is_tuple = 1;
        return e + 1;
    }
    *ok = 0;
    return s;
}

static sbert_status parse_mapping(const char *key, const char *value, const char *path, mapping *mp) {
    int ok = 1, t1 = 0, t2 = 0;
    const char *s = key;
    while (*s == ' ') s++;
    if (*s++ != '(') ok = 0;
    if (ok) s = parse_elem(s, &mp->task, &t1, &ok);
    while (ok && *s == ' ') s++;
    if (ok && *s++ != ',') ok = 0;
    if (ok) s = parse_elem(s, &mp->modality, &t2, &ok);
    while (ok && *s == ' ') s++;
    if (ok && *s != ')') ok = 0;
    if (t1) ok = 0;
    mp->tuple_modality = t2;
    mp->route = dupstr(value);
    if (!ok || !mp->route)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: route_mappings key \"%s\" is not a (task, modality) tuple", path, key);
    return SBERT_OK;
}

enum { AT_IDS, AT_TOKENS, AT_SENTENCE };

static sbert_status load_routes(router_module *m, const sbert_module_load_ctx *ctx, const char *path,
                                const cJSON *types, const cJSON *structure) {
    size_t n = (size_t)cJSON_GetArraySize(types);
    m->ids = calloc(n + 1, sizeof *m->ids);
    m->types = calloc(n + 1, sizeof *m->types);
    m->mods = calloc(n + 1, sizeof *m->mods);
    size_t nr = (size_t)cJSON_GetArraySize(structure);
    m->routes = calloc(nr + 1, sizeof *m->routes);
    if (!m->ids || !m->types || !m->mods || !m->routes) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (Router)");
    for (const cJSON *e = types->child; e; e = e->next) {
        if (!cJSON_IsString(e)) return sbert_fail(SBERT_ERR_FORMAT, "%s: types[\"%s\"] must be a string", path, e->string);
        const char *id = e->string;
        if (!*id || strstr(id, "..") || id[0] == '/' || strchr(id, '\\'))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: module id \"%s\" leaves the Router's folder", path, id);
        m->ids[m->n_mods] = dupstr(id);
        m->types[m->n_mods] = dupstr(e->valuestring);
        if (!m->ids[m->n_mods] || !m->types[m->n_mods]) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        m->n_mods++;
    }
    for (const cJSON *r = structure->child; r; r = r->next) {
        route *rt = &m->routes[m->n_routes];
        rt->name = dupstr(r->string);
        if (!rt->name) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        m->n_routes++;
        if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) == 0)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: route \"%s\" must be a non-empty list of module ids", path,
                              r->string);
        rt->ids = calloc((size_t)cJSON_GetArraySize(r), sizeof *rt->ids);
        if (!rt->ids) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        int at = AT_IDS;
        size_t in_dim = 0;
        for (const cJSON *x = r->child; x; x = x->next) {
            if (!cJSON_IsString(x))
                return sbert_fail(SBERT_ERR_FORMAT, "%s: route \"%s\" holds a non-string id", path, r->string);
            size_t k = 0;
            while (k < m->n_mods && strcmp(m->ids[k], x->valuestring)) k++;
            if (k == m->n_mods)
                return sbert_fail(SBERT_ERR_FORMAT, "%s: route \"%s\" names module \"%s\", which is not in \"types\"",
                                  path, r->string, x->valuestring);
            const sbert_module_class *cls = sbert_module_class_find(m->types[k]);
            if (!cls)
                return sbert_fail(SBERT_ERR_UNSUPPORTED,
                                  "%s: module \"%s\" has type \"%s\", which is not supported (sbert handles %s, "
                                  "SparseStaticEmbedding and Router)",
                                  path, m->ids[k], m->types[k], sbert_module_class_list());
            int fits = cls->level == SBERT_MODULE_INPUT ? at == AT_IDS
                       : cls->level == SBERT_MODULE_TOKEN ? at == AT_TOKENS
                                                          : at == AT_SENTENCE;
            if (!fits || !strcmp(cls->class_name, "Router"))
                return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: route \"%s\": module \"%s\" (%s) cannot stand there",
                                  path, r->string, m->ids[k], cls->class_name);
            if (!m->mods[k]) {
                char sub[PATH_CAP];
                SBERT_TRY(sbert_path_join(sub, sizeof sub, ctx->dir, m->ids[k]));
                sbert_module_load_ctx c = {sub, ctx->model_dir, m->types[k], rt->n, in_dim, 1};
                sbert_status st = cls->load(&c, &m->mods[k]);
                if (st != SBERT_OK) {
                    sbert_error_prefix("Router module \"%s\": ", m->ids[k]);
                    return st;
                }
            }
            rt->ids[rt->n++] = k;
            in_dim = m->mods[k]->ops->out_dim(m->mods[k]);
            at = cls->produces_sentence ? AT_SENTENCE : AT_TOKENS;
        }
        if (at != AT_SENTENCE)
            return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: route \"%s\" does not end in a sentence embedding", path,
                              r->string);
    }
    for (size_t k = 0; k < m->n_mods; k++)
        if (!m->mods[k])
            return sbert_fail(SBERT_ERR_FORMAT, "%s: module \"%s\" is in \"types\" but in no route", path, m->ids[k]);
    return SBERT_OK;
}

static sbert_status ro_load_into(router_module *m, const sbert_module_load_ctx *ctx) {
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, ctx->dir, "router_config.json"));
    if (!sbert_file_exists(path)) {
        SBERT_TRY(sbert_path_join(path, sizeof path, ctx->dir, "config.json"));
        m->legacy_config = 1;
    }
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    sbert_status st = SBERT_OK;
    const cJSON *types = cJSON_IsObject(cfg) ? cJSON_GetObjectItemCaseSensitive(cfg, "types") : NULL;
    const cJSON *structure = cJSON_IsObject(cfg) ? cJSON_GetObjectItemCaseSensitive(cfg, "structure") : NULL;
    const cJSON *params = cJSON_IsObject(cfg) ? cJSON_GetObjectItemCaseSensitive(cfg, "parameters") : NULL;
    if (!cJSON_IsObject(types) || !cJSON_IsObject(structure) || cJSON_GetArraySize(structure) == 0)
        st = sbert_fail(SBERT_ERR_FORMAT,
                        "%s: a Router config needs \"types\" {id: class} and a non-empty \"structure\" {route: [id, "
                        "...]}",
                        path);
    if (st == SBERT_OK) st = load_routes(m, ctx, path, types, structure);
    m->def = -1;
    m->allow_empty_key = 1;
    if (st == SBERT_OK && params) {
        if (!cJSON_IsObject(params)) st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"parameters\" must be an object", path);
        else if (!(m->params = cJSON_Duplicate(params, 1))) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        const cJSON *aek = st == SBERT_OK ? cJSON_GetObjectItemCaseSensitive(params, "allow_empty_key") : NULL;
        if (cJSON_IsBool(aek)) m->allow_empty_key = cJSON_IsTrue(aek);
        const cJSON *dr = st == SBERT_OK ? cJSON_GetObjectItemCaseSensitive(params, "default_route") : NULL;
        if (cJSON_IsString(dr)) {
            m->def = find_route(m, dr->valuestring);
            if (m->def < 0)
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: default_route \"%s\" is not one of the routes", path,
                                dr->valuestring);
        }
        const cJSON *rm = st == SBERT_OK ? cJSON_GetObjectItemCaseSensitive(params, "route_mappings") : NULL;
        if (cJSON_IsObject(rm)) {
            m->maps = calloc((size_t)cJSON_GetArraySize(rm) + 1, sizeof *m->maps);
            if (!m->maps) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            for (const cJSON *e = rm->child; e && st == SBERT_OK; e = e->next) {
                if (!cJSON_IsString(e)) {
                    st = sbert_fail(SBERT_ERR_FORMAT, "%s: route_mappings values must be route names", path);
                    break;
                }
                st = parse_mapping(e->string, e->valuestring, path, &m->maps[m->n_maps]);
                m->n_maps++;
                if (st == SBERT_OK && find_route(m, e->valuestring) < 0)
                    st = sbert_fail(SBERT_ERR_FORMAT, "%s: route_mappings points to \"%s\", which is not a route",
                                    path, e->valuestring);
            }
        }
    }
    if (st == SBERT_OK && m->def < 0 && m->allow_empty_key) m->def = 0;
    if (st == SBERT_OK) m->active = m->def >= 0 ? (size_t)m->def : 0;
    cJSON_Delete(cfg);
    return st;
}

sbert_status sbert_router_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    *out = NULL;
    router_module *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (Router)");
    sbert_status st = sbert_module_init(&m->base, &ROUTER_OPS, ctx->type, NULL);
    if (st == SBERT_OK) st = ro_load_into(m, ctx);
    if (st != SBERT_OK) {
        ro_free(&m->base);
        return st;
    }
    *out = &m->base;
    return SBERT_OK;
}

sbert_status sbert_router_check(sbert_module *mod) {
    router_module *m = (router_module *)mod;
    size_t dim = 0;
    for (size_t r = 0; r < m->n_routes; r++) {
        route *rt = &m->routes[r];
        sbert_module *list[64];
        if (rt->n > 64) return sbert_fail(SBERT_ERR_UNSUPPORTED, "Router route '%s' has more than 64 modules", rt->name);
        for (size_t i = 0; i < rt->n; i++) list[i] = m->mods[rt->ids[i]];
        char where[256];
        snprintf(where, sizeof where, "Router route '%s'", rt->name);
        SBERT_TRY(sbert_sparse_check_pipeline(list, rt->n, where));
        size_t d = list[rt->n - 1]->ops->out_dim(list[rt->n - 1]);
        if (r == 0) dim = d;
        else if (d != dim)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "Router: route '%s' gives vectors of %zu dimensions, route '%s' of %zu: they must agree",
                              rt->name, d, m->routes[0].name, dim);
    }
    return SBERT_OK;
}
