package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

// errPickCancelled is returned when the user leaves the picker.
var errPickCancelled = errors.New("no profile picked")

// pickProfile runs the interactive picker when stdin is a terminal, and
// otherwise says which flags are missing.
func (c *cli) pickProfile() (string, error) {
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usageError{errors.New("no profile given: use --profile PROFILE, or --sso-session S --account ID --role NAME (on a terminal, load with no flags opens a picker)")}
	}
	names := agent.ProfileNames()
	if len(names) == 0 {
		return "", withHint(errors.New("no profiles found in the AWS config"), "add one with: aws configure sso (or set AWS_CONFIG_FILE)")
	}
	return pickInTerminal(f, c.stderr, names)
}

// pickInTerminal puts the terminal in raw mode and lets the user filter
// names by typing, move with the arrows (or Ctrl-P/Ctrl-N), pick with
// Enter and leave with Esc or Ctrl-C.
func pickInTerminal(tty *os.File, out io.Writer, names []string) (string, error) {
	old, err := term.MakeRaw(int(tty.Fd()))
	if err != nil {
		return "", fmt.Errorf("picker: %w", err)
	}
	defer term.Restore(int(tty.Fd()), old)
	p := &picker{names: names, out: out}
	p.render()
	defer p.clear()
	buf := make([]byte, 256)
	for {
		n, err := tty.Read(buf)
		if err != nil {
			return "", fmt.Errorf("picker: read terminal: %w", err)
		}
		if done, choice, err := p.keys(buf[:n]); done {
			return choice, err
		}
		p.render()
	}
}

// picker is the state of the profile picker; it draws on out with ANSI
// escapes, redrawing its own lines after each key.
type picker struct {
	names   []string
	filter  string
	cursor  int
	out     io.Writer
	drawn   int // lines drawn last time, to erase them
	matches []string
}

const pickerRows = 10

func (p *picker) match() []string {
	terms := strings.Fields(strings.ToLower(p.filter))
	var m []string
	for _, n := range p.names {
		ln := strings.ToLower(n)
		ok := true
		for _, t := range terms {
			if !strings.Contains(ln, t) {
				ok = false
				break
			}
		}
		if ok {
			m = append(m, n)
		}
	}
	return m
}

// keys handles one read's worth of input. It reports done with the choice
// (or an error) when the user picks or leaves.
func (p *picker) keys(b []byte) (done bool, choice string, err error) {
	for len(b) > 0 {
		switch {
		case b[0] == 0x1b && len(b) >= 3 && (b[1] == '[' || b[1] == 'O'):
			switch b[2] {
			case 'A':
				p.move(-1)
			case 'B':
				p.move(1)
			}
			b = b[3:]
			continue
		case b[0] == 0x1b || b[0] == 0x03: // Esc, Ctrl-C
			return true, "", errPickCancelled
		case b[0] == '\r' || b[0] == '\n':
			if len(p.matches) == 0 {
				b = b[1:]
				continue
			}
			return true, p.matches[p.cursor], nil
		case b[0] == 0x10: // Ctrl-P
			p.move(-1)
		case b[0] == 0x0e: // Ctrl-N
			p.move(1)
		case b[0] == 0x7f || b[0] == 0x08: // Backspace
			if p.filter != "" {
				_, size := utf8.DecodeLastRuneInString(p.filter)
				p.setFilter(p.filter[:len(p.filter)-size])
			}
		case b[0] == 0x15: // Ctrl-U
			p.setFilter("")
		default:
			r, size := utf8.DecodeRune(b)
			if r != utf8.RuneError && unicode.IsPrint(r) {
				p.setFilter(p.filter + string(r))
			}
			b = b[size:]
			continue
		}
		b = b[1:]
	}
	return false, "", nil
}

// setFilter changes the filter and the matches with it: keys typed in the
// same read as Enter (fast typing, a paste) must pick from what they
// selected, not from the list last drawn.
func (p *picker) setFilter(f string) {
	p.filter, p.cursor = f, 0
	p.matches = p.match()
}

func (p *picker) move(d int) {
	if n := len(p.matches); n > 0 {
		p.cursor = (p.cursor + d + n) % n
	}
}

func (p *picker) clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.out, "\r\x1b[%dA\x1b[J", p.drawn)
	} else {
		fmt.Fprint(p.out, "\r\x1b[J")
	}
}

func (p *picker) render() {
	p.matches = p.match()
	if p.cursor >= len(p.matches) {
		p.cursor = 0
	}
	var sb strings.Builder
	sb.WriteString("Pick a profile (type to filter, arrows to move, Enter to load, Esc to cancel)\r\n")
	start := 0
	if p.cursor >= pickerRows {
		start = p.cursor - pickerRows + 1
	}
	lines := 1
	for i := start; i < len(p.matches) && i < start+pickerRows; i++ {
		mark := "  "
		if i == p.cursor {
			mark = "> "
		}
		sb.WriteString(mark + p.matches[i] + "\r\n")
		lines++
	}
	fmt.Fprintf(&sb, "  (%d of %d)\r\n", len(p.matches), len(p.names))
	lines++
	sb.WriteString("filter: " + p.filter)
	p.clear()
	p.drawn = lines
	io.WriteString(p.out, sb.String())
}
