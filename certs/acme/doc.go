// Package acme gets the public certificate (package public) from an ACME
// CA such as Let's Encrypt by the DNS-01 challenge, and renews it in the
// running agent.
//
// Obtain runs one issuance: the certificate's key is made in this process
// and handed only to public.Public.Install; the account key is kept in the
// secure store. The challenge record is written by a DNSProvider: RFC 2136
// dynamic updates signed with TSIG (BIND, Knot, PowerDNS) or Amazon Route
// 53. Settings are what `certs acme` chose, saved next to the certificate
// (without the TSIG secret, which stays in the secure store), so that a
// Renewer in the running agent renews the same way when a third of the
// certificate's lifetime is left.
//
// What this protects against: unsigned DNS updates are never sent; the
// TSIG secret is never taken from a command line, and a secret file others
// can read is refused (TSIGSecret); a renewal that fails keeps the old
// certificate in service and is retried with a backoff that stays within
// Let's Encrypt's rate limits.
package acme
