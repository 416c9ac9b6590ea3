package host

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// allowList is the parsed Outbound.Allow: the destinations a guest may
// send requests to. The empty list allows nothing.
type allowList []allowPattern

// allowPattern is one destination pattern, scheme://host[:port]:
//
//   - scheme is http, https or * (either);
//   - host is a name, an IP address (IPv6 in brackets), *.suffix (any
//     name ending in .suffix) or * (any host);
//   - port is a number or * (any); without one, the scheme's default
//     (80 for http, 443 for https).
type allowPattern struct {
	text   string
	scheme string // "http", "https" or "*"
	host   string // lowercase; "*" any; "*.x" any name under x
	port   string // "" the scheme's default; "*" any
}

// CheckOutboundAllow reports the first pattern of Outbound.Allow that
// does not parse, and why, as New would.
func CheckOutboundAllow(patterns []string) error {
	_, err := parseAllowList(patterns)
	return err
}

// parseAllowList parses patterns, or says which one is wrong and why.
func parseAllowList(patterns []string) (allowList, error) {
	list := make(allowList, 0, len(patterns))
	for _, p := range patterns {
		ap, err := parseAllowPattern(p)
		if err != nil {
			return nil, fmt.Errorf("outbound pattern %q: %w", p, err)
		}
		list = append(list, ap)
	}
	return list, nil
}

func parseAllowPattern(p string) (allowPattern, error) {
	scheme, rest, ok := strings.Cut(p, "://")
	if !ok {
		return allowPattern{}, errors.New("want scheme://host[:port], such as https://api.example.com")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" && scheme != "*" {
		return allowPattern{}, fmt.Errorf("scheme %q is not http, https or *", scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#@") {
		return allowPattern{}, errors.New("a pattern names a scheme, host and port only: no path, query or user")
	}
	host, port := rest, ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
		if port != "*" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return allowPattern{}, fmt.Errorf("port %q is not a number from 1 to 65535 or *", port)
			}
		}
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	name := strings.TrimPrefix(host, "*.")
	switch {
	case host == "*":
	case name == "" || strings.Contains(name, "*"):
		return allowPattern{}, errors.New("a host is a name, an address, *.suffix or *")
	case strings.Contains(rest, "[") != strings.Contains(host, ":"):
		return allowPattern{}, errors.New("an IPv6 address goes in brackets: [::1]")
	}
	return allowPattern{text: p, scheme: scheme, host: host, port: port}, nil
}

// defaultPort is the port of a URL of scheme that names none.
func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// urlHostPort returns u's host, lowercase and without a final dot, and
// its port, the scheme's default when it names none.
func urlHostPort(u *url.URL) (host, port string) {
	host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port = u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return host, port
}

// allows reports whether u is a destination the list allows.
func (l allowList) allows(u *url.URL) bool {
	host, port := urlHostPort(u)
	for _, p := range l {
		if p.matches(u.Scheme, host, port) {
			return true
		}
	}
	return false
}

func (p allowPattern) matches(scheme, host, port string) bool {
	if p.scheme != "*" && p.scheme != scheme {
		return false
	}
	switch want := p.port; want {
	case "*":
	case "":
		if port != defaultPort(scheme) {
			return false
		}
	default:
		if port != want {
			return false
		}
	}
	switch {
	case p.host == "*":
		return true
	case strings.HasPrefix(p.host, "*."):
		return strings.HasSuffix(host, p.host[1:])
	}
	return host == p.host
}

// namesExactly reports whether a pattern names host itself — a name or an
// address, not a wildcard. Only such a pattern lets a request reach an
// internal address (see checkAddress).
func (l allowList) namesExactly(host string) bool {
	for _, p := range l {
		if p.host == host {
			return true
		}
	}
	return false
}

// checkAddress is the check at dial time: name (as the URL has it)
// resolved to addr. An internal address — loopback, private, link-local,
// unspecified — is refused unless a pattern names it or name exactly, so
// that a public-looking name cannot lead a guest to the host's own
// network.
func (l allowList) checkAddress(name string, addr netip.Addr) error {
	addr = addr.Unmap()
	kind := internalKind(addr)
	if kind == "" {
		return nil
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if l.namesExactly(name) || l.namesExactly(addr.String()) {
		return nil
	}
	return &refusedError{fmt.Sprintf("%s resolves to %s, a %s address, which only a pattern naming it exactly allows", name, addr, kind)}
}

// internalKind says what kind of internal address addr is, or "" for a
// public one.
func internalKind(addr netip.Addr) string {
	switch {
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return "link-local"
	case addr.IsUnspecified():
		return "unspecified"
	}
	return ""
}

// refusedError is an outbound request the allow-list refuses.
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return "outbound request refused: " + e.reason }

// dialAddress parses the address a dialer is about to connect to.
func dialAddress(address string) (netip.Addr, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.ParseAddr(host)
}
