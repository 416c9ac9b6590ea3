package host

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// cgiGuest builds host/testdata/cgi and starts a Handler for it.
func cgiGuest(t *testing.T, cfg Config) *Handler {
	t.Helper()
	h, err := Load(context.Background(), testwasm.GoCommand(t, "host/testdata/cgi"), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

func TestCGI(t *testing.T) {
	var logs logbuf.Buffer
	h := cgiGuest(t, Config{Env: map[string]string{"CONFIGURED": "yes"}, Logger: logs.Logger()})
	require.Equal(t, ModeCGI, h.Mode(), "detected from the exports")

	t.Run("request in, response out", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/echo?a=1&b=2", strings.NewReader("posted body"))
		req.Header.Set("X-Test", "header value")
		req.Header["X_Test"] = []string{"spoofed"} // dropped, not HTTP_X_TEST
		req.Header.Set("Proxy", "http://evil.example")
		rec := serve(h, req)
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "text/plain", rec.Header().Get("Content-Type"))
		assert.Equal(t, "POST", rec.Header().Get("X-Method"))
		assert.Equal(t, "a=1&b=2", rec.Header().Get("X-Query"))
		assert.Equal(t, "header value", rec.Header().Get("X-Test"))
		assert.Equal(t, "11", rec.Header().Get("X-Length"))
		assert.Equal(t, "yes", rec.Header().Get("X-Configured"))
		assert.Equal(t, "", rec.Header().Get("X-Proxy"), "no HTTP_PROXY from the client")
		assert.Equal(t, "posted body", rec.Body.String())
	})
	t.Run("status header", func(t *testing.T) {
		rec := serve(h, httptest.NewRequest("GET", "/teapot", nil))
		assert.Equal(t, http.StatusTeapot, rec.Code)
		assert.Equal(t, "short and stout", rec.Body.String())
	})
	t.Run("location alone redirects", func(t *testing.T) {
		rec := serve(h, httptest.NewRequest("GET", "/redirect", nil))
		assert.Equal(t, http.StatusFound, rec.Code)
		assert.Equal(t, "/elsewhere", rec.Header().Get("Location"))
	})
	t.Run("malformed response is 502", func(t *testing.T) {
		rec := serve(h, httptest.NewRequest("GET", "/malformed", nil))
		assert.Equal(t, http.StatusBadGateway, rec.Code)
		assert.Contains(t, logs.String(), `msg="malformed CGI response" error="no blank line ends the header section"`)
	})
	t.Run("non-zero exit is 500 with stderr logged", func(t *testing.T) {
		rec := serve(h, httptest.NewRequest("GET", "/fail", nil))
		assert.Equal(t, http.StatusInternalServerError, rec.Code)
		assert.Equal(t, "Internal Server Error\n", rec.Body.String())
		assert.Contains(t, logs.String(), `msg="guest stderr" line=boom`)
		assert.Contains(t, logs.String(), "exit_code(3)")
	})
}

func TestCGIRunawayGets504(t *testing.T) {
	h := cgiGuest(t, Config{Timeout: 300 * time.Millisecond})
	start := time.Now()
	rec := serve(h, httptest.NewRequest("GET", "/spin", nil))
	assert.Equal(t, http.StatusGatewayTimeout, rec.Code)
	assert.Less(t, time.Since(start), 400*time.Millisecond)
}

func TestCGIBodyOverTheLimitGets413(t *testing.T) {
	h := cgiGuest(t, Config{MaxRequestBody: 10})
	req := httptest.NewRequest("POST", "/echo", strings.NewReader(strings.Repeat("x", 100)))
	req.ContentLength = -1
	assert.Equal(t, http.StatusRequestEntityTooLarge, serve(h, req).Code)
}

func TestCGIMountsAreReadOnly(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "greeting.txt"), []byte("hi from the host"), 0o644))
	// Symlinks out of the mount: the guest must not follow them.
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")))
	require.NoError(t, os.Symlink("/", filepath.Join(dir, "up")))
	h := cgiGuest(t, Config{Mounts: []Mount{{HostPath: dir, GuestPath: "/data"}}})

	rec := serve(h, httptest.NewRequest("GET", "/file?/data/greeting.txt", nil))
	assert.Equal(t, "hi from the host", rec.Body.String())
	assert.Equal(t, "<nil>", rec.Header().Get("X-Read-Error"))
	assert.NotEqual(t, "<nil>", rec.Header().Get("X-Write-Error"), "the mount is read-only")
	assert.NoFileExists(t, filepath.Join(dir, "greeting.txt.new"))

	for _, escape := range []string{"/data/passwd", "/data/up/etc/passwd", "/data/../etc/passwd"} {
		rec := serve(h, httptest.NewRequest("GET", "/file?"+escape, nil))
		assert.NotEqual(t, "<nil>", rec.Header().Get("X-Read-Error"), "%s stays sealed", escape)
		assert.NotContains(t, rec.Body.String(), "root:", escape)
	}

	unmounted := cgiGuest(t, Config{})
	rec = serve(unmounted, httptest.NewRequest("GET", "/file?/data/greeting.txt", nil))
	assert.NotEqual(t, "<nil>", rec.Header().Get("X-Read-Error"), "no files unless mounted")
}

func TestCompilationCacheIsShared(t *testing.T) {
	dir := t.TempDir()
	path := testwasm.GoCommand(t, "host/testdata/cgi")
	load := func() {
		h, err := Load(context.Background(), path, Config{CompilationCacheDir: dir})
		require.NoError(t, err)
		require.NoError(t, h.Close(context.Background()))
	}
	// files maps each file in the cache to its inode: an entry written
	// again would be a new file.
	files := func() map[string]uint64 {
		m := map[string]uint64{}
		require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				fi, err := d.Info()
				require.NoError(t, err)
				m[p] = fi.Sys().(*syscall.Stat_t).Ino
			}
			return err
		}))
		return m
	}
	load()
	written := files()
	require.NotEmpty(t, written, "compiled code was written for other processes to reuse")
	load()
	assert.Equal(t, written, files(), "the second load read the cache and wrote nothing")
}
