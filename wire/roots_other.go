//go:build !linux && !darwin

package wire

// rootBundles is empty where the platform keeps no PEM bundle of its roots
// (Windows keeps them in its certificate store): SystemRoots then finds
// only $SSL_CERT_FILE.
var rootBundles []string
