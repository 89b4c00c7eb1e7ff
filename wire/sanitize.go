package wire

import "strings"

// sanitize makes s safe to put in an error a terminal will show: at most
// max bytes, control characters and invalid UTF-8 replaced by '?', so a
// hostile file cannot move the cursor or hide text.
func sanitize(s string, max int) string {
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
