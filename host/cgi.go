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
	"net/url"
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
	if err := h.cgiSlots.take(r.Context(), h.cfg.QueueTimeout); err != nil {
		switch {
		case errors.Is(err, errQueueTimeout):
			h.cfg.Logger.Warn("no guest instance free; answered 503", "queue_timeout", h.cfg.QueueTimeout.String())
			busy(w)
		case errors.Is(err, errPoolClosed):
			busy(w)
		}
		return
	}
	defer h.cgiSlots.give()
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
	stopOnClose := context.AfterFunc(h.cgiSlots.closing, func() { run.interrupt(errPoolClosed) })
	defer stopOnClose()
	var logs logBudget
	stderr := &guestOutput{level: slog.LevelWarn, stop: &run, log: func(level slog.Level, line string) {
		if logs.take(h.cfg.Logger, len(line), id) {
			logLine(level, "guest stderr", "line", line)
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
	stdout := &cgiStdout{w: w, max: h.cfg.MaxResponseBody, stdin: stdin}

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
	fail := func(level slog.Level, status int, msg string, args ...any) {
		logLine(level, msg, args...)
		if stdout.committed {
			// Part of the response is on its way: cut the connection so
			// the client sees a broken response rather than a short one.
			panic(http.ErrAbortHandler)
		}
		http.Error(w, http.StatusText(status), status)
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		h.metrics.timeouts.Inc()
		fail(slog.LevelError, http.StatusGatewayTimeout, "guest exceeded its deadline", "timeout", h.cfg.Timeout.String())
	case r.Context().Err() != nil:
		logLine(slog.LevelDebug, "client went away while the guest ran")
	case h.cgiSlots.closed.Load():
		fail(slog.LevelWarn, http.StatusServiceUnavailable, "handler closed while the guest ran")
	case stdin.tooLarge:
		h.metrics.refusals.WithLabelValues(limitRequestBody).Inc()
		fail(slog.LevelWarn, http.StatusRequestEntityTooLarge, "request body over the limit", "max_body", h.cfg.MaxRequestBody)
	case stdin.bad != nil:
		// The client's fault, not the guest's: at most INFO, so that
		// clients cannot flood the log.
		fail(slog.LevelInfo, http.StatusBadRequest, "malformed request body", "error", stdin.bad.Error())
	case stdout.malformed != nil:
		fail(slog.LevelError, http.StatusBadGateway, "malformed CGI response", "error", stdout.malformed.Error())
	case stdout.overflow:
		h.metrics.refusals.WithLabelValues(limitResponseBody).Inc()
		fail(slog.LevelError, http.StatusInternalServerError, "guest response over the limit", "max_response", h.cfg.MaxResponseBody)
	case err != nil:
		h.metrics.traps.Inc()
		fail(slog.LevelError, http.StatusInternalServerError, "guest failed", "error", firstLine(err).Error())
	case !stdout.committed:
		fail(slog.LevelError, http.StatusBadGateway, "malformed CGI response", "error", errNoBlankLine.Error())
	}
}

// scriptName is the part of the path the client sent that the embedding
// app took off before handing the request on (http.StripPrefix), so that
// SCRIPT_NAME + PATH_INFO is the path as sent; "" when nothing was taken.
func scriptName(r *http.Request) string {
	sent, _, _ := strings.Cut(r.RequestURI, "?")
	sent, err := url.PathUnescape(sent)
	if err != nil || !strings.HasSuffix(sent, r.URL.Path) {
		return ""
	}
	return strings.TrimSuffix(sent, r.URL.Path)
}

// cgiEnv returns the CGI/1.1 meta-variables for r.
func cgiEnv(r *http.Request) [][2]string {
	env := [][2]string{
		{"GATEWAY_INTERFACE", "CGI/1.1"},
		{"SERVER_SOFTWARE", "wasmcluster"},
		{"SERVER_PROTOCOL", r.Proto},
		{"REQUEST_METHOD", r.Method},
		{"REQUEST_URI", r.RequestURI},
		{"SCRIPT_NAME", scriptName(r)},
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
		if strings.Contains(name, "_") {
			// X_Forwarded_For would pass for X-Forwarded-For: dropped, as
			// nginx and Apache drop header names with underscores.
			continue
		}
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

// cgiStdout streams a CGI program's stdout to the client: it collects the
// header section, sends it once a blank line ends it, then passes each
// write of the body on at once — a program streams by flushing its
// stdout. max bounds the header section and the body (negative: no
// limit).
type cgiStdout struct {
	w         http.ResponseWriter
	max       int64
	stdin     *cgiStdin // a request body over the limit makes the answer 413
	head      []byte    // the header section so far
	written   int64     // body bytes sent
	committed bool      // the status and headers were sent
	overflow  bool      // the program wrote more than max
	malformed error     // the header section does not parse
}

var errNoBlankLine = errors.New("no blank line ends the header section")

func (s *cgiStdout) Write(p []byte) (int, error) {
	if s.malformed != nil || s.overflow || s.stdin.tooLarge {
		return 0, errors.New("response refused")
	}
	n := len(p)
	if !s.committed {
		s.head = append(s.head, p...)
		end := headerEnd(s.head)
		if end < 0 {
			if s.max >= 0 && int64(len(s.head)) > s.max {
				s.overflow = true
				return 0, errors.New("response over the limit")
			}
			return n, nil
		}
		status, hdr, err := parseCGIHeader(s.head[:end])
		if err != nil {
			s.malformed = err
			return 0, err
		}
		maps.Copy(s.w.Header(), hdr)
		s.w.WriteHeader(status)
		s.committed = true
		p = s.head[end:]
	}
	if s.max >= 0 && s.written+int64(len(p)) > s.max {
		s.overflow = true
		return 0, errors.New("response over the limit")
	}
	s.written += int64(len(p))
	if len(p) > 0 {
		_, _ = s.w.Write(p) // a client that hung up is not the guest's fault
		_ = http.NewResponseController(s.w).Flush()
	}
	return n, nil
}

// headerEnd returns the offset just past the blank line that ends the
// header section in out, or -1 while there is none.
func headerEnd(out []byte) int {
	for at := 0; ; {
		i := bytes.IndexByte(out[at:], '\n')
		if i < 0 {
			return -1
		}
		if line := bytes.TrimSuffix(out[at:at+i], []byte("\r")); len(line) == 0 {
			return at + i + 1
		}
		at += i + 1
	}
}

// parseCGIHeader parses a CGI header section, its blank line included:
// the status and the headers to send.
func parseCGIHeader(head []byte) (int, http.Header, error) {
	status := http.StatusOK
	hdr := make(http.Header)
	lines := strings.Split(strings.TrimSuffix(string(head), "\n"), "\n")
	if len(lines) == 1 {
		return 0, nil, errors.New("the response has no header lines")
	}
	for _, line := range lines[:len(lines)-1] {
		line = strings.TrimSuffix(line, "\r")
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return 0, nil, fmt.Errorf("header line %q is not Name: value", line)
		}
		value = strings.TrimSpace(value)
		if hasControlByte(value) {
			return 0, nil, fmt.Errorf("the value of %s holds a control byte", name)
		}
		if !strings.EqualFold(name, "Status") {
			hdr.Add(name, value)
			continue
		}
		code, _, _ := strings.Cut(value, " ")
		var err error
		// Interim responses (1xx) are the server's to send, never a
		// program's final status.
		if status, err = strconv.Atoi(code); err != nil || status < 200 || status > 999 {
			return 0, nil, fmt.Errorf("status %q is not a final status code", value)
		}
	}
	if hdr.Get("Location") != "" && status == http.StatusOK {
		status = http.StatusFound
	}
	return status, hdr, nil
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
