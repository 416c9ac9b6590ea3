// Command testkv drives every function of the kv package over HTTP, for
// the tests: PUT /k/KEY[?ttl=MS] sets the body, GET /k/KEY reads (404 when
// not set), DELETE /k/KEY, HEAD /k/KEY (exists), POST /inc/KEY increments,
// POST /cas/KEY increments with a compare-and-swap loop, PUT
// /swap/KEY[?old=OLD] swaps the body in if KEY holds OLD (no old: is not
// set) and answers 409 when it held something else, GET
// /list?prefix=P&after=A&limit=N lists one key a line. ?store=NAME picks
// a store other than "default". A store that fails answers 503.
package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
	"github.com/wasmcluster/wasmcluster/guest-sdk/go/kv"
)

func init() {
	guest.Handle(http.HandlerFunc(serve))
}

func serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	store := kv.Default
	if name := q.Get("store"); name != "" {
		store = kv.Open(name)
	}
	op, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var (
		out   string
		found = true
		err   error
	)
	switch {
	case op == "k" && r.Method == "PUT":
		body, _ := io.ReadAll(r.Body)
		ttl, _ := strconv.Atoi(q.Get("ttl"))
		err = store.SetTTL(key, body, time.Duration(ttl)*time.Millisecond)
	case op == "k" && r.Method == "GET":
		var v []byte
		v, found, err = store.Get(key)
		out = string(v)
	case op == "k" && r.Method == "DELETE":
		found, err = store.Delete(key)
	case op == "k" && r.Method == "HEAD":
		found, err = store.Exists(key)
	case op == "inc":
		var n int64
		n, err = store.Increment(key, 1)
		out = strconv.FormatInt(n, 10)
	case op == "cas":
		out, err = casIncrement(store, key)
	case op == "swap":
		body, _ := io.ReadAll(r.Body)
		var old []byte
		if q.Has("old") {
			old = []byte(q.Get("old"))
		}
		var swapped bool
		if swapped, err = store.CompareAndSwap(key, old, body); err == nil && !swapped {
			http.Error(w, "conflict", http.StatusConflict)
			return
		}
	case op == "list":
		limit, _ := strconv.Atoi(q.Get("limit"))
		var keys []string
		keys, err = store.List(q.Get("prefix"), q.Get("after"), limit)
		out = strings.Join(keys, "\n")
	default:
		http.NotFound(w, r)
		return
	}
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	case !found:
		http.NotFound(w, r)
	default:
		io.WriteString(w, out)
	}
}

// casIncrement adds one to the counter at key with compare-and-swap,
// trying again while another request gets in between.
func casIncrement(store kv.Store, key string) (string, error) {
	for {
		old, found, err := store.Get(key)
		if err != nil {
			return "", err
		}
		n := int64(0)
		if found {
			n, _ = strconv.ParseInt(string(old), 10, 64)
		} else {
			old = nil
		}
		next := strconv.FormatInt(n+1, 10)
		swapped, err := store.CompareAndSwap(key, old, []byte(next))
		if err != nil || swapped {
			return next, err
		}
	}
}

func main() {}
