package agent

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// maxSlotName bounds a slot name: it travels in URLs and log lines.
const maxSlotName = 64

// ValidateSlotName checks the name of a named slot. Names are printable,
// at most 64 bytes, and hold no '/' or '\' (a slot URL is /slot/NAME) and
// no parentheses (the CLI's "--slot" alone means "named after the
// profile"); "default", "." and ".." are reserved.
func ValidateSlotName(name string) error {
	switch {
	case name == "":
		return errors.New("slot name is empty")
	case len(name) > maxSlotName:
		return fmt.Errorf("slot name is %d bytes long: at most %d", len(name), maxSlotName)
	case !utf8.ValidString(name):
		return errors.New("slot name is not valid UTF-8")
	case name == "." || name == "..":
		// HTTP clients resolve /slot/.. before sending it.
		return fmt.Errorf("slot name %q is not allowed", name)
	case name == "default":
		// The unnamed slot is shown as "default"; a named one would be
		// mistaken for it.
		return errors.New(`slot name "default" is reserved for the default slot: load without --slot`)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '/' || r == '\\' || r == '(' || r == ')' {
			return fmt.Errorf("slot name %q holds %q: use letters, digits and punctuation other than / \\ ( )", name, r)
		}
	}
	return nil
}
