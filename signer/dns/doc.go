// Package dns is the signing service's authoritative DNS server for its
// one zone.
//
// It serves, and only serves:
//   - SOA and NS at the apex, with the addresses of the service's own
//     names (its nameservers and its API) as configured;
//   - CAA at the apex: only the configured CA may issue, only by DNS-01,
//     and nobody may issue a wildcard;
//   - A 127.0.0.1 and AAAA ::1 for registered hostnames, never any other
//     address;
//   - TXT _acme-challenge.NAME while a validation for NAME runs, with a
//     short TTL;
//   - a null MX (RFC 7505) and an SPF record that allows no sender, at the
//     apex and every registered name, so that no mail is accepted as
//     coming from the zone;
//   - NXDOMAIN for every other name in the zone, and REFUSED for names
//     outside it: it is not a resolver.
//
// Answers come from an immutable snapshot in memory (Records), replaced
// as a whole when the store changes, so a query never waits on a lock or
// a database: a flood of queries cannot reach the store, and a slow store
// cannot stall DNS (acme-dns's global mutex froze its DNS under load).
//
// What this protects against: a name that is not registered never
// resolves, so a released name cannot be used to phish; a registered name
// resolves only to loopback, so the service cannot be made to point a
// user's name elsewhere; the CAA records stop another CA, another
// challenge type and wildcards; ANY queries get the short answer of
// RFC 8482, so the server is a poor amplifier.
package dns
