// Package issuer is the signing service's ACME client: it gets a CSR the
// API has checked signed by the CA (Let's Encrypt, or Pebble in tests)
// with the service's own ACME account, solving DNS-01 in the service's own
// zone, and it keeps the service's own API certificate through the same
// machinery (ServiceCert).
//
// The account key lives in the service's store (State), not on an
// instance's disk, so every instance behind a load balancer orders with
// the same account, which is the one a CAA accounturi record can name.
// Challenge records go through signer.Challenges into the store, from
// which every instance's DNS server answers; before the CA is told to
// look, the issuer asks the zone's own nameservers until each serves the
// value, so the CA never sees a stale answer and the account's failed
// validations (5 per name per hour at Let's Encrypt) are not spent on
// a propagation race.
//
// When the store knows the certificate a new one replaces (History), the
// order names it (RFC 9773, ARI) where the CA offers ARI: Let's Encrypt
// exempts such renewals from its rate limits.
//
// What this protects against: the issuer signs nothing itself and never
// sees a user's private key, only the CSR; it publishes only
// _acme-challenge records; a refused validation and a CA rate limit come
// back as signer.ErrValidationFailed and *signer.RateLimitError, so the
// API backs off instead of retrying into the CA's limits.
package issuer
