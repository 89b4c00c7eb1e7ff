package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/aws-sso-agent/aws-sso-agent/internal/acmetest"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/smtpsink"
)

const chromiumPath = "/usr/bin/chromium"

// webZone is the web tests' zone, which the browser maps to loopback.
const webZone = "signer.test"

// startSignerWeb runs Pebble, signing certificates valid for validity,
// and one aws-sso-signer serve on SQLite with its web pages and more
// serve flags, mailing through sink; nobody has an account yet.
func startSignerWeb(t *testing.T, sink *smtpsink.Sink, validity time.Duration, args ...string) *signerService {
	t.Helper()
	s := &signerService{bin: e2e.SharedBinary(t, signerPkg), dns: []string{fmt.Sprintf("127.0.0.1:%d", e2e.FreePort(t))},
		zone: webZone, apiName: "api." + webZone, fqdn: signerUser + "." + webZone}
	s.publicPeers = &publicPeers{home: t.TempDir()}
	s.pebble = acmetest.StartPebbleValidity(t, s.dns[0], validity)
	s.trustPebble(t)
	s.pass = filepath.Join(s.home, "passphrase")
	os.WriteFile(s.pass, []byte("correct horse battery staple"), 0o600)
	s.pebbleT = x509.NewCertPool()
	s.pebbleT.AppendCertsFromPEM(s.rootPEM)
	dir := t.TempDir()
	s.db = "sqlite:" + filepath.Join(dir, "signer.db")
	caFile := filepath.Join(dir, "pebble-tls.pem")
	os.WriteFile(caFile, s.pebble.TLSCert, 0o600)
	setHosts(t, s.apiName, "127.0.0.1")

	port := e2e.FreePort(t)
	s.api = []string{fmt.Sprintf("https://%s:%d", s.apiName, port)}
	p := e2e.StartProcess(t, e2e.CleanEnv(t), s.bin, append([]string{"serve", "--zone", s.zone, "--db", s.db,
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--dns-listen", s.dns[0],
		"--acme-directory", s.pebble.Directory, "--acme-ca-file", caFile,
		"--public-ip", "127.0.0.1", "--caa-issuer", "pebble.letsencrypt.org",
		"--smtp-addr", sink.Addr, "--web-url", s.api[0], "--public-resolver", s.dns[0]}, args...)...)
	s.procs = []*e2e.Process{p}
	p.WaitForOutput(t, `"msg":"serving"`, 30*time.Second)
	s.waitAPI(t, 0)
	return s
}

// browser is a headless Debian chromium with a fresh profile, driven
// over the DevTools protocol. The service's certificate is Pebble's,
// which chromium does not trust: certificate errors are ignored, and
// everything else (Secure cookies, HSTS, CSP) works as over any HTTPS.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		e2e.PeerMissing(t, "no chromium at %s (scripts/install-test-peers installs it)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("host-resolver-rules", "MAP *."+webZone+" 127.0.0.1"),
		chromedp.WindowSize(1024, 900),
		// Every frame in the page's process, so the page's frame tree
		// shows what became of a cross-origin frame.
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.Flag("disable-features", "IsolateOrigins,site-per-process"),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// The first action starts the browser, with no timeout of its own:
	// the browser lives as long as this context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shots saves full-page screenshots: into $SIGNER_WEB_SCREENSHOTS if set
// (docs/signer-web/ uses them), else into the test's directory.
type shots struct {
	t   *testing.T
	dir string
	n   int
}

func newShots(t *testing.T) *shots {
	dir := os.Getenv("SIGNER_WEB_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	return &shots{t: t, dir: dir}
}

func (s *shots) take(ctx context.Context, name string) {
	s.t.Helper()
	s.n++
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("%02d-%s.png", s.n, name)), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return value(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// submit fills the fields of the form holding button (selector: value)
// and presses the button with the keyboard: the pages work without a
// mouse.
func submit(t *testing.T, ctx context.Context, what string, fields [][2]string, button string) {
	t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	for _, f := range fields {
		actions = append(actions, chromedp.SendKeys(chromedp.CSS(f[0]), f[1]))
	}
	actions = append(actions, chromedp.Focus(chromedp.CSS(button)), chromedp.KeyEvent("\r"), chromedp.WaitReady(chromedp.CSS("body")))
	run(t, ctx, what, actions...)
}

func waitText(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		b, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("main")))
		cancel()
		if body = b; err == nil && strings.Contains(body, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the page never said %q; it says:\n%s", want, body)
}

// fitsNarrowScreen checks the page at 360 px: nothing wider than the
// screen, so nothing needs a sideways scroll.
func fitsNarrowScreen(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	run(t, ctx, "narrow "+page, chromedp.EmulateViewport(360, 740))
	width := value(t, ctx, "width of "+page, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if width > 360 {
		t.Errorf("%s at 360 px is %d px wide", page, width)
	}
	run(t, ctx, "wide again", chromedp.EmulateViewport(1024, 900))
}

// fieldsLabelled checks that every field of the page has a label a
// screen reader announces.
func fieldsLabelled(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	bare := value(t, ctx, "labels of "+page, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea')).filter(e => e.labels.length === 0).map(e => e.name || e.id)`))
	if len(bare) != 0 {
		t.Errorf("%s: fields without a label: %v", page, bare)
	}
}

// skipLinkFirst checks the keyboard's way in: the first Tab reaches the
// skip link, and Enter on it moves to the page's content.
func skipLinkFirst(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	run(t, ctx, "tab on "+page, chromedp.KeyEvent("\t"))
	if got := value(t, ctx, "focus on "+page, chromedp.Evaluate[string](`document.activeElement.className`)); got != "skip" {
		t.Errorf("%s: the first Tab reaches %q, want the skip link", page, got)
	}
	run(t, ctx, "enter on "+page, chromedp.KeyEvent("\r"))
	if got := value(t, ctx, "hash on "+page, chromedp.Evaluate[string](`location.hash`)); got != "#main" {
		t.Errorf("%s: the skip link leads to %q, want #main", page, got)
	}
}

// TestSignerWebFlow is the design's whole flow through the web pages in
// a real browser: sign up, the verification mail from an SMTP server,
// log in, claim a hostname, create a key; the agent's `certs api-key`
// and `certs sign-csr` with it against Pebble; the running agent serving
// the certificate, which is on its page and revoked there; the agent's
// own renewal then serving a new one, which the page lists.
//
// Pebble signs for 60 seconds, so the agent's renewal (a third of the
// lifetime left) comes 40 seconds after each issue, within the test.
func TestSignerWebFlow(t *testing.T) {
	sink := smtpsink.Start(t)
	s := startSignerWeb(t, sink, 60*time.Second, "--budget-hostname", "100") // one renewal every 40 s
	ctx := browser(t)
	sh := newShots(t)
	base := s.api[0]

	run(t, ctx, "open the start page", chromedp.Navigate(base+"/"))
	waitText(t, ctx, "Sign up")
	sh.take(ctx, "start")
	run(t, ctx, "open sign-up", chromedp.Navigate(base+"/signup"))
	skipLinkFirst(t, ctx, "sign-up")
	fieldsLabelled(t, ctx, "sign-up")
	fitsNarrowScreen(t, ctx, "sign-up")
	run(t, ctx, "fill sign-up", chromedp.SendKeys(chromedp.CSS("#username"), signerUser),
		chromedp.SendKeys(chromedp.CSS("#email"), "alice@example.org"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple"))
	sh.take(ctx, "signup")
	submit(t, ctx, "sign up", nil, "main button[type=submit]")
	waitText(t, ctx, "Check your mail")
	sh.take(ctx, "signed-up")

	m := sink.Next(t, 30*time.Second)
	if len(m.To) != 1 || m.To[0] != "alice@example.org" {
		t.Fatalf("the verification mail went to %v", m.To)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/verify\?token=[A-Za-z0-9_-]+`).FindString(m.Body)
	if link == "" {
		t.Fatalf("no verification link in the mail:\n%s", m.Body)
	}
	run(t, ctx, "follow the link", chromedp.Navigate(link))
	waitText(t, ctx, "Your email address is verified")

	submit(t, ctx, "log in", [][2]string{{"#username", signerUser}, {"#password", "correct horse battery staple"}}, "main button[type=submit]")
	waitText(t, ctx, "Your hostnames")

	submit(t, ctx, "claim", [][2]string{{"#label", signerUser}}, "main form[action='/hostnames/claim'] button")
	waitText(t, ctx, "The hostname is yours")
	// The page asks the signer's own DNS server, as the public DNS would
	// answer once the zone is delegated; the server follows the database
	// within seconds. (Go's resolver reads /etc/hosts first, where
	// another signer test may have put the name with 127.0.0.1 alone.)
	deadline := time.Now().Add(30 * time.Second)
	for !regexp.MustCompile(`The public DNS answers\s+127\.0\.0\.1`).MatchString(text(t, ctx, "main")) {
		if time.Now().After(deadline) {
			t.Fatalf("the hostnames page never showed the DNS answer:\n%s", text(t, ctx, "main"))
		}
		time.Sleep(500 * time.Millisecond)
		run(t, ctx, "reload hostnames", chromedp.Navigate(base+"/hostnames"))
	}
	run(t, ctx, "open the rebind note", chromedp.Click(chromedp.CSS("summary")))
	waitText(t, ctx, "127.0.0.1 "+s.fqdn)
	sh.take(ctx, "hostnames")
	fieldsLabelled(t, ctx, "hostnames")
	fitsNarrowScreen(t, ctx, "hostnames")

	run(t, ctx, "open keys", chromedp.Navigate(base+"/keys"))
	submit(t, ctx, "create key", nil, "main form[action='/keys/create'] button")
	waitText(t, ctx, "Your new API key")
	key := value(t, ctx, "read the key", chromedp.Value(chromedp.CSS("#newkey")))
	if !strings.HasPrefix(key, "sgk_") {
		t.Fatalf("the key shown: %q", key)
	}
	if body := text(t, ctx, "main"); !strings.Contains(body, "aws-sso-agent certs api-key --service "+base) {
		t.Errorf("the key page lacks the command:\n%s", body)
	}
	sh.take(ctx, "new-key")
	fieldsLabelled(t, ctx, "new key")
	fitsNarrowScreen(t, ctx, "new key")

	s.apiKey = key
	if out := s.signCSR(t, base); !strings.Contains(out, "certificate for "+s.fqdn) {
		t.Errorf("sign-csr says %q", out)
	}
	run(t, ctx, "open keys again", chromedp.Navigate(base+"/keys"))
	if body := text(t, ctx, "main"); strings.Contains(body, key) || !strings.Contains(body, "from 127.0.0.1") {
		t.Errorf("the keys page shows the key again, or not its last use:\n%s", body)
	}
	sh.take(ctx, "keys")

	// The agent, set up by sign-csr, serves the certificate.
	setHosts(t, s.fqdn, "127.0.0.1")
	served := runningAgentOverSigner(t, s, s.fqdn)
	first := served()

	run(t, ctx, "open certificates", chromedp.Navigate(base+"/certificates"))
	waitText(t, ctx, s.fqdn)
	if !strings.Contains(text(t, ctx, "main"), first) {
		t.Fatalf("the certificates page does not list the served certificate %s:\n%s", first, text(t, ctx, "main"))
	}
	if !regexp.MustCompile(`Expires\s+\d{4}-\d\d-\d\d.*\(in 0 days\)`).MatchString(text(t, ctx, "main")) {
		t.Errorf("the certificate's expiry is not shown:\n%s", text(t, ctx, "main"))
	}
	sh.take(ctx, "certificates")
	fitsNarrowScreen(t, ctx, "certificates")
	submit(t, ctx, "revoke", nil, "main li:has(input[name=serial][value='"+first+"']) form[action='/certificates/revoke'] button")
	waitText(t, ctx, "The certificate is revoked")
	if li := text(t, ctx, "main li:has(code.serial)"); !strings.Contains(li, first) || !strings.Contains(li, "revoked") {
		t.Errorf("the page does not mark %s revoked:\n%s", first, text(t, ctx, "main"))
	}
	sh.take(ctx, "revoked")

	// The running agent renews by itself and new connections get the
	// new certificate, which the page lists as valid.
	var renewed string
	deadline = time.Now().Add(90 * time.Second)
	for renewed = served(); renewed == first; renewed = served() {
		if time.Now().After(deadline) {
			t.Fatalf("the agent still serves the revoked certificate %s", first)
		}
		time.Sleep(time.Second)
	}
	run(t, ctx, "open certificates again", chromedp.Navigate(base+"/certificates"))
	li := text(t, ctx, "main li:has(input[name=serial][value='"+renewed+"'])")
	if !strings.Contains(li, renewed) || strings.Contains(li, "revoked") {
		t.Errorf("the page does not list the renewed certificate %s as valid:\n%s", renewed, text(t, ctx, "main"))
	}
	sh.take(ctx, "renewed")

	run(t, ctx, "open account", chromedp.Navigate(base+"/account"))
	sh.take(ctx, "account")
	fieldsLabelled(t, ctx, "account")
	fitsNarrowScreen(t, ctx, "account")
	run(t, ctx, "narrow account", chromedp.EmulateViewport(360, 740))
	sh.take(ctx, "account-360px")
}

// runningAgentOverSigner starts the agent in s's home, where sign-csr
// has set up the signer as its certificate source for fqdn, with
// renewal checked every second. It returns a function that asks the agent's TLS endpoint
// and returns the serial (hex, as the pages show it) of the certificate
// a new connection gets.
func runningAgentOverSigner(t *testing.T, s *signerService, fqdn string) func() string {
	t.Helper()
	config := filepath.Join(t.TempDir(), "config")
	os.WriteFile(config, []byte("[profile static]\naws_access_key_id = AKIASTATICSTATIC0001\naws_secret_access_key = s\nregion = us-east-1\n"), 0o600)
	a := startAgent(t, agentOptions{home: s.home, extra: []string{"AWS_SSO_AGENT_EXTRA_ROOTS=" + s.extraRoots},
		args: []string{"--test-renew-check-interval", "1s"}})
	a.mustCLI([]string{"AWS_CONFIG_FILE=" + config}, "load", "--profile", "static")
	vars := exports(t, a.mustCLI(nil, "env", "--tls"))
	url := e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if !strings.HasPrefix(url, "https://"+fqdn+":") {
		t.Fatalf("env --tls URL %q, want https://%s:PORT/", url, fqdn)
	}
	token, err := os.ReadFile(e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	return func() string {
		t.Helper()
		c := loopbackClient(s.pebbleT)
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", string(token))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("the agent over TLS: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the agent over TLS: status %d", resp.StatusCode)
		}
		return fmt.Sprintf("%x", resp.TLS.PeerCertificates[0].SerialNumber)
	}
}

// TestSignerWebBrowserRefusesAttacks has a page on another origin try
// what a browser would do for an attacker: frame the login page, and
// post a logged-in user's form. The service's answers stop both.
func TestSignerWebBrowserRefusesAttacks(t *testing.T) {
	sink := smtpsink.Start(t)
	s := startSignerWeb(t, sink, 90*24*time.Hour)
	ctx := browser(t)
	base := s.api[0]

	// A user who is logged in.
	run(t, ctx, "sign up", chromedp.Navigate(base+"/signup"))
	submit(t, ctx, "sign up", [][2]string{{"#username", "victim"}, {"#email", "victim@example.org"}, {"#password", "correct horse battery staple"}}, "main button[type=submit]")
	waitText(t, ctx, "Check your mail")
	m := sink.Next(t, 30*time.Second)
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/verify\?token=[A-Za-z0-9_-]+`).FindString(m.Body)
	run(t, ctx, "verify", chromedp.Navigate(link))
	waitText(t, ctx, "Your email address is verified")
	submit(t, ctx, "log in", [][2]string{{"#username", "victim"}, {"#password", "correct horse battery staple"}}, "main button[type=submit]")
	waitText(t, ctx, "Your hostnames")

	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/frame":
			fmt.Fprintf(w, `<!doctype html><iframe id="f" src="%s/login" width="600" height="400"></iframe>`, base)
		case "/post":
			fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/hostnames/claim"><input name="label" value="forged"><button id="go">win a prize</button></form>`, base)
		}
	}))
	t.Cleanup(evil.Close)

	// The frame: chromium refuses to render it (frame-ancestors 'none',
	// X-Frame-Options DENY) and shows its error page in its place.
	run(t, ctx, "open the framing page", chromedp.Navigate(evil.URL+"/frame"), chromedp.WaitReady(chromedp.CSS("#f")))
	framed := ""
	var last any
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			t.Fatalf("frame tree: %v", err)
		}
		tree := res.FrameTree
		if len(tree.ChildFrames) == 1 {
			last = tree.ChildFrames[0].Frame
			framed = tree.ChildFrames[0].Frame.URL
			if framed != "about:blank" && framed != "" {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.HasPrefix(framed, base) {
		t.Errorf("the login page loaded in another site's frame (%s)", framed)
	}
	if !strings.HasPrefix(framed, "chrome-error://") {
		t.Errorf("the framed login page is %q, want chromium's error page; %+v", framed, last)
	}

	// The cross-origin POST, sent by the user's own click.
	run(t, ctx, "open the posting page", chromedp.Navigate(evil.URL+"/post"), chromedp.Click(chromedp.CSS("#go")), chromedp.WaitReady(chromedp.CSS("body")))
	waitText(t, ctx, "sent from another site")
	out, err := exec.Command(s.bin, "hostname", "list", "--db", s.db).CombinedOutput()
	if err != nil {
		t.Fatalf("hostname list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "forged") {
		t.Errorf("the cross-origin POST claimed a hostname:\n%s", out)
	}
}
