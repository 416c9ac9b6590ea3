package host

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// capabilitiesGuest serves the Go SDK's test guest of host functions and
// outbound HTTP with cfg on a loopback server.
func capabilitiesGuest(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	// One compilation serves every test of the package.
	cfg.CompilationCacheDir = testwasm.Cached(t, "compilation cache", func(dir string) string { return dir })
	h, err := Load(context.Background(), testwasm.GoReactor(t, "guest-sdk/go/internal/testcapabilities"), cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		_ = h.Close(context.Background())
	})
	return srv
}

// fetchThrough asks the guest at srv to send a method request with body
// to target, and returns the guest's status and body.
func fetchThrough(t *testing.T, srv *httptest.Server, method, target, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/fetch?url="+url.QueryEscape(target), strings.NewReader(body))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

// upstream answers with what it got: method, the guest's header, body.
var upstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Upstream", r.Proto)
	fmt.Fprintf(w, "%s %s from=%s body=%s", r.Method, r.URL.Path, r.Header.Get("X-From"), body)
})

func TestOutbound(t *testing.T) {
	plain := httptest.NewServer(upstream)
	defer plain.Close()
	tlsSrv := httptest.NewUnstartedServer(upstream)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	other := httptest.NewServer(upstream) // on a port no pattern allows
	defer other.Close()
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	redirector := httptest.NewServer(redirect)
	defer redirector.Close()

	var logs logbuf.Buffer
	srv := capabilitiesGuest(t, Config{Logger: logs.Logger(), Outbound: Outbound{
		Allow:   []string{plain.URL, redirector.URL, "https://127.0.0.1:*"},
		RootCAs: tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
	}})

	t.Run("allowed, plain", func(t *testing.T) {
		res, body := fetchThrough(t, srv, "POST", plain.URL+"/x", "ping")
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "POST /x from=guest body=ping", body)
	})
	t.Run("allowed, TLS and HTTP/2", func(t *testing.T) {
		res, body := fetchThrough(t, srv, "GET", tlsSrv.URL+"/y", "")
		assert.Equal(t, http.StatusOK, res.StatusCode, body)
		assert.Equal(t, "GET /y from=guest body=", body)
		assert.Equal(t, "HTTP/2.0", res.Header.Get("X-Upstream"))
	})
	t.Run("refused", func(t *testing.T) {
		res, body := fetchThrough(t, srv, "GET", other.URL+"/z", "")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		assert.Contains(t, body, "outbound request refused: http://"+strings.TrimPrefix(other.URL, "http://")+" is not in the allow-list")
		assert.Contains(t, logs.String(), `msg="outbound request refused"`)
	})
	t.Run("a redirect to a refused destination", func(t *testing.T) {
		res, body := fetchThrough(t, srv, "GET", redirector.URL+"/?to="+url.QueryEscape(other.URL+"/z"), "")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		assert.Contains(t, body, "is not in the allow-list")
		res, body = fetchThrough(t, srv, "GET", redirector.URL+"/?to="+url.QueryEscape(plain.URL+"/ok"), "")
		assert.Equal(t, http.StatusOK, res.StatusCode, "a redirect to an allowed one is followed")
		assert.Equal(t, "GET /ok from=guest body=", body)
	})
	t.Run("a name resolving to loopback needs an exact pattern", func(t *testing.T) {
		target := "http://localhost:" + port(plain.URL) + "/n"
		wildcard := capabilitiesGuest(t, Config{Outbound: Outbound{Allow: []string{"http://*:*"}}})
		res, body := fetchThrough(t, wildcard, "GET", target, "")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		assert.Contains(t, body, "localhost resolves to 127.0.0.1, a loopback address")

		exact := capabilitiesGuest(t, Config{Outbound: Outbound{Allow: []string{"http://localhost:*"}}})
		res, body = fetchThrough(t, exact, "GET", target, "")
		assert.Equal(t, http.StatusOK, res.StatusCode, body)
	})
}

// port returns the port of a server's URL.
func port(rawURL string) string {
	u, _ := url.Parse(rawURL)
	return u.Port()
}

func TestOutboundOffByDefault(t *testing.T) {
	plain := httptest.NewServer(upstream)
	defer plain.Close()
	srv := capabilitiesGuest(t, Config{})
	res, body := fetchThrough(t, srv, "GET", plain.URL, "")
	assert.Equal(t, http.StatusBadGateway, res.StatusCode)
	assert.Contains(t, body, "outbound HTTP is off: no destination is allowed")
}

func TestOutboundLimits(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	}))
	defer slow.Close()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, 5000))
	}))
	defer big.Close()
	srv := capabilitiesGuest(t, Config{Outbound: Outbound{
		Allow:           []string{"http://127.0.0.1:*"},
		Timeout:         300 * time.Millisecond,
		MaxResponseBody: 4000,
	}})

	t.Run("timeout", func(t *testing.T) {
		res, body := fetchThrough(t, srv, "GET", slow.URL, "")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		assert.Contains(t, body, "timed out")
	})
	t.Run("a response body over the limit", func(t *testing.T) {
		res, body := fetchThrough(t, srv, "GET", big.URL, "")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		assert.Contains(t, body, "is over the limit of 4000 bytes")
	})
}

func TestOutboundStreamsBothWays(t *testing.T) {
	// The guest writes the second part of its request body only once the
	// upstream has the first; the upstream sends the second part of its
	// answer only once the guest has read the first.
	upstreamGot := make(chan struct{})
	guestRead := make(chan string, 4)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		_, err := io.ReadFull(r.Body, buf)
		assert.NoError(t, err)
		close(upstreamGot)
		rest, _ := io.ReadAll(r.Body)
		_, _ = w.Write(buf)
		w.(http.Flusher).Flush()
		select {
		case <-guestRead:
		case <-time.After(20 * time.Second):
			return
		}
		_, _ = w.Write(rest)
	}))
	defer echo.Close()
	wait := func(context.Context, []byte) ([]byte, error) {
		select {
		case <-upstreamGot:
			return nil, nil
		case <-time.After(20 * time.Second):
			return nil, fmt.Errorf("the upstream never got part1")
		}
	}
	chunk := func(_ context.Context, in []byte) ([]byte, error) {
		guestRead <- string(in)
		return nil, nil
	}
	srv := capabilitiesGuest(t, Config{
		Functions: map[string]Function{"chunk": chunk, "wait": wait},
		Outbound:  Outbound{Allow: []string{"http://127.0.0.1:*"}},
	})
	res, err := http.Get(srv.URL + "/stream?url=" + url.QueryEscape(echo.URL))
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "part1part2", string(body))
}

func TestOutboundConcurrent(t *testing.T) {
	plain := httptest.NewServer(upstream)
	defer plain.Close()
	srv := capabilitiesGuest(t, Config{MaxInstances: 64, Outbound: Outbound{Allow: []string{plain.URL}}})
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Post(srv.URL+"/fetch?url="+url.QueryEscape(plain.URL+"/c"), "text/plain", strings.NewReader(fmt.Sprint(i)))
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if want := fmt.Sprintf("POST /c from=guest body=%d", i); string(body) != want {
				errs <- fmt.Errorf("request %d: got %d %q, want %q", i, res.StatusCode, body, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAllowList(t *testing.T) {
	list, err := parseAllowList([]string{"https://api.example.com", "https://*.example.com:8443", "http://127.0.0.1:*", "*://[::1]:9000"})
	require.NoError(t, err)
	for rawURL, want := range map[string]bool{
		"https://api.example.com/v1":      true,
		"https://api.example.com:443/v1":  true,
		"https://api.example.com:9443/v1": false,
		"http://api.example.com/":         false,
		"https://a.b.example.com:8443/":   true,
		"https://example.com:8443/":       false,
		"https://evilexample.com:8443/":   false,
		"http://127.0.0.1:1234/":          true,
		"https://127.0.0.1:1234/":         false,
		"http://[::1]:9000/":              true,
		"https://[::1]:9000/":             true,
		"http://[::1]:9001/":              false,
	} {
		u, err := url.Parse(rawURL)
		require.NoError(t, err)
		assert.Equal(t, want, list.allows(u), rawURL)
	}
	for _, bad := range []string{"api.example.com", "ftp://x", "https://a.com/path", "https://a.*.com", "https://a.com:0", "https://::1"} {
		_, err := parseAllowList([]string{bad})
		assert.Error(t, err, bad)
	}
	_, err = New(context.Background(), testwasm.WAT(t, helloWAT), Config{Outbound: Outbound{Allow: []string{"nope"}}})
	assert.ErrorContains(t, err, `outbound pattern "nope": want scheme://host[:port]`)
}
