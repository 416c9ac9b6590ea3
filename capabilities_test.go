package wasmcluster_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// TestServeOutbound runs `wasmcluster serve --allow-outbound` with 2
// workers: the Go guest's http.Get reaches the allowed server, and only it.
func TestServeOutbound(t *testing.T) {
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "upstream got "+r.URL.Path)
	}))
	defer allowed.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	defer refused.Close()
	s := serveModule(t, testwasm.GoReactor(t, "guest-sdk/go/internal/testcapabilities"), "--allow-outbound", allowed.URL)

	for range 4 { // over both workers
		res, body, err := s.get("/fetch?url=" + url.QueryEscape(allowed.URL+"/up"))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.StatusCode, body)
		assert.Equal(t, "upstream got /up", body)
	}
	res, body, err := s.get("/fetch?url=" + url.QueryEscape(refused.URL+"/no"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadGateway, res.StatusCode)
	assert.Contains(t, body, "is not in the allow-list")
	assert.Eventually(t, func() bool { return strings.Contains(s.log.String(), `msg="outbound request refused"`) },
		10*time.Second, 50*time.Millisecond, "the refusal is logged")
}
