package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

// Timeouts of the DNS transports. Two seconds is miekg/dns's default read
// and write timeout; a TCP connection idle for ten seconds is closed
// (RFC 7766 section 6.2.3 suggests "a few seconds" for a server under
// load), and serves at most 128 queries, so one client cannot hold a
// connection slot forever.
const (
	ioTimeout     = 2 * time.Second
	tcpIdle       = 10 * time.Second
	maxTCPQueries = 128
)

// ServeDNS answers one query; it makes the zone a miekg/dns Handler.
func (z *Zone) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	resp := z.Answer(req)
	if resp == nil {
		return
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		resp.Truncate(MaxUDPSize(req))
	}
	_ = w.WriteMsg(resp) // the client is gone: nothing to tell
}

// Serve answers queries on pc (UDP) and ln (TCP), either of which may be
// nil, until ctx is done; then it closes both and returns nil. An error
// of either transport stops both and is returned.
func (z *Zone) Serve(ctx context.Context, pc net.PacketConn, ln net.Listener) error {
	if pc == nil && ln == nil {
		return errors.New("signer: dns: nothing to serve on")
	}
	var servers []*mdns.Server
	if pc != nil {
		servers = append(servers, &mdns.Server{PacketConn: pc, Handler: z, ReadTimeout: ioTimeout, WriteTimeout: ioTimeout})
	}
	if ln != nil {
		servers = append(servers, &mdns.Server{
			Listener: ln, Handler: z, ReadTimeout: ioTimeout, WriteTimeout: ioTimeout,
			IdleTimeout: func() time.Duration { return tcpIdle }, MaxTCPQueries: maxTCPQueries,
		})
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.ActivateAndServe() }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	for _, s := range servers {
		sctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		_ = s.ShutdownContext(sctx) // a server that already stopped says so
		cancel()
	}
	if err != nil {
		return fmt.Errorf("signer: dns: %w", err)
	}
	return nil
}

// Follow loads the zone from src now, then asks src every interval for
// its version and loads it again when the version moved, until ctx is
// done. A change another instance made to a shared store (a registration,
// a challenge) is so served within interval, at the cost of one cheap
// query per interval, never one per packet.
//
// The first load's failure is returned before anything is served from a
// half-known zone. Later failures keep the last snapshot in service and
// go to report, as does an Update's error about rows it left out; report
// may be nil.
func (z *Zone) Follow(ctx context.Context, src signer.ZoneSource, interval time.Duration, report func(error)) error {
	if report == nil {
		report = func(error) {}
	}
	loaded, err := z.Refresh(ctx, src)
	if err != nil && !isLeftOut(err) {
		return err
	} else if err != nil {
		report(err)
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			v, err := src.ZoneVersion(ctx)
			if err != nil {
				if ctx.Err() == nil {
					report(fmt.Errorf("signer: dns: zone %s version: %w", z.apex, err))
				}
				continue
			}
			// A challenge record that expired (its order died before
			// cleaning up) goes without moving the version.
			expired := !loaded.Expires.IsZero() && !time.Now().Before(loaded.Expires)
			if v == loaded.Version && !expired {
				continue
			}
			next, err := z.Refresh(ctx, src)
			if err != nil && ctx.Err() == nil {
				report(err)
			}
			if err == nil || isLeftOut(err) {
				loaded = next
			}
		}
	}()
	return nil
}

// Refresh loads the zone from src once, serves it and returns its
// version and expiry.
func (z *Zone) Refresh(ctx context.Context, src signer.ZoneSource) (Loaded, error) {
	v, err := src.LoadZone(ctx)
	if err != nil {
		return Loaded{}, fmt.Errorf("signer: dns: load zone %s: %w", z.apex, err)
	}
	l := Loaded{Version: v.Version, Expires: v.Expires}
	if err := z.Update(v); err != nil {
		return l, &leftOutError{err}
	}
	return l, nil
}

// Loaded says which state of the store a Refresh served.
type Loaded struct {
	Version int64
	Expires time.Time
}

// leftOutError is an Update's report of rows it could not serve: the rest
// of the zone was updated.
type leftOutError struct{ err error }

func (e *leftOutError) Error() string { return e.err.Error() }
func (e *leftOutError) Unwrap() error { return e.err }

func isLeftOut(err error) bool {
	var lo *leftOutError
	return errors.As(err, &lo)
}

// Listen opens UDP and TCP sockets on addr, the same port for both as DNS
// wants. With port 0 it picks a port free for both, trying a few.
func Listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("signer: dns: listen address %q: %w", addr, err)
	}
	tries := 1
	if port == "0" {
		tries = 20
	}
	for range tries {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, fmt.Errorf("signer: dns: listen on udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if tries == 1 {
			return nil, nil, fmt.Errorf("signer: dns: listen on tcp %s: %w", addr, err)
		}
	}
	return nil, nil, fmt.Errorf("signer: dns: no port on %s free for both udp and tcp", host)
}
