package remote

// ReadProofResponse exposes readProofResponse to the fuzz target.
var ReadProofResponse = readProofResponse
