/*
 * modules/router.h -- sentence-transformers' Router (legacy name Asym): an
 * input module holding several routes, each a list of modules, picked per
 * encode call by the task ("query" / "document", what encode_query /
 * encode_document pass) and the modality (always "text" here).
 *
 * Folder (the Router's path, usually the model root): router_config.json
 * (or a legacy config.json) {"types": {id: class}, "structure": {route:
 * [id, ...]}, "parameters": {"default_route", "allow_empty_key",
 * "route_mappings": {"('query', None)": route, ...}}}, and one sub-folder per
 * id. Route resolution follows Router._resolve_route: (task, "text"),
 * (task, None), (None, "text"), (None, None) in route_mappings, then a route
 * named like the task, then one named "text", then -- only when no task was
 * given -- default_route (the first route when it is null and
 * allow_empty_key); a task with no route is an error naming the routes.
 *
 * The active route is chosen with sbert_router_select before tokenizing and
 * running (the pipeline does it from sbert_encode_options.task). Router
 * models are inference-only here (training with router_mapping is not
 * supported yet).
 */
#ifndef SBERT_MODULES_ROUTER_H
#define SBERT_MODULES_ROUTER_H

#include "modules/module.h"

sbert_status sbert_router_load(const sbert_module_load_ctx *ctx, sbert_module **out);
int sbert_module_is_router(const sbert_module *m);
/* Choose the route for `task` (NULL: none given). */
sbert_status sbert_router_select(sbert_module *m, const char *task);
/* Check every route (SparseEncoder rules; all routes give one width). */
sbert_status sbert_router_check(sbert_module *m);

#endif
