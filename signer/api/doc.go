// Package api is aws-sso-signer's HTTP API (the vocabulary is package
// signer/protocol): signing a CSR, listing and revoking certificates,
// and acme-dns's TXT update call, all authenticated with API keys.
//
// What it protects against:
//   - guessing keys: a per-IP rate limit runs before authentication, and
//     an unknown key, a revoked one and one of a disabled account are
//     refused alike;
//   - a key signing beyond its scope: the CSR's one name must be a
//     hostname the key is scoped to, and the CSR is checked in full
//     (signer.ParseCSR) before any order;
//   - exhausting the CA's limits: per-key rate limits, and the
//     database's issuance budgets (store.Budget), shared by all
//     instances, answered with 429 and Retry-After;
//   - memory and time sinks: bodies are capped at
//     protocol.MaxBodyBytes, JSON is decoded strictly, orders have a
//     deadline;
//   - leaks: refusals carry a stable code and a message about the
//     request, never a database error; the audit log records who did
//     what from where, never a key;
//   - spoofed client addresses: the client is the connection's peer,
//     never X-Forwarded-For (acme-dns's flaw), unless the operator names
//     the proxies it trusts.
package api
