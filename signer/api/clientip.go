package api

import "net/http"

// ClientIP is who sent r as the API sees it: the connection's peer, or,
// behind a trusted proxy, the last X-Forwarded-For address that is not
// one. The web pages count failed logins by it, so both agree.
func (s *Server) ClientIP(r *http.Request) string { return s.clientIP(r) }
