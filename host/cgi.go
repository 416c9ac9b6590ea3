package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/sys"
)

// serveCGI runs the module's _start once for the request, CGI/1.1 style:
// the request goes in as environment variables and stdin, the response
// comes out of stdout as header lines, a blank line and the body.
func (h *Handler) serveCGI(w http.ResponseWriter, r *http.Request, _ http.Handler) {
	if h.refuseLargeBody(w, r) {
		return
	}
	select {
	case h.cgiSem <- struct{}{}:
		defer func() { <-h.cgiSem }()
	case <-r.Context().Done():
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()

	id := r.Header.Get("X-Request-Id")
	if id == "" {
		id = strconv.FormatUint(h.requestSeq.Add(1), 10)
	}
	logLine := func(level slog.Level, msg string, args ...any) {
		h.cfg.Logger.Log(context.Background(), level, msg, append(args, "request_id", id)...)
	}
	// The guest runs under an interrupter that ctx's end — the timeout or
	// the client gone — stops, in _start or in its start function alike.
	run := newInterrupter()
	stop := context.AfterFunc(ctx, func() { run.interrupt(context.Cause(ctx)) })
	defer stop()
	var logs logBudget
	stderr := &guestOutput{stop: &run, log: func(line string) {
		if logs.take(h.cfg.Logger, len(line), id) {
			logLine(slog.LevelInfo, "guest stderr", "line", line)
		}
	}}
	defer stderr.flush()

	var body io.Reader = http.NoBody
	if r.Body != nil {
		body = r.Body
		if h.cfg.MaxRequestBody >= 0 {
			body = http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBody)
		}
	}
	stdin := &cgiStdin{r: body}
	stdout := &limitedBuffer{max: h.cfg.MaxResponseBody}

	mc := h.moduleConfig(&run).
		WithArgs("handler").
		WithStdin(run.reader(stdin)).
		WithStdout(stdout).
		WithStderr(stderr)
	for _, kv := range cgiEnv(r) {
		mc = mc.WithEnv(kv[0], kv[1])
	}
	mod, err := h.runtime.InstantiateModule(&run, h.compiled, mc)
	if err == nil {
		run.arm(mod)
		err = runStart(&run, mod, "_start")
		_ = mod.Close(context.Background())
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		logLine(slog.LevelError, "guest exceeded its deadline", "timeout", h.cfg.Timeout.String())
		http.Error(w, http.StatusText(http.StatusGatewayTimeout), http.StatusGatewayTimeout)
		return
	case r.Context().Err() != nil:
		logLine(slog.LevelDebug, "client went away while the guest ran")
		return
	case stdin.tooLarge:
		logLine(slog.LevelWarn, "request body over the limit", "max_body", h.cfg.MaxRequestBody)
		http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
		return
	case stdin.bad != nil:
		logLine(slog.LevelInfo, "malformed request body", "error", stdin.bad.Error())
		http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
		return
	case err != nil:
		logLine(slog.LevelError, "guest failed", "error", firstLine(err).Error())
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	case stdout.overflow:
		logLine(slog.LevelError, "guest response over the limit", "max_response", h.cfg.MaxResponseBody)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	if err := writeCGIResponse(w, stdout.Bytes()); err != nil {
		logLine(slog.LevelError, "malformed CGI response", "error", err.Error())
		http.Error(w, http.StatusText(http.StatusBadGateway), http.StatusBadGateway)
	}
}

// cgiEnv returns the CGI/1.1 meta-variables for r.
func cgiEnv(r *http.Request) [][2]string {
	env := [][2]string{
		{"GATEWAY_INTERFACE", "CGI/1.1"},
		{"SERVER_SOFTWARE", "wasmcluster"},
		{"SERVER_PROTOCOL", r.Proto},
		{"REQUEST_METHOD", r.Method},
		{"REQUEST_URI", r.RequestURI},
		{"SCRIPT_NAME", ""},
		{"PATH_INFO", r.URL.Path},
		{"QUERY_STRING", r.URL.RawQuery},
	}
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		env = append(env, [2]string{"REMOTE_ADDR", host}, [2]string{"REMOTE_PORT", port})
	}
	serverName, serverPort := r.Host, "80"
	if r.TLS != nil {
		serverPort = "443"
		env = append(env, [2]string{"HTTPS", "on"})
	}
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		serverName, serverPort = host, port
	}
	env = append(env, [2]string{"SERVER_NAME", serverName}, [2]string{"SERVER_PORT", serverPort})
	if ct := r.Header.Get("Content-Type"); ct != "" {
		env = append(env, [2]string{"CONTENT_TYPE", ct})
	}
	if r.ContentLength >= 0 {
		env = append(env, [2]string{"CONTENT_LENGTH", strconv.FormatInt(r.ContentLength, 10)})
	}
	if r.Host != "" {
		env = append(env, [2]string{"HTTP_HOST", r.Host})
	}
	for name, values := range r.Header {
		key := "HTTP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		switch key {
		case "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_PROXY", "HTTP_HOST":
			// Passed above, or (Proxy) never: a client must not be able to
			// set the guest's HTTP_PROXY.
			continue
		}
		env = append(env, [2]string{key, strings.Join(values, ", ")})
	}
	return env
}

// writeCGIResponse parses a CGI response (header lines, a blank line, the
// body) and sends it.
func writeCGIResponse(w http.ResponseWriter, out []byte) error {
	status := http.StatusOK
	hdr := make(http.Header)
	for lines := 0; ; lines++ {
		i := bytes.IndexByte(out, '\n')
		if i < 0 {
			return errors.New("no blank line ends the header section")
		}
		line := string(bytes.TrimSuffix(out[:i], []byte("\r")))
		out = out[i+1:]
		if line == "" {
			if lines == 0 {
				return errors.New("the response has no header lines")
			}
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.IndexFunc(name, notTokenRune) >= 0 {
			return fmt.Errorf("header line %q is not Name: value", line)
		}
		value = strings.TrimSpace(value)
		if !strings.EqualFold(name, "Status") {
			hdr.Add(name, value)
			continue
		}
		code, _, _ := strings.Cut(value, " ")
		var err error
		if status, err = strconv.Atoi(code); err != nil || status < 100 || status > 999 {
			return fmt.Errorf("status %q is not a status code", value)
		}
	}
	if hdr.Get("Location") != "" && status == http.StatusOK {
		status = http.StatusFound
	}
	hdr.Set("Content-Length", strconv.Itoa(len(out)))
	maps.Copy(w.Header(), hdr)
	w.WriteHeader(status)
	_, _ = w.Write(out) // a client that hung up is not the guest's fault
	return nil
}

// cgiStdin is the request body as the guest's stdin; it notes a body over
// the limit, or one that could not be read, so the client gets 413 or 400
// rather than 500.
type cgiStdin struct {
	r        io.Reader
	tooLarge bool
	bad      error // reading the body failed: the client's fault
}

func (s *cgiStdin) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.tooLarge = true
	case err != nil && err != io.EOF:
		s.bad = err
	}
	return n, err
}

// limitedBuffer collects the guest's stdout up to max bytes (negative: no
// limit) and fails writes past that.
type limitedBuffer struct {
	bytes.Buffer
	max      int64
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.max >= 0 && int64(b.Len()+len(p)) > b.max {
		b.overflow = true
		return 0, errors.New("response over the limit")
	}
	return b.Buffer.Write(p)
}
