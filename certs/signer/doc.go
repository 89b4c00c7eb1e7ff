// Package signer is the agent's client of aws-sso-signer, the public
// signing service: it keeps the user's API keys in the secure store, makes
// the certificate's key here and sends only a CSR, installs the chain the
// service returns (package public), and renews it through the service in
// the running agent (an acme.Renewer with the service as its source).
//
// Several service URLs may be configured, tried in order: the design's
// answer to a denial of service against one of them is another way in
// (another front, another deployment).
//
// What this protects against: an API key is read from stdin or a prompt,
// never from a command line, and lives only in the secure store; the
// private key never leaves this machine; the name is checked to resolve
// to loopback before it is used (a poisoned or rebinding resolver would
// send clients elsewhere); the returned chain is checked to be for our
// key and name and to verify to a trusted root before it is served; the
// service's answers are size-capped and their text sanitized before a
// person sees it.
package signer
