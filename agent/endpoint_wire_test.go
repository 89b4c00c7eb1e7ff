package agent

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEndpointRawRequestTricks sends what a hostile local client could
// write by hand: request smuggling (Transfer-Encoding with Content-Length,
// two Content-Lengths), HTTP/0.9, and h2c (the upgrade header and the
// HTTP/2 preface). None may reach credentials — even with a valid token,
// since a smuggled second request is how a token would be replayed — and
// the endpoint serves an honest client afterwards.
func TestEndpointRawRequestTricks(t *testing.T) {
	env := endpointTestStart(t, nil)
	auth := "Authorization: " + env.token + "\r\n"
	smuggled := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "\r\n"
	tests := []struct {
		name string
		raw  string
	}{
		{"TE and CL", "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + smuggled},
		{"two CLs", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "Content-Length: 0\r\nContent-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled},
		{"chunked GET", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n" + strconv.FormatInt(int64(len(smuggled)), 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n"},
		{"HTTP/0.9", "GET /\r\n\r\n"},
		{"h2c upgrade", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", env.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, tt.raw); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			served := 0
			for {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					break // closed, or not HTTP/1.x at all
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "SecretAccessKey") {
					served++
				}
				if resp.StatusCode == http.StatusSwitchingProtocols || resp.ProtoMajor == 2 {
					t.Errorf("the endpoint switched protocols: %s", resp.Status)
				}
				if resp.Close {
					break
				}
				// Kept alive: anything smuggled would follow at once.
				conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			}
			// A request with a Transfer-Encoding or two Content-Lengths
			// is refused and ends the connection, so the GET behind it
			// is never read as a request.
			if served > 0 && tt.name != "h2c upgrade" {
				t.Errorf("%d responses carried credentials", served)
			}
			if tt.name == "h2c upgrade" && served > 1 {
				t.Errorf("%d responses carried credentials to one plain GET", served)
			}
		})
	}
	endpointTestGet(t, &http.Client{}, env.url+"/", env.token, "")
}
