/* The hello handler as a plain C program: a WASI command that speaks CGI.
 * No SDK: the request is in the environment and on stdin, the response
 * goes to stdout.
 *
 *   clang --target=wasm32-wasi -O2 -o hello.wasm examples/hello-wasm/cgi-c/hello.c
 *
 * GET /any/path answers "Hello from wasmcluster: /any/path"; a POST echoes
 * its body. Every response carries X-Hello: wasmcluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char buf[64 * 1024]; /* not on the stack: Wasm stacks are small */

int main(void) {
  const char *method = getenv("REQUEST_METHOD");
  const char *path = getenv("PATH_INFO");
  printf("Status: 200 OK\r\n");
  printf("X-Hello: wasmcluster\r\n");
  printf("Content-Type: text/plain; charset=utf-8\r\n\r\n");
  if (method && strcmp(method, "POST") == 0) {
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
      fwrite(buf, 1, n, stdout);
    }
    return 0;
  }
  printf("Hello from wasmcluster: %s\n", path ? path : "/");
  return 0;
}
