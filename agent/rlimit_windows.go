package agent

// descriptorLimit on Windows: sockets are handles, limited only by
// memory (about 16 million per process), so the connection caps decide.
func descriptorLimit() uint64 { return 1 << 20 }
