package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
)

// SSRF guard. A live-mode endpoint must reach a public address: otherwise
// anyone with a live key could make Joule POST into the operator's network
// (cloud metadata at 169.254.169.254, admin ports on loopback, ...). The
// address is checked twice: when the endpoint is created or its URL changed
// (a clear 422 for the developer), and on every connection, in the dialer's
// Control function, after DNS resolution. The second check is the one that
// matters: a host name can resolve to a public address at creation and to
// 127.0.0.1 later (DNS rebinding).

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8") // "this network": connects locally on Linux
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	errPolicy = errors.New("webhook: address not allowed")
)

// forbidden names why ip may not be a live-mode destination, or "" when it
// may.
func forbidden(ip netip.Addr) string {
	ip = ip.Unmap()
	if nat64.Contains(ip) { // an IPv4 address reached through a NAT64 gateway
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address"
	case ip.IsUnspecified(), thisNet.Contains(ip):
		return "an unspecified address"
	case cgnat.Contains(ip):
		return "a carrier-grade NAT address"
	case ip.IsMulticast():
		return "a multicast address"
	}
	return ""
}

// guardControl is a net.Dialer Control function refusing forbidden
// addresses. It runs after name resolution, for each address tried.
func guardControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", errPolicy, address)
	}
	if why := forbidden(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s (live-mode webhooks must reach a public address)", errPolicy, ap.Addr(), why)
	}
	return nil
}

// parseURL checks the shape of an endpoint URL: absolute http or https with
// a host. The value is never echoed in errors (it may embed credentials).
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, apperr.InvalidField("url", "url is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, apperr.InvalidField("url", "url must start with https:// or http://")
	}
	if u.Hostname() == "" {
		return nil, apperr.InvalidField("url", "url has no host")
	}
	if u.Fragment != "" {
		return nil, apperr.InvalidField("url", "url must not have a #fragment")
	}
	return u, nil
}

// checkDestination resolves the URL's host and refuses it when any of its
// addresses is forbidden. A host that does not resolve now is accepted: its
// address is checked again on every connection.
func checkDestination(ctx context.Context, r *net.Resolver, u *url.URL) error {
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ips, err := r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil
		}
		addrs = ips
	}
	for _, ip := range addrs {
		if why := forbidden(ip); why != "" {
			return &apperr.Error{Kind: apperr.Invalid, Code: "webhook_url_not_public", Field: "url",
				Message: fmt.Sprintf("url resolves to %s, %s; live-mode webhooks must reach a public address "+
					"(use a test-mode key for local receivers, or ask the operator to allow private addresses)", ip.Unmap(), why)}
		}
	}
	return nil
}
