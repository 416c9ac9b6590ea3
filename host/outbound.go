package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Defaults of Outbound.
const (
	DefaultOutboundRequests     = 16
	DefaultOutboundTimeout      = 10 * time.Second
	DefaultOutboundResponseBody = 16 << 20
)

// Outbound lets guests send HTTP requests (wasmcluster.http_*), to the
// destinations Allow names only. The zero value allows none.
type Outbound struct {
	// Allow lists the destinations, as patterns scheme://host[:port]:
	// "https://api.example.com" (port 443 only), "https://*.example.com:8443",
	// "http://127.0.0.1:*". The scheme is http, https or *; the host a
	// name, an address, *.suffix or *; the port a number or *, the
	// scheme's default when left out. Redirects are followed only to
	// destinations the list allows. A name that resolves to a loopback,
	// private or link-local address is refused unless a pattern names
	// that name or address exactly (not by a wildcard).
	Allow []string

	// MaxRequests bounds the outbound requests of one guest request.
	// Default DefaultOutboundRequests.
	MaxRequests int

	// Timeout bounds one outbound request, reading its response body
	// included; the guest request's deadline bounds it too. Default
	// DefaultOutboundTimeout.
	Timeout time.Duration

	// MaxResponseBody bounds the response body a guest may read from one
	// outbound request; reading past it fails. Default
	// DefaultOutboundResponseBody.
	MaxResponseBody int64

	// RootCAs are the certificate authorities TLS connections trust.
	// Default: the system's.
	RootCAs *x509.CertPool
}

func (o Outbound) withDefaults() Outbound {
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultOutboundRequests
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultOutboundTimeout
	}
	if o.MaxResponseBody <= 0 {
		o.MaxResponseBody = DefaultOutboundResponseBody
	}
	return o
}

// outboundClient sends a Handler's outbound requests: one pooled
// transport, with HTTP/2 and certificate verification, whose every dial is
// checked against the allow-list.
type outboundClient struct {
	cfg       Outbound
	allow     allowList
	transport *http.Transport
	client    *http.Client
}

// errTooManyRedirects stops a chain of redirects.
var errTooManyRedirects = errors.New("stopped after 10 redirects")

func newOutboundClient(cfg Outbound) (*outboundClient, error) {
	allow, err := parseAllowList(cfg.Allow)
	if err != nil {
		return nil, err
	}
	c := &outboundClient{cfg: cfg, allow: allow}
	c.transport = &http.Transport{
		Proxy:                 nil, // the allow-list speaks of destinations, not of a proxy
		DialContext:           c.dial,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	c.client = &http.Client{Transport: c.transport, CheckRedirect: c.checkRedirect}
	return c, nil
}

// checkRedirect follows a redirect only to an allowed destination.
func (c *outboundClient) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errTooManyRedirects
	}
	return c.check(req)
}

// check refuses a request to a destination the allow-list does not name.
func (c *outboundClient) check(req *http.Request) error {
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return &refusedError{fmt.Sprintf("%s is not an http or https URL", req.URL.Redacted())}
	}
	if !c.allow.allows(req.URL) {
		return &refusedError{fmt.Sprintf("%s://%s is not in the allow-list", req.URL.Scheme, req.URL.Host)}
	}
	return nil
}

// dial connects to addr, checking each address the name resolved to just
// before connecting to it.
func (c *outboundClient) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	name, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{
		Timeout:   c.cfg.Timeout,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ip, err := dialAddress(address)
			if err != nil {
				return &refusedError{fmt.Sprintf("cannot check the address %s", address)}
			}
			return c.allow.checkAddress(name, ip)
		},
	}
	return d.DialContext(ctx, network, addr)
}

// close drops the idle connections.
func (c *outboundClient) close() { c.transport.CloseIdleConnections() }
