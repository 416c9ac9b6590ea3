package dispatcher

import (
	"bytes"
	"math"
)

// framing follows the HTTP/1 message framing of what a client sends on a
// plain-text connection, as the bytes pass to net/http, to refuse a
// request whose length two parties could read two ways (request
// smuggling, RFC 9112 §6.3 and §11.2). net/http serves a request with both
// Content-Length and Transfer-Encoding by the latter and deletes the
// former before any handler sees it, so only the raw header can tell.
//
// It refuses a header block with both fields, with Content-Length values
// that differ or do not parse, with a Transfer-Encoding other than one
// "chunked" on HTTP/1.1, with any Transfer-Encoding before HTTP/1.1, or
// with a folded line (obs-fold). To find where the next request starts it
// skips each body as net/http reads it: by Content-Length, or chunk by
// chunk. Chunked framing it cannot follow breaks the connection as well,
// at that byte: what follows could only be read by a guess.
//
// It keeps no more than the first bytes of a line, whatever the client
// sends, and looks at each byte once.
type framing struct {
	state  framingState
	remain int64 // bytes left of the body or the chunk
	line   lineHead
	block  headerBlock
}

type framingState uint8

const (
	inHeader    framingState = iota // a request line and header lines
	inBody                          // remain bytes of a Content-Length body
	inChunkSize                     // a chunk-size line
	inChunkData                     // remain bytes of a chunk
	inChunkEnd                      // the CRLF after a chunk: remain bytes of it left
	inTrailer                       // trailer lines, up to an empty one
)

// headerBlock is what framing gathers from one request's header.
type headerBlock struct {
	lines     int   // lines so far, the request line included
	http11    bool  // the request line says HTTP/1.1 or later
	lengths   int   // Content-Length lines
	length    int64 // the first one's value
	encodings int   // Transfer-Encoding lines
	chunked   bool  // the last one says chunked
	badReason string
}

// lineHead holds the first bytes of the line being read, enough for every
// name and value framing looks at, and the line's last bytes, for the
// request line's version.
type lineHead struct {
	head [256]byte
	n    int // bytes in head
	len  int // bytes in the line so far, without its LF
	tail [10]byte
}

// maxChunkLine is the longest chunk-size line net/http reads.
const maxChunkLine = 4096

// framingError is why framing refused a request. It is no net.Error, so
// that net/http answers it 400 Bad Request and closes the connection.
type framingError string

func (e framingError) Error() string { return "http: request refused: " + string(e) }

// scan follows p, the next bytes the client sent. If they hold a request
// to refuse, or framing it cannot follow, it returns how many of them may
// pass (none of that request's header's last line) and why not.
func (f *framing) scan(p []byte) (int, error) {
	for i := 0; i < len(p); {
		switch f.state {
		case inBody, inChunkData:
			n := int(min(f.remain, int64(len(p)-i)))
			i += n
			if f.remain -= int64(n); f.remain > 0 {
				break
			}
			if f.state == inBody {
				f.state = inHeader
			} else {
				f.state, f.remain = inChunkEnd, 2
			}
		case inChunkEnd:
			want := "\r\n"[2-f.remain]
			if p[i] != want {
				return i, framingError("malformed chunked body")
			}
			i++
			if f.remain--; f.remain == 0 {
				f.state = inChunkSize
			}
		default: // a line
			end := bytes.IndexByte(p[i:], '\n')
			if end < 0 {
				f.line.add(p[i:])
				if f.state == inChunkSize && f.line.len > maxChunkLine {
					return len(p), framingError("chunk-size line too long")
				}
				return len(p), nil
			}
			f.line.add(p[i : i+end])
			if err := f.endLine(); err != nil {
				return i + end, err
			}
			i += end + 1
		}
	}
	return len(p), nil
}

// endLine acts on the line just read, in the state it was read in.
func (f *framing) endLine() error {
	l := &f.line
	defer l.reset()
	switch f.state {
	case inChunkSize:
		size, ok := l.chunkSize()
		if !ok {
			return framingError("malformed chunk size")
		}
		if size == 0 {
			f.state = inTrailer
		} else {
			f.state, f.remain = inChunkData, size
		}
	case inTrailer:
		if l.empty() {
			f.state = inHeader
		}
	default:
		if l.empty() {
			if f.block.lines == 0 {
				return nil // net/http refuses it; nothing to follow
			}
			return f.endHeader()
		}
		f.block.line(l)
	}
	return nil
}

// endHeader judges the header block just ended and sets up the reading of
// its body.
func (f *framing) endHeader() error {
	b := f.block
	f.block = headerBlock{}
	switch {
	case b.badReason != "":
		return framingError(b.badReason)
	case b.lengths > 0 && b.encodings > 0:
		return framingError("both Content-Length and Transfer-Encoding")
	case b.encodings > 0 && !b.http11:
		return framingError("Transfer-Encoding before HTTP/1.1")
	case b.encodings > 1 || b.encodings == 1 && !b.chunked:
		return framingError("unsupported Transfer-Encoding")
	case b.encodings == 1:
		f.state = inChunkSize
	case b.length > 0:
		f.state, f.remain = inBody, b.length
	}
	return nil
}

// line takes in one line of a header block.
func (b *headerBlock) line(l *lineHead) {
	b.lines++
	if b.lines == 1 {
		b.http11 = l.requestVersionAtLeast11()
		return
	}
	if c := l.head[0]; c == ' ' || c == '\t' {
		b.refuse("folded header line")
		return
	}
	name, value, ok := l.field()
	switch {
	case !ok:
		// Not a field framing looks at (net/http refuses a line with no
		// colon, and no name it looks at is this long).
	case asciiEqualFold(name, "Content-Length"):
		if l.len > len(l.head) {
			b.refuse("Content-Length too long")
			return
		}
		n, ok := parseLength(value)
		switch {
		case !ok:
			b.refuse("malformed Content-Length")
		case b.lengths > 0 && n != b.length:
			b.refuse("differing Content-Length values")
		}
		b.lengths++
		b.length = n
	case asciiEqualFold(name, "Transfer-Encoding"):
		b.encodings++
		b.chunked = l.len <= len(l.head) && asciiEqualFold(value, "chunked")
	}
}

func (b *headerBlock) refuse(reason string) {
	if b.badReason == "" {
		b.badReason = reason
	}
}

func (l *lineHead) add(p []byte) {
	if l.n < len(l.head) {
		l.n += copy(l.head[l.n:], p)
	}
	l.len += len(p)
	if len(p) >= len(l.tail) {
		copy(l.tail[:], p[len(p)-len(l.tail):])
	} else {
		copy(l.tail[:], l.tail[len(p):])
		copy(l.tail[len(l.tail)-len(p):], p)
	}
}

func (l *lineHead) reset() { l.n, l.len = 0, 0 }

// content returns the line's first bytes without a CR that ends it.
func (l *lineHead) content() []byte {
	c := l.head[:l.n]
	if l.len <= len(l.head) {
		c = bytes.TrimSuffix(c, []byte{'\r'})
	}
	return c
}

// empty reports whether the line is empty but for a CR.
func (l *lineHead) empty() bool { return l.len == 0 || l.len == 1 && l.head[0] == '\r' }

// field splits a header line into its name and value, with the value's
// optional whitespace trimmed. It reports false if the line's first
// bytes hold no colon.
func (l *lineHead) field() (name, value []byte, ok bool) {
	name, value, ok = bytes.Cut(l.content(), []byte{':'})
	return name, bytes.Trim(value, " \t"), ok
}

// requestVersionAtLeast11 reports whether the request line ends in a
// version net/http reads as HTTP/1.1 or later: HTTP/1.1 to HTTP/1.9.
func (l *lineHead) requestVersionAtLeast11() bool {
	t := l.tail[:]
	if l.len < len(t) {
		t = t[len(t)-l.len:]
	}
	t = bytes.TrimSuffix(t, []byte{'\r'})
	if len(t) < 9 {
		return false
	}
	v := t[len(t)-9:]
	return string(v[:8]) == " HTTP/1." && v[8] >= '1' && v[8] <= '9'
}

// chunkSize parses a chunk-size line as net/http does: it ends in CRLF,
// with no other CR; whitespace before the end and an extension after a
// semicolon are ignored; the size is up to 16 hex digits.
func (l *lineHead) chunkSize() (int64, bool) {
	c := l.head[:l.n]
	if l.len > len(l.head) || len(c) == 0 || c[len(c)-1] != '\r' || bytes.IndexByte(c, '\r') != len(c)-1 {
		return 0, false
	}
	c = bytes.TrimRight(c[:len(c)-1], " \t")
	c, _, _ = bytes.Cut(c, []byte{';'})
	if len(c) == 0 || len(c) > 16 {
		return 0, false
	}
	var n uint64
	for _, b := range c {
		switch {
		case '0' <= b && b <= '9':
			b -= '0'
		case 'a' <= b && b <= 'f':
			b -= 'a' - 10
		case 'A' <= b && b <= 'F':
			b -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(b)
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// parseLength parses a Content-Length value: decimal digits only.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' {
			return 0, false
		}
		n = n*10 + int64(b-'0')
	}
	return n, true
}

// asciiEqualFold reports whether b is s, ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
