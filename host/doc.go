// Package host runs WebAssembly HTTP handlers on wazero as an http.Handler.
//
// A module is compiled once; live instances of it are kept in a pool and
// reused, one request at a time each. Two kinds of module are served:
//
//   - http-wasm handlers, which export handle_request (and optionally
//     handle_response) and import the host module "http_handler" — the
//     public http-wasm handler ABI. They are the fast path.
//   - WASI commands, which export _start and speak CGI/1.1: the request
//     arrives as environment variables and stdin, the response leaves on
//     stdout. Any language with a WASI target can write one; each request
//     starts a fresh instance.
//
// A Handler is an http.Handler on its own (a guest that passes the request
// on with next=1 reaches Config.Next, 404 by default) and middleware with
// Wrap. Every request is bounded: a deadline (504), instance memory (500),
// request body size (413) and response size. A guest that traps answers
// 500 and its instance is replaced; the process is never at risk.
package host
