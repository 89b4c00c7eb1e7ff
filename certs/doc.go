// Package certs is the running agent's certificate lifecycle, built on its
// three parts:
//
//   - package localca: the local certificate authority, the short-lived
//     leaves for localhost it issues and rotates, the endpoint's TLS
//     policy, and trusting the root in the operating system;
//   - package public: the certificate for the agent's public name, how it
//     is installed, and the per-handshake choice (SNI) between it and the
//     local leaf, guarded by a DNS check;
//   - package acme: getting and renewing the public certificate from an
//     ACME CA.
//
// The parts import downward only: acme uses public; localca and public
// are independent of each other.
package certs
