// Package transports serves a handler over each HTTP version a client may
// use, for tests whose behaviour depends on the transport.
package transports

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Each runs check against h served on loopback over HTTP/1.1 and over
// HTTP/2 with TLS, as subtests named by the protocol ("HTTP/1.1",
// "HTTP/2.0"). The client gives up after 10 s, so a response that never
// ends fails rather than hangs.
func Each(t *testing.T, h http.Handler, check func(t *testing.T, c *http.Client, url string)) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(h)
			if proto == "HTTP/2.0" {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			c := srv.Client()
			c.Timeout = 10 * time.Second
			check(t, c, srv.URL)
		})
	}
}
