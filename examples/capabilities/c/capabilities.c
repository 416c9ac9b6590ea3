/* Host functions and outbound HTTP in C, on guest-sdk/c.
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c -o capabilities.wasm \
 *       examples/capabilities/c/capabilities.c guest-sdk/c/wasmcluster.c guest-sdk/c/wc_capabilities.c
 *
 * GET /greet?NAME answers what the host function "greet" makes of NAME;
 * GET /fetch?URL answers the status and body of GET URL. */
#include "wasmcluster.h"
#include "wc_capabilities.h"

#include <stdio.h>
#include <string.h>

static char uri[4096];
static char out[64 * 1024];

/* fail answers 502 with the last error's message. */
static int fail(void) {
  wc_set_status(502);
  wc_write_str("error: ");
  wc_write(out, wc_last_error(out, sizeof out));
  return WC_DONE;
}

int wc_handle(void) {
  size_t n = wc_uri(uri, sizeof uri - 1);
  uri[n < sizeof uri ? n : 0] = 0;
  char *query = strchr(uri, '?');
  query = query ? query + 1 : "";
  if (strncmp(uri, "/greet?", 7) == 0) {
    int64_t r = wc_call("greet", query, strlen(query), out, sizeof out);
    if (r == WC_NOT_FOUND) {
      wc_set_status(404);
      wc_write_str("no greet function");
      return WC_DONE;
    }
    if (r < 0 || r > (int64_t)sizeof out) {
      return fail();
    }
    wc_write(out, (size_t)r);
    return WC_DONE;
  }
  if (strncmp(uri, "/fetch?", 7) == 0) {
    int status = 0;
    int64_t r = wc_fetch("GET", query, NULL, 0, &status, out, sizeof out);
    if (r < 0) {
      return fail();
    }
    char line[32];
    snprintf(line, sizeof line, "%d ", status);
    wc_write_str(line);
    wc_write(out, (size_t)r);
    return WC_DONE;
  }
  wc_set_status(404);
  return WC_DONE;
}
