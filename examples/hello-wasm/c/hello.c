/* The hello handler in C, on guest-sdk/c.
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c \
 *       -o hello.wasm examples/hello-wasm/c/hello.c guest-sdk/c/wasmcluster.c
 *
 * GET /any/path answers "Hello from wasmcluster: /any/path"; a POST echoes
 * its body. Every response carries X-Hello: wasmcluster. */
#include "wasmcluster.h"

static char buf[64 * 1024];

int wc_handle(void) {
  wc_set_header("X-Hello", "wasmcluster");
  wc_set_header("Content-Type", "text/plain; charset=utf-8");
  if (wc_method_is("POST")) {
    int eof = 0;
    while (!eof) {
      wc_write(buf, wc_read_body(buf, sizeof buf, &eof));
    }
    return WC_DONE;
  }
  size_t n = wc_path(buf, sizeof buf);
  wc_write_str("Hello from wasmcluster: ");
  wc_write(buf, n <= sizeof buf ? n : 0);
  wc_write_str("\n");
  return WC_DONE;
}
