/*
 * items — a tiny JSON store every worker shares, on the key-value store
 * "default":
 *
 *   PUT    /items/ID  stores the request body (a JSON object) as item ID
 *   GET    /items/ID  answers it, 404 when there is none
 *   DELETE /items/ID  removes it (204, or 404)
 *   GET    /items     answers the ids, as a JSON array of strings
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -I guest-sdk/c \
 *       -o items.wasm examples/items/c/items.c guest-sdk/c/wasmcluster.c
 *   wasmcluster serve items.wasm
 */
#include <string.h>

#include "wasmcluster.h"
#include "wasmcluster_kv.h"

#define STORE "default"
#define MAX_ITEM 65536

static char path[1024], key[1100], item[MAX_ITEM], keys[65536], msg[512];

/* answer sets the status and writes s. */
static int answer(int status, const char *s) {
  wc_set_status(status);
  wc_write_str(s);
  return WC_DONE;
}

/* failed answers 503 with the store's message. */
static int failed(void) {
  wc_kv_error(msg, sizeof msg);
  wc_set_status(503);
  wc_write_str(msg);
  wc_write_str("\n");
  return WC_DONE;
}

/* list answers the ids, page by page, as ["a","b"]. Ids hold no '"'. */
static int list(void) {
  char after[1100] = "";
  wc_set_header("content-type", "application/json");
  wc_write_str("[");
  int first = 1;
  for (;;) {
    int64_t n = wc_kv_list(STORE, "items/", after, 100, keys, sizeof keys);
    if (n < 0 || n > (int64_t)sizeof keys) return first ? failed() : WC_DONE;
    int count = 0;
    for (char *k = keys; k < keys + n; k += strlen(k) + 1, count++) {
      wc_write_str(first ? "\"" : ",\"");
      wc_write_str(k + strlen("items/"));
      wc_write_str("\"");
      first = 0;
      strncpy(after, k, sizeof after - 1);
    }
    if (count < 100) break;
  }
  wc_write_str("]\n");
  return WC_DONE;
}

int wc_handle(void) {
  size_t n = wc_path(path, sizeof path - 1);
  if (n >= sizeof path - 1) return answer(414, "path too long\n");
  path[n] = 0;
  if (strcmp(path, "/items") == 0 && wc_method_is("GET")) return list();
  if (strncmp(path, "/items/", 7) != 0 || path[7] == 0 || strchr(path + 7, '/') || strchr(path + 7, '"'))
    return answer(404, "not found\n");
  strcpy(key, "items/");
  strcat(key, path + 7);

  if (wc_method_is("GET")) {
    int64_t r = wc_kv_get(STORE, key, item, sizeof item);
    if (r == WC_KV_NOT_FOUND) return answer(404, "no such item\n");
    if (r < 0) return failed();
    if (r > (int64_t)sizeof item) return answer(500, "item larger than this handler reads\n");
    wc_set_header("content-type", "application/json");
    wc_write(item, (size_t)r);
    return WC_DONE;
  }
  if (wc_method_is("PUT")) {
    size_t len = 0;
    int eof = 0;
    while (!eof && len < sizeof item) len += wc_read_body(item + len, sizeof item - len, &eof);
    if (!eof) return answer(413, "item too large\n");
    if (len == 0 || item[0] != '{') return answer(400, "an item is a JSON object\n");
    if (wc_kv_set(STORE, key, item, len, 0) < 0) return failed();
    return answer(200, "stored\n");
  }
  if (wc_method_is("DELETE")) {
    int r = wc_kv_delete(STORE, key);
    if (r == WC_KV_NOT_FOUND) return answer(404, "no such item\n");
    if (r < 0) return failed();
    wc_set_status(204);
    return WC_DONE;
  }
  wc_set_header("allow", "GET, PUT, DELETE");
  return answer(405, "method not allowed\n");
}
