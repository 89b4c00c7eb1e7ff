// Package localca is the agent's local certificate authority and the
// short-lived TLS certificates it serves on the credentials endpoint.
//
// The CA has two levels. A root, made once on first use, signs an issuing
// intermediate and its private key is then dropped: it is never written
// anywhere, so nothing can steal it later and the root can never sign
// anything else. The intermediate carries X.509 name constraints (DNS
// "localhost", IP 127.0.0.0/8 and ::1) and path length 0, so its key — kept
// in the secure store (package store) — can only ever vouch for loopback
// names, even if it leaks. Leaf certificates for localhost, 127.0.0.1 and
// ::1 live for days, keep their key in memory only and are replaced by the
// running agent (LeafRotator) long before they expire.
//
// What this protects against: a process that squats the endpoint's port
// (on this machine or, through a forward, on a remote host) cannot present
// a certificate that chains to the root, so clients that pin the root refuse
// it; a user who trusts the root in an OS trust store exposes no more than
// loopback names to whoever might steal the intermediate key; a stolen leaf
// key is worth at most a few days.
//
// On disk, in the directory given to LoadOrCreate (DefaultDir: the ca
// directory of the agent's configuration), are only public
// certificates: RootCertFile and IntermediateCertFile. The intermediate's
// private key is in the secure store under IntermediateKeyName. Every load
// checks that the three belong together, so a tampered certificate file is
// an error, not a new trust anchor.
//
// ServerTLSConfig is the endpoint's TLS policy, for these leaves and for the
// public certificate alike. PlanTrust adds the root to (or removes it from)
// the operating system's trust store, at the user's request only.
package localca
