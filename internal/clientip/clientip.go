// Package clientip finds the address a request came from: the peer of its
// connection, or, when that peer is a reverse proxy the deployment trusts,
// the address the proxies recorded in X-Forwarded-For.
//
// Only the entries the trusted proxies appended are believed. The header is
// read from its right end, where the nearest proxy appended the address it
// saw, and the walk stops at the first address that is not a trusted proxy:
// whatever a client wrote into the header itself stays to the left of that
// and is never read. An entry that does not parse ends the walk at the
// proxy that passed it on.
//
// The address is used to limit failed sign-ins per source (service.SignInFrom)
// and is not logged or stored with anything a user does.
package clientip

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
)

// Resolver finds requests' addresses, given the proxies it trusts.
type Resolver struct {
	trusted []netip.Prefix
	log     *slog.Logger
	warned  atomic.Bool
}

// New makes a resolver trusting the proxies at the given addresses or
// networks ("10.0.0.5", "10.1.0.0/16", "fd00::/8"). With none, every
// request's address is its connection's peer. log, if not nil, is told
// once when a request carries X-Forwarded-For from a peer that is not
// trusted: the deployment may sit behind a proxy it has not named.
func New(trusted []string, log *slog.Logger) (*Resolver, error) {
	ps, err := ParsePrefixes(trusted)
	if err != nil {
		return nil, err
	}
	return &Resolver{trusted: ps, log: log}, nil
}

// ParsePrefixes parses trusted proxies' addresses and networks.
func ParsePrefixes(ss []string) ([]netip.Prefix, error) {
	ps := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil && a.Zone() == "" {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !p.IsValid() {
			return nil, fmt.Errorf("trusted proxy %q: want an address or a network, such as 10.0.0.5 or 10.1.0.0/16", s)
		}
		if unmappedBits(p) == 0 {
			// Every client would be a trusted proxy, and the address each
			// wrote into the header would be believed.
			return nil, fmt.Errorf("trusted proxy %q holds every address, so every client would be believed about its own address: name the proxies, or the network only they are on", s)
		}
		ps = append(ps, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
	}
	return ps, nil
}

// unmappedBits is p's length once its address is unmapped: ::ffff:10.0.0.0/104
// is 10.0.0.0/8.
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr is the address req came from; the zero Addr if its peer's address
// does not parse (a test's request, or a listener that is not TCP).
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(req.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	hops := req.Header.Values("X-Forwarded-For")
	addr := peer.Addr().Unmap().WithZone("")
	if !r.isTrusted(addr) {
		if len(hops) > 0 && r.log != nil && r.warned.CompareAndSwap(false, true) {
			r.log.Warn("a request carries X-Forwarded-For from a peer that is not a trusted proxy: its header is ignored; if this server is behind a reverse proxy, name it in server.trusted_proxies, or every client counts as the proxy's address")
		}
		return addr
	}
	return r.forwarded(addr, hops)
}

// forwarded walks the X-Forwarded-For lines hops from their right end,
// starting from the trusted proxy at addr.
func (r *Resolver) forwarded(addr netip.Addr, hops []string) netip.Addr {
	for i := len(hops) - 1; i >= 0; i-- {
		line := hops[i]
		for line != "" {
			var entry string
			if c := strings.LastIndexByte(line, ','); c >= 0 {
				line, entry = line[:c], line[c+1:]
			} else {
				line, entry = "", line
			}
			next, ok := parseHop(strings.TrimSpace(entry))
			if !ok {
				return addr
			}
			addr = next
			if !r.isTrusted(addr) {
				return addr
			}
		}
	}
	return addr
}

// parseHop reads one X-Forwarded-For entry: an address, or an address and
// a port as some proxies write it ("10.0.0.7:5123", "[2001:db8::1]:443").
func parseHop(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

type ctxKey struct{}

// With is ctx carrying the address a request came from.
func With(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// From is the address With put in ctx, or the zero Addr.
func From(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(ctxKey{}).(netip.Addr)
	return a
}
