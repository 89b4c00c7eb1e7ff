package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	mdns "github.com/miekg/dns"
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

// Source gives the zone's records from the service's store.
type Source interface {
	ZoneRecords(ctx context.Context) (Records, error)
}

// Follow loads the zone from src now and again every interval until ctx
// is done, so that a change another instance made to a shared store
// (a registration, a challenge) is served within interval. A load that
// fails keeps the last snapshot in service and is passed to report, as is
// an Update's error about left-out rows; report may be nil.
//
// The first load's error is returned before anything is served from a
// half-known zone; later ones go to report.
func (z *Zone) Follow(ctx context.Context, src Source, interval time.Duration, report func(error)) error {
	if err := z.Refresh(ctx, src); err != nil && !isLeftOut(err) {
		return err
	} else if err != nil && report != nil {
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
			if err := z.Refresh(ctx, src); err != nil && report != nil && ctx.Err() == nil {
				report(err)
			}
		}
	}()
	return nil
}

// Refresh loads the zone from src once and serves it.
func (z *Zone) Refresh(ctx context.Context, src Source) error {
	r, err := src.ZoneRecords(ctx)
	if err != nil {
		return fmt.Errorf("signer: dns: load zone %s: %w", z.apex, err)
	}
	if err := z.Update(r); err != nil {
		return &leftOutError{err}
	}
	return nil
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
