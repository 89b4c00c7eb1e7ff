package agent

import "github.com/aws-sso-agent/aws-sso-agent/wire"

// ValidateSlotName checks the name of a named slot: wire.ValidateSlotName,
// the rules aws-sso-remote applies to a session file's slots too.
func ValidateSlotName(name string) error { return wire.ValidateSlotName(name) }
