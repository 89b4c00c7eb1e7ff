package ssofake

import (
	"net/http"
	"net/http/httptest"
	"strings"
)

// Config configures a whole fake IAM Identity Center.
type Config struct {
	OIDC   OIDCConfig
	Portal PortalConfig
}

// Server is the OIDC service and the portal on one loopback listener, as
// both hosts' paths are distinct. Point the SDKs at it with
// AWS_ENDPOINT_URL_SSO_OIDC and AWS_ENDPOINT_URL_SSO (both URL).
type Server struct {
	URL    string
	OIDC   *OIDC
	Portal *Portal
	srv    *httptest.Server
}

// Start serves a fake IAM Identity Center on 127.0.0.1 on a free port.
// The portal accepts the access tokens the OIDC service issued, unless
// cfg.Portal.Authorize says otherwise.
func Start(cfg Config) *Server {
	s := &Server{OIDC: NewOIDC(cfg.OIDC)}
	if cfg.Portal.Authorize == nil {
		cfg.Portal.Authorize = s.OIDC.Valid
	}
	s.Portal = NewPortal(cfg.Portal)
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// ServeHTTP sends the portal's paths to the portal, the others to OIDC.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/assignment/") || p == "/federation/credentials" || p == "/logout" {
		s.Portal.ServeHTTP(w, r)
		return
	}
	s.OIDC.ServeHTTP(w, r)
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }
