package wire

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// DefaultSlot is how a person names the default slot, whose name on the
// wire is "". A named slot may not take it, so the two are never confused.
const DefaultSlot = "default"

// maxSlotName bounds a slot name: it travels in URLs and log lines.
const maxSlotName = 64

// SlotName is how a person sees a slot: "default" for the default slot
// (""), the name itself otherwise.
func SlotName(slot string) string {
	if slot == "" {
		return DefaultSlot
	}
	return slot
}

// QuotedSlotName is SlotName for messages that quote names: "default" for
// the default slot, the Go-quoted name otherwise, so a name with spaces or
// odd characters shows where it ends.
func QuotedSlotName(slot string) string {
	if slot == "" {
		return DefaultSlot
	}
	return strconv.Quote(slot)
}

// ValidateSlotName checks the name of a named slot. Names are printable,
// at most 64 bytes, and hold no '/' or '\' (a slot URL is /slot/NAME) and
// no parentheses (the agent's "--slot" alone means "named after the
// profile"); "default", "." and ".." are reserved.
func ValidateSlotName(name string) error {
	if err := checkSlotName(name); err != nil {
		return fmt.Errorf("wire: %w", err)
	}
	return nil
}

func checkSlotName(name string) error {
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
	case name == DefaultSlot:
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

// SlotPath is the endpoint's path for slot: "/" for the default slot,
// "/slot/NAME" with NAME path-escaped otherwise.
func SlotPath(slot string) string {
	if slot == "" {
		return "/"
	}
	return "/slot/" + url.PathEscape(slot)
}
