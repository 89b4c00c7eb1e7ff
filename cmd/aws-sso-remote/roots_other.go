//go:build !linux && !darwin

package main

// rootBundles is empty where the helper is not supported: --tls then
// warns that SSL_CERT_FILE holds only the agent's CA.
var rootBundles []string
