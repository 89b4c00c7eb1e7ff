package wire

// rootBundles: macOS keeps its roots in the keychain, and ships a PEM
// export of them at /etc/ssl/cert.pem (used by its LibreSSL); Homebrew's
// OpenSSL keeps one too.
var rootBundles = []string{
	"/etc/ssl/cert.pem",
	"/opt/homebrew/etc/ca-certificates/cert.pem",
	"/usr/local/etc/ca-certificates/cert.pem",
}
