// Package signer is aws-sso-signer's core: a public service that signs
// certificate signing requests for names under one DNS zone through an
// ACME CA, so a user without a zone of their own gets a certificate every
// AWS SDK trusts for NAME.ZONE, which resolves to 127.0.0.1.
//
// The parts:
//
//   - package store: accounts, hostnames, API keys, certificates, DNS-01
//     challenge records, rate budgets, leases and the audit trail, in
//     SQLite (one instance) or PostgreSQL (several behind a load
//     balancer, coordinating through the database, never through memory);
//   - package api: the JSON API on /v1 and the acme-dns–compatible
//     /update endpoint;
//   - package dns: the authoritative DNS server for the zone, answering
//     from memory;
//   - package issuer: the ACME client that orders certificates for CSRs
//     the API has checked, solving DNS-01 in the zone.
//
// This file and issuer.go hold the contracts between them: Issuer (the
// API asks it for a chain), Challenges (the issuer sets and clears
// _acme-challenge TXT records through it) and ZoneSource (the DNS server
// loads its in-memory view from it).
//
// What it protects against, from the design's threat model: a stolen
// database issues nothing (API keys are kept only as hashes, passwords as
// argon2id); a key signs only for the hostnames it is scoped to; a CSR is
// checked for its one name, its key and its extensions before any order;
// the CA's rate limits are never reached by one user (per-key, per-IP and
// per-hostname limits, a global weekly budget); input is parameterized,
// size capped and fuzzed.
package signer
